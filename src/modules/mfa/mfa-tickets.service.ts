// MFA tickets: a sign-in whose first factor was right for a user with MFA on waits here for the second factor.
// The ticket is single use, lives 5 minutes and allows 5 wrong tries; the user's hourly budget (mfa.service.ts)
// counts those of every ticket together.
import { LockMode, type EntityManager } from '@mikro-orm/postgresql';
import { addSeconds, type Clock } from '../../common/clock';
import { randomToken, sha256 } from '../../common/crypto';
import { InvalidOtpError, MfaRequiredError, RateLimitedError, UnauthenticatedError } from '../../common/errors';
import { failure, success, type Outcome } from '../../common/outcome';
import type { ClientInfo } from '../../common/request-context';
import { AuditEventType } from '../audit/audit-event-type';
import type { AuditService } from '../audit/audit.service';
import type { User } from '../users/user.entity';
import { MfaFactorType } from './mfa-factor-type';
import { MfaTicket } from './mfa-ticket.entity';
import type { MfaService, SecondFactorProof } from './mfa.service';
import type { PasskeyService } from './passkeys.service';
import { CeremonyPurpose } from './webauthn-challenge.entity';

export const TICKET_TTL = 300;
export const TICKET_MAX_ATTEMPTS = 5;

/** A ticket redeemed: whose, and every method of the sign-in (first factor, second, `mfa`). */
export interface Redeemed {
  readonly user: User;
  readonly amr: string[];
  readonly method: string;
  readonly label: string;
}

export class MfaTicketService {
  constructor(
    private readonly clock: Clock,
    private readonly mfa: MfaService,
    private readonly passkeys: PasskeyService,
    private readonly audit: AuditService,
  ) {}

  /**
   * The MFA_REQUIRED error for `user`, whose first factor (`amr`, by `method`) was right: a new ticket, and a passkey
   * challenge when the user has a passkey — unless the first factor was a passkey itself (one device is not two
   * factors). Created in `tx`, which must commit before the error is thrown.
   */
  async issue(tx: EntityManager, user: User, method: string, amr: readonly string[]): Promise<MfaRequiredError> {
    const ticket = randomToken(32);
    const now = this.clock.now();
    let kinds = await this.mfa.kindsOf(tx, user.id);
    if (amr.includes('hwk')) kinds = kinds.filter((k) => k !== MfaFactorType.PASSKEY);
    const ceremony = kinds.includes(MfaFactorType.PASSKEY)
      ? await this.passkeys.startAssertion(tx, CeremonyPurpose.SECOND_FACTOR, user)
      : null;
    tx.create(MfaTicket, {
      ticketHash: sha256(ticket),
      user,
      amr: [...amr],
      method,
      challengeId: ceremony?.challengeId ?? null,
      createdAt: now,
      expiresAt: addSeconds(now, TICKET_TTL),
    });
    return new MfaRequiredError({
      mfaTicket: ticket,
      factors: kinds,
      ...(ceremony !== null ? { passkeyChallenge: ceremony } : {}),
    });
  }

  /**
   * Checks `proof` against the ticket inside `tx` (the ticket row locked, so two tries at once run one after the
   * other and at most one succeeds). A failure is recorded in `tx`, which the caller commits before throwing it.
   */
  async redeem(
    tx: EntityManager,
    ticket: string,
    proof: SecondFactorProof,
    client: ClientInfo,
  ): Promise<Outcome<Redeemed>> {
    const row = await tx.findOne(
      MfaTicket,
      { ticketHash: sha256(ticket) },
      { lockMode: LockMode.PESSIMISTIC_WRITE, populate: ['user'] },
    );
    const now = this.clock.now();
    if (row === null || row.usedAt !== null || row.expiresAt <= now) {
      return failure(new UnauthenticatedError('The MFA ticket is wrong, expired or already used: sign in again'));
    }
    if (row.attempts >= TICKET_MAX_ATTEMPTS) {
      return failure(new RateLimitedError((row.expiresAt.getTime() - now.getTime()) / 1000));
    }
    const user = row.user;
    try {
      await this.mfa.assertBudget(tx, user.id);
    } catch (err) {
      return failure(err as Error);
    }
    // A passkey answers only the challenge issued with this ticket (none when the first factor was a passkey).
    const proven =
      proof.passkey != null && row.challengeId === null
        ? null
        : await this.mfa.prove(tx, user.id, proof, {
            purpose: CeremonyPurpose.SECOND_FACTOR,
            id: row.challengeId ?? undefined,
          });
    if (proven === null) {
      row.attempts += 1;
      this.audit.record(tx, client, {
        type: AuditEventType.MFA_CHALLENGE_FAILED,
        actorUserId: user.id,
        subjectUserId: user.id,
        email: user.email,
        detail: `attempt ${row.attempts} of ${TICKET_MAX_ATTEMPTS}`,
      });
      return failure(new InvalidOtpError('The second factor is wrong, expired or already used'));
    }
    row.usedAt = now;
    this.audit.record(tx, client, {
      type: AuditEventType.MFA_CHALLENGE_PASSED,
      actorUserId: user.id,
      subjectUserId: user.id,
      email: user.email,
      detail: proven.label,
    });
    const amr = [...new Set([...row.amr, ...proven.methods, 'mfa'])];
    return success({ user, amr, method: row.method, label: proven.label });
  }
}
