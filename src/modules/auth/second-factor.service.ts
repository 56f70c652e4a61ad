// The sign-in flows of second factors and passkeys: finishing an MFA ticket (verifyMfa), a passkey as the first
// factor, and reauthenticate — proving the user again inside the current session, for step-up.
import type { EntityManager } from '@mikro-orm/postgresql';
import { passkeyMethods, type AuthMethod } from '../../common/assurance';
import type { Clock } from '../../common/clock';
import { normalizeEmail } from '../../common/email';
import { AccountDisabledError, BadUserInputError, InvalidCredentialsError, InvalidOtpError } from '../../common/errors';
import { failure, success, unwrap } from '../../common/outcome';
import type { ClientInfo, Principal } from '../../common/request-context';
import { AuditEventType, SignInMethod } from '../audit/audit-event-type';
import type { AuditService } from '../audit/audit.service';
import type { MfaTicketService } from '../mfa/mfa-tickets.service';
import { proofOf, type MfaService, type SecondFactorProof } from '../mfa/mfa.service';
import type { Ceremony, PasskeyService } from '../mfa/passkeys.service';
import { CeremonyPurpose } from '../mfa/webauthn-challenge.entity';
import { MfaFactorType } from '../mfa/mfa-factor-type';
import type { SessionService } from '../sessions/session.service';
import { User } from '../users/user.entity';
import type { AuthService } from './auth.service';
import type { AuthPayload } from './auth.types';
import type { SignInGate } from './sign-in-gate';

export interface SecondFactorDeps {
  readonly clock: Clock;
  readonly gate: SignInGate;
  readonly auth: AuthService;
  readonly mfa: MfaService;
  readonly tickets: MfaTicketService;
  readonly passkeys: PasskeyService;
  readonly sessions: SessionService;
  readonly audit: AuditService;
}

/** First-factor methods a session keeps when a second factor is proven in it again (reauthenticate). */
const FIRST_FACTORS: readonly string[] = ['pwd', 'email', 'fed', 'hwk'] satisfies AuthMethod[];

export class SecondFactorService {
  constructor(private readonly deps: SecondFactorDeps) {}

  /** Finishes a sign-in that answered MFA_REQUIRED: the ticket and one second factor → a session at level 2. */
  async verifyMfa(
    em: EntityManager,
    ticket: string,
    proof: SecondFactorProof,
    client: ClientInfo,
  ): Promise<AuthPayload> {
    const given = proofOf(proof);
    const outcome = await em.transactional(async (tx) => {
      const redeemed = await this.deps.tickets.redeem(tx, ticket, given, client);
      if (!redeemed.ok) return redeemed;
      const { user, amr, method, label } = redeemed.value;
      if (!user.active) return failure(new AccountDisabledError());
      const detail = `${method.toLowerCase()} and ${label}`;
      return success(await this.deps.gate.open(tx, user, method as SignInMethod, amr, detail, client));
    });
    return this.deps.gate.payload(unwrap(outcome));
  }

  /** Begins a passkey sign-in: discoverable, or narrowed to `email`'s passkeys (same answer shape when unknown). */
  async startPasskeySignIn(em: EntityManager, rawEmail: string | null | undefined): Promise<Ceremony> {
    let user: User | null = null;
    let decoyFor: string | undefined;
    if (rawEmail != null) {
      decoyFor = normalizeEmail(rawEmail);
      user = await em.findOne(User, { email: decoyFor, emailVerified: true });
    }
    const ceremony = await this.deps.passkeys.startAssertion(em, CeremonyPurpose.SIGN_IN, user, decoyFor);
    await em.flush();
    return ceremony;
  }

