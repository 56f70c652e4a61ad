// A user's second factors: enrolling and confirming TOTP, adding passkeys, removing factors, recovery codes, an
// admin's reset, and checking a second factor when one is presented (verifyMfa, reauthenticate).
import { LockMode, type EntityManager } from '@mikro-orm/postgresql';
import type { KeyObject } from 'node:crypto';
import { toString as qrSvg } from 'qrcode';
import { passkeyMethods, type AuthMethod } from '../../common/assurance';
import type { Clock } from '../../common/clock';
import { BadUserInputError, InvalidOtpError, RateLimitedError } from '../../common/errors';
import type { ClientInfo } from '../../common/request-context';
import type { Sealer } from '../../common/sealing';
import { AuditEventType } from '../audit/audit-event-type';
import type { AuditService } from '../audit/audit.service';
import type { OutboxService } from '../mail/outbox.service';
import { mfaFactorAddedEmail, mfaFactorRemovedEmail } from '../mail/templates';
import type { SessionService } from '../sessions/session.service';
import { User } from '../users/user.entity';
import { MfaFactor } from './mfa-factor.entity';
import { MfaFactorType, type SecondFactorKind } from './mfa-factor-type';
import type { PasskeyService } from './passkeys.service';
import { hashRecoveryCode, newRecoveryCodes, normalizeRecoveryCode } from './recovery-codes';
import { RecoveryCode } from './recovery-code.entity';
import { acceptTotp, newTotpSecret, totpUri } from './totp';
import { CeremonyPurpose } from './webauthn-challenge.entity';

export interface MfaDeps {
  readonly clock: Clock;
  readonly sealer: Sealer;
  readonly recoveryKey: KeyObject;
  readonly audit: AuditService;
  readonly outbox: OutboxService;
  readonly sessions: SessionService;
  readonly passkeys: PasskeyService;
  /** The TOTP issuer. */
  readonly appName: string;
}

/** One second factor as presented: exactly one of them (checked by `proofOf`). */
export interface SecondFactorProof {
  readonly code?: string | null;
  readonly recoveryCode?: string | null;
  readonly passkey?: unknown;
}

/** The one proof among the arguments; BAD_USER_INPUT unless exactly one is given. */
export function proofOf(args: SecondFactorProof & { password?: string | null }): SecondFactorProof {
  const given = (['code', 'recoveryCode', 'passkey', 'password'] as const).filter((k) => args[k] != null);
  if (given.length !== 1) {
    const names = 'password' in args ? 'password, code, recoveryCode or passkey' : 'code, recoveryCode or passkey';
    throw new BadUserInputError(given.length === 0 ? 'proof' : given.join(', '), [`give exactly one of ${names}`]);
  }
  return args;
}

/** What a proven second factor adds to the session's methods, and a label for the audit trail. */
export interface Proven {
  readonly methods: AuthMethod[];
  readonly label: string;
}

export interface TotpEnrollment {
  readonly factorId: string;
  readonly otpauthUri: string;
  readonly secret: string;
  readonly qrCodeSvg: string;
}

/** Wrong second factors a user may present in an hour (every ticket and reauthenticate together). */
export const MFA_FAILURES_PER_HOUR = 10;
/** Factors one account may hold, unconfirmed ones included. */
export const MAX_FACTORS = 20;

export class MfaService {
  constructor(private readonly deps: MfaDeps) {}

  async isEnabled(em: EntityManager, userId: string): Promise<boolean> {
    return (await em.count(MfaFactor, { user: userId, confirmedAt: { $ne: null } })) > 0;
  }

  /** The user's confirmed factors, oldest first. */
  factorsOf(em: EntityManager, userId: string): Promise<MfaFactor[]> {
    return em.find(MfaFactor, { user: userId, confirmedAt: { $ne: null } }, { orderBy: { createdAt: 'asc' } });
  }

