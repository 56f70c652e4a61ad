// The sign-up and sign-in flows: register, login, one-time codes, password reset and change, refresh, logout.
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Clock } from '../../common/clock';
import {
  AccountDisabledError,
  BadUserInputError,
  InvalidCredentialsError,
  InvalidOtpError,
  UnauthenticatedError,
} from '../../common/errors';
import { networkKey } from '../../common/ip';
import { failure, success, unwrap, type Outcome } from '../../common/outcome';
import { Role } from '../../common/roles';
import { AuditEventType, FailureReason, SignInMethod } from '../audit/audit-event-type';
import type { AuditService } from '../audit/audit.service';
import type { OutboxService } from '../mail/outbox.service';
import { alreadyRegisteredEmail, codeEmail, passwordChangedEmail, passwordResetEmail } from '../mail/templates';
import { User } from '../users/user.entity';
import { normalizeFullName } from '../users/user-input';
import type { LockoutService } from './lockout.service';
import type { AuthPayload, CodeSent, RegisterInput } from './auth.types';
import type { OtpCode } from '../otp/otp-code.entity';
import type { OtpService } from '../otp/otp.service';
import { OtpPurpose } from '../otp/otp-purpose';
import { assertPasswordLength, assertPasswordPolicy } from '../passwords/password-policy';
import type { PasswordService } from '../passwords/password.service';
import type { SessionService } from '../sessions/session.service';
import type { ClientInfo, Principal } from '../../common/request-context';
import { normalizeEmail } from '../../common/email';
import { FIRST_FACTOR_METHODS, type Opened, type SignInGate } from './sign-in-gate';
import { forgetDevices } from '../devices/known-devices';
import { forgetNetworks } from '../otp/known-networks';

export interface AuthDeps {
  readonly clock: Clock;
  readonly passwords: PasswordService;
  readonly otp: OtpService;
  readonly sessions: SessionService;
  /** Where every sign-in becomes a session or an MFA ticket. */
  readonly gate: SignInGate;
  readonly outbox: OutboxService;
  readonly audit: AuditService;
  readonly lockout: LockoutService;
  /** PASSWORD_MIN_SCORE: the strength score (0–4) a new password needs. */
  readonly passwordMinScore: number;
  /**
   * An unverified account's address was just proven by a code: drop what signed in to it before (provider
   * identities that did not vouch for the address; identities/).
   */
  readonly onEmailProven?: (tx: EntityManager, userId: string) => Promise<void>;
}

export class AuthService {
  constructor(private readonly deps: AuthDeps) {}

  /**
   * Creates or refreshes a pending account and emails a VERIFY_EMAIL code; same answer for a taken email.
   * The pending password is kept on that code, not the account: the code sets it when it verifies the email.
   */
  async register(em: EntityManager, input: RegisterInput, client: ClientInfo): Promise<CodeSent> {
    const email = normalizeEmail(input.email);
    const network = networkKey(client.ip);
    const fullName = normalizeFullName(input.fullName);
    assertPasswordPolicy(input.password, 'password', { email, fullName, minScore: this.deps.passwordMinScore });
    // Hashed on every path, so a taken email answers as slowly as a new one.
    const passwordHash = await this.deps.passwords.hash(input.password);
    const sent = await em.transactional(async (tx) => {
      const issued = await this.deps.otp.issue(tx, email, OtpPurpose.VERIFY_EMAIL, network, async () => {
        const now = this.deps.clock.now();
        const user = await tx.findOne(User, { email });
        if (user?.emailVerified) {
          this.deps.outbox.enqueue(tx, email, alreadyRegisteredEmail());
          this.deps.audit.record(tx, client, {
            type: AuditEventType.REGISTER,
            subjectUserId: user.id,
            email,
            detail: 'already verified: notice sent',
          });
          return null; // a placeholder code keeps the resend interval; it is never sent
        }
        if (user) {
          // While another registration's code is live (from any network, this one's too), this code verifies the
          // email but sets no password: nobody can put their password behind the code the inbox's owner enters.
          const pending = await this.deps.otp.hasPendingPassword(tx, email);
          if (fullName !== null) user.fullName = fullName;
          user.updatedAt = now;
          const detail = pending ? 'pending account renewed: code sets no password' : 'pending account renewed';
          this.deps.audit.record(tx, client, { type: AuditEventType.REGISTER, subjectUserId: user.id, email, detail });
          return { userId: user.id, passwordHash: pending ? null : passwordHash };
        }
        const created = tx.create(User, {
          email,
          passwordHash: null,
          fullName,
          emailVerified: false,
          active: true,
          roles: [Role.USER],
          createdAt: now,
          updatedAt: now,
        });
        this.deps.audit.record(tx, client, {
          type: AuditEventType.REGISTER,
          subjectUserId: created.id,
          email,
          detail: 'created',
          accountCreated: true,
        });
        return { userId: created.id, passwordHash };
      });
      if (issued.userId !== null) {
        this.deps.outbox.enqueue(tx, email, codeEmail(OtpPurpose.VERIFY_EMAIL, issued.code, issued.expiresIn));
      }
      return issued;
    });
    return { expiresIn: sent.expiresIn, retryAfter: sent.retryAfter };
  }

