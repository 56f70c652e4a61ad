// The sign-up and sign-in flows: register, login, one-time codes, password reset and change, refresh, logout.
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Clock } from '../../common/clock';
import {
  AccountDisabledError,
  BadUserInputError,
  EmailNotVerifiedError,
  InvalidCredentialsError,
  InvalidOtpError,
  UnauthenticatedError,
} from '../../common/errors';
import { failure, success, unwrap, type Outcome } from '../../common/outcome';
import { Role } from '../../permissions/roles';
import { AuditType } from '../audit/audit-event.entity';
import type { AuditService } from '../audit/audit.service';
import type { OutboxService } from '../mail/outbox.service';
import { alreadyRegisteredEmail, codeEmail } from '../mail/templates';
import { User } from '../users/user.entity';
import { normalizeEmail, normalizeFullName } from '../users/user-input';
import { toUserView } from '../users/user.types';
import type { AccessTokenService } from './access-token.service';
import type { LockoutService } from './lockout.service';
import type { AuthPayload, CodeSent, RegisterInput } from './auth.types';
import type { Principal } from './authenticator';
import type { OtpCode } from './otp-code.entity';
import type { OtpService } from './otp.service';
import { OtpPurpose } from './otp-purpose';
import { assertPasswordLength, assertPasswordPolicy } from './password-policy';
import type { PasswordService } from './password.service';
import type { ClientInfo, IssuedSession, SessionService } from './session.service';

export interface AuthDeps {
  readonly clock: Clock;
  readonly passwords: PasswordService;
  readonly otp: OtpService;
  readonly sessions: SessionService;
  readonly accessTokens: AccessTokenService;
  readonly outbox: OutboxService;
  readonly audit: AuditService;
  readonly lockout: LockoutService;
}

export class AuthService {
  constructor(private readonly deps: AuthDeps) {}

  /** Creates or refreshes a pending account and emails a VERIFY_EMAIL code; same answer for a taken email. */
  async register(em: EntityManager, input: RegisterInput, client: ClientInfo): Promise<CodeSent> {
    const email = normalizeEmail(input.email);
    const fullName = normalizeFullName(input.fullName);
    assertPasswordPolicy(input.password, 'password');
    // Hashed on every path, so a taken email answers as slowly as a new one.
    const passwordHash = await this.deps.passwords.hash(input.password);
    const sent = await em.transactional(async (tx) => {
      const issued = await this.deps.otp.issue(tx, email, OtpPurpose.VERIFY_EMAIL, async () => {
        const now = this.deps.clock.now();
        const user = await tx.findOne(User, { email });
        if (user?.emailVerified) {
          this.deps.outbox.enqueue(tx, email, alreadyRegisteredEmail());
          this.deps.audit.record(tx, client, { type: AuditType.REGISTER, subjectUserId: user.id, email, detail: 'already verified: notice sent' });
          return null; // a placeholder code keeps the resend interval; it is never sent
        }
        if (user) {
          user.passwordHash = passwordHash;
          if (fullName !== null) user.fullName = fullName;
          user.updatedAt = now;
          this.deps.audit.record(tx, client, { type: AuditType.REGISTER, subjectUserId: user.id, email, detail: 'pending account renewed' });
          return user.id;
        }
        const created = tx.create(User, {
          email,
          passwordHash,
          fullName,
          emailVerified: false,
          active: true,
          roles: [Role.USER],
          createdAt: now,
          updatedAt: now,
        });
        this.deps.audit.record(tx, client, { type: AuditType.REGISTER, subjectUserId: created.id, email, detail: 'created' });
        return created.id;
      });
      if (issued.userId !== null) {
        this.deps.outbox.enqueue(tx, email, codeEmail(OtpPurpose.VERIFY_EMAIL, issued.code, issued.expiresIn));
      }
      return issued;
    });
    this.deps.outbox.notifyCommitted();
    return { expiresIn: sent.expiresIn, retryAfter: sent.retryAfter };
  }

  /** Emails a code for `purpose` to the account of `email`; for an unknown email nothing is sent. */
  async requestOtp(em: EntityManager, rawEmail: string, purpose: OtpPurpose, client: ClientInfo): Promise<CodeSent> {
    const email = normalizeEmail(rawEmail);
    const sent = await em.transactional(async (tx) => {
      const issued = await this.deps.otp.issue(tx, email, purpose, async () => {
        const user = await tx.findOne(User, { email }, { fields: ['id'] });
        return user?.id ?? null;
      });
      if (issued.userId !== null) {
        this.deps.outbox.enqueue(tx, email, codeEmail(purpose, issued.code, issued.expiresIn));
      }
      this.deps.audit.record(tx, client, { type: AuditType.OTP_REQUESTED, subjectUserId: issued.userId, email, detail: purpose });
      return issued;
    });
    this.deps.outbox.notifyCommitted();
    return { expiresIn: sent.expiresIn, retryAfter: sent.retryAfter };
  }