  recoveryCodesLeft(em: EntityManager, userId: string): Promise<number> {
    return em.count(RecoveryCode, { user: userId, usedAt: null });
  }

  /** The kinds MFA_REQUIRED lists: each factor type the user has, and RECOVERY_CODE while codes are left. */
  async kindsOf(em: EntityManager, userId: string): Promise<SecondFactorKind[]> {
    const types = new Set((await this.factorsOf(em, userId)).map((f) => f.type));
    const kinds: SecondFactorKind[] = [MfaFactorType.TOTP, MfaFactorType.PASSKEY].filter((t) => types.has(t));
    if ((await this.recoveryCodesLeft(em, userId)) > 0) kinds.push('RECOVERY_CODE');
    return kinds;
  }

  /** Begins a TOTP factor; an earlier unconfirmed one of the user is dropped (an abandoned enrolment). */
  async enrollTotp(em: EntityManager, userId: string, name: string | null): Promise<TotpEnrollment> {
    return em.transactional(async (tx) => {
      const user = await this.lockUser(tx, userId);
      await tx.nativeDelete(MfaFactor, { user: userId, type: MfaFactorType.TOTP, confirmedAt: null });
      await this.assertRoom(tx, userId);
      const secret = newTotpSecret();
      const factor = tx.create(MfaFactor, {
        user,
        type: MfaFactorType.TOTP,
        name,
        secret: this.deps.sealer.seal(secret),
        createdAt: this.deps.clock.now(),
      });
      const otpauthUri = totpUri(secret, this.deps.appName, user.email);
      return { factorId: factor.id, otpauthUri, secret, qrCodeSvg: await qrSvg(otpauthUri, { type: 'svg' }) };
    });
  }

  /** Confirms a TOTP factor with a current code; the first confirmed factor turns MFA on (see factorAdded). */
  async confirmTotp(
    em: EntityManager,
    userId: string,
    sessionId: string,
    factorId: string,
    code: string,
    client: ClientInfo,
  ): Promise<string[]> {
    return em.transactional(async (tx) => {
      const user = await this.lockUser(tx, userId);
      const factor = await tx.findOne(MfaFactor, { id: factorId, user: userId, type: MfaFactorType.TOTP });
      if (factor === null || factor.confirmedAt !== null) {
        throw new BadUserInputError('factorId', ['no TOTP enrolment of yours waits for confirmation under this id']);
      }
      const step = acceptTotp(
        this.deps.sealer.open(factor.secret!),
        code.trim(),
        this.deps.clock.now().getTime(),
        null,
      );
      if (step === null) throw new InvalidOtpError('The code is wrong: use the current code of the authenticator app');
      factor.confirmedAt = this.deps.clock.now();
      factor.lastStep = step;
      return this.factorAdded(tx, user, factor, sessionId, client);
    });
  }

  /** Adds the passkey a REGISTER ceremony created; BAD_USER_INPUT when the response does not answer it. */
  async addPasskey(
    em: EntityManager,
    userId: string,
    sessionId: string,
    challengeId: string,
    response: unknown,
    name: string | null,
    client: ClientInfo,
  ): Promise<string[]> {
    return em.transactional(async (tx) => {
      const user = await this.lockUser(tx, userId);
      await this.assertRoom(tx, userId);
      const factor = await this.deps.passkeys.finishRegistration(tx, user, challengeId, response, name);
      if (factor === null) {
        throw new BadUserInputError('response', [
          'not a valid answer to this registration (wrong, expired or used challenge, origin or RP ID)',
        ]);
      }
      return this.factorAdded(tx, user, factor, sessionId, client);
    });
  }