  /** Emails a code for `purpose` to the account of `email`; for an unknown email nothing is sent. */
  async requestOtp(em: EntityManager, rawEmail: string, purpose: OtpPurpose, client: ClientInfo): Promise<CodeSent> {
    refuseChangeEmail(purpose);
    const email = normalizeEmail(rawEmail);
    const network = networkKey(client.ip);
    const sent = await em.transactional(async (tx) => {
      const issued = await this.deps.otp.issue(tx, email, purpose, network, async () => {
        const user = await tx.findOne(User, { email }, { fields: ['id'] });
        if (user === null) return null;
        // A VERIFY_EMAIL resend continues this network's registration: it carries that code's password.
        const passwordHash =
          purpose === OtpPurpose.VERIFY_EMAIL ? await this.deps.otp.pendingPasswordOf(tx, email, network) : null;
        return { userId: user.id, passwordHash };
      });
      if (issued.userId !== null) {
        this.deps.outbox.enqueue(tx, email, codeEmail(purpose, issued.code, issued.expiresIn));
      }
      this.deps.audit.record(tx, client, {
        type: AuditEventType.OTP_REQUESTED,
        subjectUserId: issued.userId,
        email,
        detail: purpose,
      });
      return issued;
    });
    return { expiresIn: sent.expiresIn, retryAfter: sent.retryAfter };
  }

  async login(em: EntityManager, rawEmail: string, password: string, client: ClientInfo): Promise<AuthPayload> {
    const email = normalizeEmail(rawEmail);
    assertPasswordLength(password, 'password');
    await this.deps.lockout.check(em, email);
    const user = await em.findOne(User, { email });
    // One bcrypt comparison on every path (a dummy hash when there is no account) keeps timing equal. An
    // unverified account has no password yet (it waits on its registration's code) and answers like an unknown
    // email, so register-then-login cannot tell a new email from a taken one.
    const matches = await this.deps.passwords.verify(password, user?.emailVerified ? user.passwordHash : null);
    const refusal =
      user === null || !user.emailVerified || !matches
        ? {
            error: new InvalidCredentialsError(),
            reason:
              user === null
                ? FailureReason.UNKNOWN_EMAIL
                : !user.emailVerified
                  ? FailureReason.EMAIL_NOT_VERIFIED
                  : FailureReason.WRONG_PASSWORD,
          }
        : !user.active
          ? { error: new AccountDisabledError(), reason: FailureReason.ACCOUNT_DISABLED }
          : null;
    if (refusal !== null) {
      this.deps.audit.record(em, client, {
        type: AuditEventType.LOGIN_FAILED,
        subjectUserId: user?.id,
        email,
        method: SignInMethod.PASSWORD,
        reason: refusal.reason,
      });
      await em.flush();
      throw refusal.error;
    }
    const opened = await em.transactional((tx) => this.open(tx, user!, SignInMethod.PASSWORD, 'password', client));
    return this.deps.gate.payload(opened);
  }

  /** Consumes a LOGIN or VERIFY_EMAIL code and signs the user in. */
  async verifyOtp(
    em: EntityManager,
    rawEmail: string,
    code: string,
    purpose: OtpPurpose,
    client: ClientInfo,
  ): Promise<AuthPayload> {
    if (purpose === OtpPurpose.RESET_PASSWORD) {
      throw new BadUserInputError('purpose', ['RESET_PASSWORD codes are used with resetPassword']);
    }
    refuseChangeEmail(purpose);
    const email = normalizeEmail(rawEmail);
    const network = networkKey(client.ip);
    const outcome = await em.transactional(async (tx) => {
      const consumed = await this.consumeCode(tx, email, purpose, network, code, client);
      if (!consumed.ok) return consumed;
      const { user, otp } = consumed.value;
      if (!user.emailVerified) {
        // A VERIFY_EMAIL code sets the password of its own registration (none when it carries none); a LOGIN
        // code proves the email but not who chose any password, so it sets none.
        user.passwordHash = purpose === OtpPurpose.VERIFY_EMAIL ? otp.passwordHash : null;
        await this.proveEmail(tx, user);
      }
      return success(await this.open(tx, user, SignInMethod.CODE, `code (${purpose})`, client));
    });
    return this.deps.gate.payload(unwrap(outcome));
  }