  async login(em: EntityManager, rawEmail: string, password: string, client: ClientInfo): Promise<AuthPayload> {
    const email = normalizeEmail(rawEmail);
    assertPasswordLength(password, 'password');
    await this.deps.lockout.check(em, email);
    const user = await em.findOne(User, { email });
    // One bcrypt comparison on every path (a dummy hash when there is no account) keeps timing equal.
    const matches = await this.deps.passwords.verify(password, user?.passwordHash ?? null);
    const refusal =
      user === null || !matches
        ? { error: new InvalidCredentialsError(), reason: user === null ? 'unknown email' : 'wrong password' }
        : !user.emailVerified
          ? { error: new EmailNotVerifiedError(), reason: 'email not verified' }
          : !user.active
            ? { error: new AccountDisabledError(), reason: 'account disabled' }
            : null;
    if (refusal !== null) {
      this.deps.audit.record(em, client, { type: AuditType.LOGIN_FAILED, subjectUserId: user?.id, email, detail: refusal.reason });
      await em.flush();
      throw refusal.error;
    }
    const issued = this.deps.sessions.create(em, user!, client);
    this.deps.audit.record(em, client, { type: AuditType.LOGIN_SUCCEEDED, actorUserId: user!.id, subjectUserId: user!.id, email, detail: 'password' });
    await em.flush();
    return this.payload(issued);
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
    const email = normalizeEmail(rawEmail);
    const outcome = await em.transactional(async (tx) => {
      const consumed = await this.consumeCode(tx, email, purpose, code, client);
      if (!consumed.ok) return consumed;
      const user = consumed.value;
      if (!user.emailVerified) {
        user.emailVerified = true;
        // A LOGIN code proves the email but not who chose the pending password: drop it, so that whoever
        // registered this address first cannot sign in with it once the owner has verified.
        if (purpose === OtpPurpose.LOGIN) user.passwordHash = null;
        user.updatedAt = this.deps.clock.now();
      }
      this.deps.audit.record(tx, client, { type: AuditType.LOGIN_SUCCEEDED, actorUserId: user.id, subjectUserId: user.id, email, detail: `code (${purpose})` });
      return success(this.deps.sessions.create(tx, user, client));
    });
    return this.payload(unwrap(outcome));
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
    assertPasswordPolicy(newPassword, 'newPassword');
    const passwordHash = await this.deps.passwords.hash(newPassword);
    const outcome = await em.transactional(async (tx) => {
      const consumed = await this.consumeCode(tx, email, OtpPurpose.RESET_PASSWORD, code, client);
      if (!consumed.ok) return consumed;
      const user = consumed.value;
      user.passwordHash = passwordHash;
      user.emailVerified = true;
      user.updatedAt = this.deps.clock.now();
      await this.deps.sessions.endAllOfUser(tx, user.id, 'password_reset');
      this.deps.audit.record(tx, client, { type: AuditType.PASSWORD_RESET, actorUserId: user.id, subjectUserId: user.id, email });
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
    assertPasswordLength(currentPassword, 'currentPassword');
    const user = await em.findOne(User, principal.user.id);
    if (user === null) throw new UnauthenticatedError();
    if (!(await this.deps.passwords.verify(currentPassword, user.passwordHash))) throw new InvalidCredentialsError();
    assertPasswordPolicy(newPassword, 'newPassword');
    user.passwordHash = await this.deps.passwords.hash(newPassword);
    user.updatedAt = this.deps.clock.now();
    await em.transactional(async (tx) => {
      tx.persist(user);
      await this.deps.sessions.endAllOfUser(tx, user.id, 'password_changed', principal.sessionId);
      this.deps.audit.record(tx, client, { type: AuditType.PASSWORD_CHANGED, actorUserId: user.id, subjectUserId: user.id });
    });
    return true;
  }

  async refresh(em: EntityManager, refreshToken: string | null | undefined, client: ClientInfo): Promise<AuthPayload> {
    if (!refreshToken) throw new UnauthenticatedError('A refresh token is required');
    return this.payload(await this.deps.sessions.rotate(em, refreshToken, client));
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
    this.deps.sessions.end(session, this.deps.clock.now(), 'logout');
    const userId = session.user.id;
    this.deps.audit.record(em, client, { type: AuditType.LOGOUT, actorUserId: userId, subjectUserId: userId, detail: `session ${session.id}` });
    await em.flush();
    return true;
  }

  async logoutAll(em: EntityManager, principal: Principal, client: ClientInfo): Promise<boolean> {
    const userId = principal.user.id;
    await this.deps.sessions.endAllOfUser(em, userId, 'logout_all');
    this.deps.audit.record(em, client, { type: AuditType.LOGOUT_ALL, actorUserId: userId, subjectUserId: userId });
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
    code: string,
    client: ClientInfo,
  ): Promise<Outcome<User>> {
    const consumed: Outcome<OtpCode> = await this.deps.otp.consume(tx, email, purpose, code);
    if (!consumed.ok) {
      if (!(consumed.error instanceof BadUserInputError)) {
        const owner = await tx.findOne(User, { email }, { fields: ['id'] });
        this.deps.audit.record(tx, client, { type: AuditType.OTP_REJECTED, subjectUserId: owner?.id, email, detail: purpose });
      }
      return consumed;
    }
    const user = consumed.value.userId === null ? null : await tx.findOne(User, consumed.value.userId);
    if (user === null) return failure(new InvalidOtpError());
    this.deps.audit.record(tx, client, { type: AuditType.OTP_ACCEPTED, actorUserId: user.id, subjectUserId: user.id, email, detail: purpose });
    if (!user.active) return failure(new AccountDisabledError());
    return success(user);
  }

  private payload(issued: IssuedSession): AuthPayload {
    const { user, sessionId, refreshToken } = issued;
    return {
      accessToken: this.deps.accessTokens.sign(user.id, sessionId, [...user.roles]),
      refreshToken,
      tokenType: 'Bearer',
      expiresIn: this.deps.accessTokens.ttl,
      user: toUserView(user),
    };
  }
}