  /** Removes one of the user's factors; removing the last confirmed one turns MFA off. False when not theirs. */
  async removeFactor(em: EntityManager, userId: string, factorId: string, client: ClientInfo): Promise<boolean> {
    return em.transactional(async (tx) => {
      const user = await this.lockUser(tx, userId);
      const factor = await tx.findOne(MfaFactor, { id: factorId, user: userId });
      if (factor === null) return false;
      tx.remove(factor);
      await tx.flush();
      const mfaOff = !(await this.isEnabled(tx, userId));
      if (mfaOff) await tx.nativeDelete(RecoveryCode, { user: userId });
      if (factor.confirmedAt !== null) this.factorRemoved(tx, user, [factor], mfaOff, user.id, client);
      return true;
    });
  }

  /** Replaces every recovery code; BAD_USER_INPUT while MFA is off (they are only a way past a second factor). */
  async regenerateRecoveryCodes(em: EntityManager, userId: string, client: ClientInfo): Promise<string[]> {
    return em.transactional(async (tx) => {
      await this.lockUser(tx, userId);
      if (!(await this.isEnabled(tx, userId))) {
        throw new BadUserInputError('mfa', ['recovery codes exist only while a second factor is set up']);
      }
      this.deps.audit.record(tx, client, {
        type: AuditEventType.RECOVERY_CODES_REGENERATED,
        actorUserId: userId,
        subjectUserId: userId,
      });
      return this.replaceRecoveryCodes(tx, userId);
    });
  }

  /** An admin's reset: every factor and recovery code of `userId` removed. */
  async reset(em: EntityManager, userId: string, actorUserId: string, client: ClientInfo): Promise<User> {
    return em.transactional(async (tx) => {
      const user = await this.lockUser(tx, userId);
      const factors = await this.factorsOf(tx, userId);
      await tx.nativeDelete(MfaFactor, { user: userId });
      await tx.nativeDelete(RecoveryCode, { user: userId });
      if (factors.length > 0) this.factorRemoved(tx, user, factors, true, actorUserId, client, 'reset by an admin');
      return user;
    });
  }

  /**
   * Checks a second factor of `userId` inside `tx`: a TOTP code (its time step then refused for that factor), a
   * recovery code (spent), or a passkey assertion for the ceremony `ceremony` names. Null when it is wrong.
   */
  async prove(
    tx: EntityManager,
    userId: string,
    proof: SecondFactorProof,
    ceremony: { purpose: CeremonyPurpose; id?: string },
  ): Promise<Proven | null> {
    if (typeof proof.code === 'string') {
      const code = proof.code.trim();
      const factors = await tx.find(
        MfaFactor,
        { user: userId, type: MfaFactorType.TOTP, confirmedAt: { $ne: null } },
        { lockMode: LockMode.PESSIMISTIC_WRITE, orderBy: { createdAt: 'asc' } },
      );
      const now = this.deps.clock.now();
      for (const factor of factors) {
        const step = acceptTotp(this.deps.sealer.open(factor.secret!), code, now.getTime(), factor.lastStep);
        if (step === null) continue;
        factor.lastStep = step;
        factor.lastUsedAt = now;
        return { methods: ['otp'], label: `TOTP factor ${factor.id}` };
      }
      return null;
    }
    if (typeof proof.recoveryCode === 'string') {
      const normalized = normalizeRecoveryCode(proof.recoveryCode);
      if (normalized === null) return null;
      const spent = await tx.nativeUpdate(
        RecoveryCode,
        { user: userId, codeHash: hashRecoveryCode(this.deps.recoveryKey, normalized), usedAt: null },
        { usedAt: this.deps.clock.now() },
      );
      return spent === 1 ? { methods: ['otp'], label: 'recovery code' } : null;
    }
    const assertion = await this.deps.passkeys.finishAssertion(tx, ceremony.purpose, proof.passkey, {
      id: ceremony.id,
      userId,
    });
    if (assertion === null || assertion.factor.user.id !== userId) return null;
    return {
      methods: passkeyMethods(assertion.userVerified),
      label: `passkey ${assertion.factor.id}`,
    };
  }