  /** Consumes a RESET_PASSWORD code, sets the password, verifies the email and ends every session. */
  async resetPassword(
    em: EntityManager,
    rawEmail: string,
    code: string,
    newPassword: string,
    client: ClientInfo,
  ): Promise<boolean> {
    const email = normalizeEmail(rawEmail);
    // The name is not read before the code is spent: the email is the context here.
    assertPasswordPolicy(newPassword, 'newPassword', { email, minScore: this.deps.passwordMinScore });
    const passwordHash = await this.deps.passwords.hash(newPassword);
    const outcome = await em.transactional(async (tx) => {
      const consumed = await this.consumeCode(
        tx,
        email,
        OtpPurpose.RESET_PASSWORD,
        networkKey(client.ip),
        code,
        client,
      );
      if (!consumed.ok) return consumed;
      const { user } = consumed.value;
      if (!user.emailVerified) await this.proveEmail(tx, user);
      user.passwordHash = passwordHash;
      user.updatedAt = this.deps.clock.now();
      await this.deps.sessions.endAllOfUser(tx, user.id, 'password_reset');
      this.deps.outbox.notify(tx, user, passwordResetEmail());
      this.deps.audit.record(tx, client, {
        type: AuditEventType.PASSWORD_RESET,
        actorUserId: user.id,
        subjectUserId: user.id,
        email,
      });
      return success(true);
    });
    return unwrap(outcome);
  }

  async changePassword(
    em: EntityManager,
    principal: Principal,
    currentPassword: string,
    newPassword: string,
    client: ClientInfo,
  ): Promise<boolean> {
    const user = await this.checkCurrentPassword(em, principal.user.id, currentPassword, 'currentPassword', client);
    assertPasswordPolicy(newPassword, 'newPassword', {
      email: user.email,
      fullName: user.fullName,
      minScore: this.deps.passwordMinScore,
    });
    user.passwordHash = await this.deps.passwords.hash(newPassword);
    user.updatedAt = this.deps.clock.now();
    await em.transactional(async (tx) => {
      tx.persist(user);
      await this.deps.sessions.endAllOfUser(tx, user.id, 'password_changed', principal.sessionId);
      this.deps.outbox.notify(tx, user, passwordChangedEmail());
      this.deps.audit.record(tx, client, {
        type: AuditEventType.PASSWORD_CHANGED,
        actorUserId: user.id,
        subjectUserId: user.id,
      });
    });
    return true;
  }

  /**
   * The signed-in user's password again (changePassword, reauthenticate), with the login protections: the account's
   * lockout counts these guesses too, and each wrong one is audited. INVALID_CREDENTIALS when it is wrong.
   */
  async checkCurrentPassword(
    em: EntityManager,
    userId: string,
    password: string,
    field: string,
    client: ClientInfo,
  ): Promise<User> {
    assertPasswordLength(password, field);
    const user = await em.findOne(User, userId);
    if (user === null) throw new UnauthenticatedError();
    await this.deps.lockout.check(em, user.email);
    if (await this.deps.passwords.verify(password, user.passwordHash)) return user;
    this.deps.audit.record(em, client, {
      type: AuditEventType.LOGIN_FAILED,
      actorUserId: user.id,
      subjectUserId: user.id,
      email: user.email,
      method: SignInMethod.PASSWORD,
      reason: FailureReason.WRONG_CURRENT_PASSWORD,
    });
    await em.flush();
    throw new InvalidCredentialsError();
  }

  async refresh(em: EntityManager, refreshToken: string | null | undefined, client: ClientInfo): Promise<AuthPayload> {
    if (!refreshToken) throw new UnauthenticatedError('A refresh token is required');
    return this.deps.gate.tokens(await this.deps.sessions.rotate(em, refreshToken, client));
  }

  /** Ends the session of `refreshToken`, or else of the access token. */
  async logout(
    em: EntityManager,
    refreshToken: string | null | undefined,
    principal: () => Promise<Principal>,
    client: ClientInfo,
  ): Promise<boolean> {
    const session = refreshToken
      ? await this.deps.sessions.findByRefreshToken(em, refreshToken)
      : await this.deps.sessions.findLive(em, (await principal()).sessionId);
    if (session === null) throw new UnauthenticatedError('Refresh token is not valid');
    this.deps.sessions.end(em, session, this.deps.clock.now(), 'logout');
    const userId = session.user.id;
    this.deps.audit.record(em, client, {
      type: AuditEventType.LOGOUT,
      actorUserId: userId,
      subjectUserId: userId,
      detail: `session ${session.id}`,
      sessionId: session.id,
    });
    await em.flush();
    return true;
  }