  /**
   * Finishes a passkey sign-in. With user verification the passkey is level 2 by itself; without, a user with MFA on
   * gets MFA_REQUIRED like any other first factor. A response that does not verify: INVALID_CREDENTIALS.
   */
  async finishPasskeySignIn(
    em: EntityManager,
    challengeId: string,
    response: unknown,
    client: ClientInfo,
  ): Promise<AuthPayload> {
    const assertion = await em.transactional((tx) =>
      this.deps.passkeys.finishAssertion(tx, CeremonyPurpose.SIGN_IN, response, { id: challengeId }),
    );
    if (assertion === null) {
      this.deps.audit.record(em, client, {
        type: AuditEventType.LOGIN_FAILED,
        method: SignInMethod.PASSKEY,
        detail: 'passkey response refused',
      });
      await em.flush();
      throw new InvalidCredentialsError('The passkey response was not accepted');
    }
    const { factor, userVerified } = assertion;
    return this.deps.auth.signInProven(
      em,
      factor.user,
      SignInMethod.PASSKEY,
      `passkey ${factor.id}`,
      client,
      passkeyMethods(userVerified),
    );
  }

  /** Begins a passkey reauthentication of the signed-in user; BAD_USER_INPUT when they have no passkey. */
  async startPasskeyReauthentication(em: EntityManager, principal: Principal): Promise<Ceremony> {
    const user = await em.findOneOrFail(User, principal.user.id);
    const kinds = await this.deps.mfa.kindsOf(em, user.id);
    if (!kinds.includes(MfaFactorType.PASSKEY)) throw new BadUserInputError('passkey', ['this account has no passkey']);
    const ceremony = await this.deps.passkeys.startAssertion(em, CeremonyPurpose.REAUTHENTICATE, user);
    await em.flush();
    return ceremony;
  }

  /**
   * Proves the signed-in user again inside the current session: its auth_time becomes now and its methods those
   * just proven — a password alone is level 1; a second factor counts with the session's first factor (level 2), as a
   * passkey with user verification does by itself. Returns a new access token; the refresh token stays as it is
   * (`refreshToken` null), and tokens it refreshes carry the new auth_time and level.
   */
  async reauthenticate(
    em: EntityManager,
    principal: Principal,
    args: SecondFactorProof & { password?: string | null },
    client: ClientInfo,
  ): Promise<AuthPayload> {
    const given = proofOf(args);
    const userId = principal.user.id;
    let methods: AuthMethod[];
    let label: string;
    if (typeof args.password === 'string') {
      await this.deps.auth.checkCurrentPassword(em, userId, args.password, 'password', client);
      methods = ['pwd'];
      label = 'password';
    } else {
      const outcome = await em.transactional(async (tx) => {
        await this.deps.mfa.assertBudget(tx, userId);
        const proven = await this.deps.mfa.prove(tx, userId, given, { purpose: CeremonyPurpose.REAUTHENTICATE });
        if (proven === null) {
          this.deps.audit.record(tx, client, {
            type: AuditEventType.MFA_CHALLENGE_FAILED,
            actorUserId: userId,
            subjectUserId: userId,
            detail: 'reauthenticate',
          });
          return failure(new InvalidOtpError('The second factor is wrong, expired or already used'));
        }
        return success(proven);
      });
      const proven = unwrap(outcome);
      const first = principal.claims.amr.filter(
        (m): m is AuthMethod => FIRST_FACTORS.includes(m) && !(proven.methods as string[]).includes(m),
      );
      // A passkey that verified the user is two factors by itself; otherwise the second factor counts with the
      // session's first — only when that was another kind of factor (a passkey twice is one factor).
      const alone = proven.methods.includes('user') || first.length === 0;
      methods = alone ? proven.methods : [...first, ...proven.methods, 'mfa'];
      label = proven.label;
    }
    const authTime = await this.deps.sessions.reassure(em, principal.sessionId, methods);
    this.deps.audit.record(em, client, {
      type: AuditEventType.STEP_UP,
      actorUserId: userId,
      subjectUserId: userId,
      detail: `${label}: ${methods.join(' ')}`,
    });
    await em.flush();
    return this.deps.gate.tokens({
      sessionId: principal.sessionId,
      user: principal.user,
      refreshToken: null,
      amr: methods,
      authTime,
    });
  }
}