  /** RATE_LIMITED once `userId` presented MFA_FAILURES_PER_HOUR wrong second factors within the hour. */
  async assertBudget(em: EntityManager, userId: string): Promise<void> {
    const hourAgo = this.deps.clock.now().getTime() - 3_600_000;
    const { count, oldest } = await this.deps.audit.countSince(
      em,
      userId,
      AuditEventType.MFA_CHALLENGE_FAILED,
      new Date(hourAgo),
    );
    if (count >= MFA_FAILURES_PER_HOUR) throw new RateLimitedError(((oldest ?? hourAgo) - hourAgo) / 1000);
  }

  /**
   * A factor is confirmed: audited, noticed by email, and when it is the user's first, MFA turns on — 10 recovery
   * codes (returned, shown once) and every other session of the user ended.
   */
  private async factorAdded(
    tx: EntityManager,
    user: User,
    factor: MfaFactor,
    sessionId: string,
    client: ClientInfo,
  ): Promise<string[]> {
    const others = await tx.count(MfaFactor, { user: user.id, confirmedAt: { $ne: null }, id: { $ne: factor.id } });
    this.deps.audit.record(tx, client, {
      type: AuditEventType.MFA_FACTOR_ADDED,
      actorUserId: user.id,
      subjectUserId: user.id,
      detail: `${factor.type} factor ${factor.id}`,
      ...(others === 0 && { mfaEnabled: true }), // the first factor turns MFA on
    });
    this.deps.outbox.notify(tx, user, mfaFactorAddedEmail(describe(factor)));
    if (others > 0) return [];
    await this.deps.sessions.endAllOfUser(tx, user.id, 'mfa_enabled', sessionId);
    return this.replaceRecoveryCodes(tx, user.id);
  }

  private factorRemoved(
    tx: EntityManager,
    user: User,
    factors: readonly MfaFactor[],
    mfaOff: boolean,
    actorUserId: string,
    client: ClientInfo,
    why?: string,
  ): void {
    for (const [i, factor] of factors.entries()) {
      this.deps.audit.record(tx, client, {
        type: AuditEventType.MFA_FACTOR_REMOVED,
        actorUserId,
        subjectUserId: user.id,
        detail: `${factor.type} factor ${factor.id}${why ? `: ${why}` : ''}`,
        ...(mfaOff && i === factors.length - 1 && { mfaEnabled: false }), // the last removal turns MFA off
      });
    }
    const what = factors.length === 1 ? describe(factors[0]!) : 'Every second factor';
    this.deps.outbox.notify(tx, user, mfaFactorRemovedEmail(what, mfaOff));
  }

  private async replaceRecoveryCodes(tx: EntityManager, userId: string): Promise<string[]> {
    await tx.nativeDelete(RecoveryCode, { user: userId });
    const codes = newRecoveryCodes();
    const now = this.deps.clock.now();
    for (const code of codes) {
      tx.create(RecoveryCode, {
        user: tx.getReference(User, userId),
        codeHash: hashRecoveryCode(this.deps.recoveryKey, normalizeRecoveryCode(code)!),
        createdAt: now,
      });
    }
    return codes;
  }

  private async assertRoom(tx: EntityManager, userId: string): Promise<void> {
    if ((await tx.count(MfaFactor, { user: userId })) >= MAX_FACTORS) {
      throw new BadUserInputError('factors', [`an account holds at most ${MAX_FACTORS} second factors`]);
    }
  }

  /** Serialises changes to one user's factors (two first factors at once would both turn MFA on). */
  private lockUser(tx: EntityManager, userId: string): Promise<User> {
    return tx.findOneOrFail(User, userId, { lockMode: LockMode.PESSIMISTIC_WRITE });
  }
}

function describe(factor: MfaFactor): string {
  const kind = factor.type === MfaFactorType.TOTP ? 'An authenticator app' : 'A passkey';
  return factor.name ? `${kind} (${factor.name})` : kind;
}