  async logoutAll(em: EntityManager, principal: Principal, client: ClientInfo): Promise<boolean> {
    const userId = principal.user.id;
    await this.deps.sessions.endAllOfUser(em, userId, 'logout_all');
    this.deps.audit.record(em, client, { type: AuditEventType.LOGOUT_ALL, actorUserId: userId, subjectUserId: userId });
    await em.flush();
    return true;
  }

  /**
   * Consumes a code inside `tx` and returns its live account; records the code as accepted or rejected.
   * A deactivated account's right code is consumed and answered ACCOUNT_DISABLED.
   */
  private async consumeCode(
    tx: EntityManager,
    email: string,
    purpose: OtpPurpose,
    network: string,
    code: string,
    client: ClientInfo,
  ): Promise<Outcome<{ user: User; otp: OtpCode }>> {
    const consumed: Outcome<OtpCode> = await this.deps.otp.consume(tx, email, purpose, network, code);
    if (!consumed.ok) {
      if (!(consumed.error instanceof BadUserInputError)) {
        const owner = await tx.findOne(User, { email }, { fields: ['id'] });
        this.deps.audit.record(tx, client, {
          type: AuditEventType.OTP_REJECTED,
          subjectUserId: owner?.id,
          email,
          detail: purpose,
        });
      }
      return consumed;
    }
    const user = consumed.value.userId === null ? null : await tx.findOne(User, consumed.value.userId);
    // A code opens only the account that still has the address it was mailed to (not one that moved away since).
    if (user === null || user.email !== email) return failure(new InvalidOtpError());
    this.deps.audit.record(tx, client, {
      type: AuditEventType.OTP_ACCEPTED,
      actorUserId: user.id,
      subjectUserId: user.id,
      email,
      detail: purpose,
    });
    if (!user.active) return failure(new AccountDisabledError());
    return success({ user, otp: consumed.value });
  }

  /**
   * The first time a code proves an unverified account's address: other registrations' codes end, and so does every
   * way in opened before — sessions, and provider identities that did not vouch for the address — so nobody who
   * claimed the address before its owner proved it keeps a way into the account. The networks and devices seen
   * before are forgotten too: they may be that stranger's, and must not count as the owner's known ones.
   */
  private async proveEmail(tx: EntityManager, user: User): Promise<void> {
    await this.deps.otp.retireAll(tx, user.email, OtpPurpose.VERIFY_EMAIL);
    await this.deps.onEmailProven?.(tx, user.id);
    await forgetNetworks(tx, user.id);
    await forgetDevices(tx, user.id);
    await this.deps.sessions.endAllOfUser(tx, user.id, 'email_proven');
    user.emailVerified = true;
    user.updatedAt = this.deps.clock.now();
  }

  /**
   * Signs in `user`, whose first factor something else proved (a provider's ID token, identities/; a passkey, with
   * the methods it proved): refused with ACCOUNT_DISABLED for a deactivated account, like every other way in.
   */
  async signInProven(
    em: EntityManager,
    user: User,
    method: SignInMethod,
    detail: string,
    client: ClientInfo,
    amr: readonly string[] = method === SignInMethod.PASSKEY ? [] : FIRST_FACTOR_METHODS[method],
  ): Promise<AuthPayload> {
    if (!user.active) {
      this.deps.audit.record(em, client, {
        type: AuditEventType.LOGIN_FAILED,
        subjectUserId: user.id,
        email: user.email,
        method,
        reason: FailureReason.ACCOUNT_DISABLED,
      });
      await em.flush();
      throw new AccountDisabledError();
    }
    return this.deps.gate.payload(
      await em.transactional((tx) => this.deps.gate.open(tx, user, method, amr, detail, client)),
    );
  }

  /** A first factor proved: through the gate (sign-in-gate.ts), which opens a session or asks for a second factor. */
  private open(
    tx: EntityManager,
    user: User,
    method: Exclude<SignInMethod, SignInMethod.PASSKEY>,
    detail: string,
    client: ClientInfo,
  ): Promise<Opened> {
    return this.deps.gate.open(tx, user, method, FIRST_FACTOR_METHODS[method], detail, client);
  }
}

/** CHANGE_EMAIL codes come only from requestEmailChange and are spent only by confirmEmailChange (account/). */
function refuseChangeEmail(purpose: OtpPurpose): void {
  if (purpose === OtpPurpose.CHANGE_EMAIL) {
    throw new BadUserInputError('purpose', ['CHANGE_EMAIL codes are requested with requestEmailChange']);
  }
}
