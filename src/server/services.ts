// Wires the services of every module from one Config; `server/` is the only place that knows them all.
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Config } from '../config/config';
import type { Clock } from '../common/clock';
import type { Keys } from '../common/keys';
import type { AfterCommit } from '../database/after-commit';
import { AccessTokenService } from '../modules/sessions/access-token.service';
import { AuthService } from '../modules/auth/auth.service';
import { Authenticator } from '../modules/sessions/authenticator';
import { OtpService } from '../modules/otp/otp.service';
import { PasswordService } from '../modules/passwords/password.service';
import { SessionCache } from '../modules/sessions/session-cache';
import { SessionService } from '../modules/sessions/session.service';
import { LockoutService } from '../modules/auth/lockout.service';
import { OutboxService } from '../modules/mail/outbox.service';
import { AuditService, type AuditEntry } from '../modules/audit/audit.service';
import { WebhookService } from '../modules/webhooks/webhooks.service';
import { UserAdminService, type UnlockHook } from '../modules/admin/user-admin.service';
import type { Logger } from '../common/logger';
import { IdentityService } from '../modules/identities/identity.service';
import { OidcClients } from '../modules/identities/oidc-clients';
import { SocialSignInService, type SocialOutcome } from '../modules/identities/social-sign-in.service';
import { CALLBACK_PATH } from './oauth-callback';
import { SignInGate } from '../modules/auth/sign-in-gate';
import { SecondFactorService } from '../modules/auth/second-factor.service';
import { MfaService } from '../modules/mfa/mfa.service';
import { MfaTicketService } from '../modules/mfa/mfa-tickets.service';
import { PasskeyService } from '../modules/mfa/passkeys.service';
import { deriveKey } from '../common/crypto';
import { KeyRing } from '../modules/signing-keys/key-ring';
import { ApiKeyService } from '../modules/api-keys/api-key.service';
import { EmailChangeService } from '../modules/account/email-change.service';
import { AccountDeletionService } from '../modules/account/account-deletion.service';

export interface Services {
  readonly auth: AuthService;
  readonly authenticator: Authenticator;
  readonly sessions: SessionService;
  /** Off until the database's change feed is listening (create-server.ts). */
  readonly sessionCache: SessionCache;
  readonly outbox: OutboxService;
  readonly audit: AuditService;
  readonly userAdmin: UserAdminService;
  readonly identities: IdentityService;
  readonly social: SocialSignInService;
  readonly mfa: MfaService;
  readonly clock: Clock;
  /** The access tokens' keys; `start` it once the database is open (create-server.ts). */
  readonly keyRing: KeyRing;
  readonly apiKeys: ApiKeyService;
  readonly passkeys: PasskeyService;
  readonly secondFactor: SecondFactorService;
  /** Webhook deliveries: queued from the audit trail in each change's transaction (off without WEBHOOK_URLS). */
  readonly webhooks: WebhookService;
  readonly emailChange: EmailChangeService;
  readonly accountDeletion: AccountDeletionService;
  /** Ends the password hashing threads. */
  close(): Promise<void>;
}

export interface ServiceHooks {
  /** The ORM's after-commit queue (AfterCommit.attach): mail kicks, cache evictions and audit metrics wait on it. */
  readonly afterCommit: AfterCommit;
  /** Hears every audit event once committed (metrics). */
  readonly onAudit?: (entry: AuditEntry) => void;
  /** unlockUser: clears the account's request-limit counters too. */
  readonly onUnlock?: UnlockHook;
  /** Hears how each provider sign-in ended (metrics). */
  readonly onSocialOutcome?: (provider: string, outcome: SocialOutcome) => void;
}

export function createServices(
  config: Config,
  keys: Keys,
  clock: Clock,
  logger: Logger,
  hooks: ServiceHooks,
): Services {
  const { afterCommit } = hooks;
  const keyRing = new KeyRing(
    {
      algorithm: config.jwtAlgorithm,
      rotationDays: config.jwtKeyRotationDays,
      tokenTtl: config.accessTokenTtl,
      hsKey: keys.jwt,
    },
    clock,
    keys.sealer,
    logger,
  );
  const accessTokens = new AccessTokenService(
    { keys: keyRing, issuer: config.jwtIssuer, audience: config.jwtAudience, ttl: config.accessTokenTtl },
    clock,
  );
  const webhooks = new WebhookService(config.webhooks, clock, afterCommit);
  const audit = new AuditService(clock, afterCommit, hooks.onAudit, (em, entry, at) => webhooks.onAudit(em, entry, at));
  const sessionCache = new SessionCache();
  const sessions = new SessionService(
    { refreshKey: keys.refresh, refreshTtl: config.refreshTokenTtl, graceWindow: config.refreshGraceWindow },
    clock,
    audit,
    sessionCache,
    afterCommit,
  );
  const otp = new OtpService(
    {
      key: keys.otp,
      ttl: config.otpTtl,
      maxAttempts: config.otpMaxAttempts,
      resendInterval: config.otpResendInterval,
      maxFailuresPerHour: config.otpMaxFailuresPerHour,
    },
    clock,
  );
  const outbox = new OutboxService(keys.sealer, afterCommit, config.appName);
  const passwords = new PasswordService(config.bcryptCost);
  const identities = new IdentityService(clock, otp, audit, outbox, sessions, config.socialSignIn.providers);
  const passkeys = new PasskeyService(config.mfa, clock, deriveKey(config.jwtSecret, 'passkey-decoy'));
  const mfa = new MfaService({
    clock,
    sealer: keys.sealer,
    recoveryKey: keys.recovery,
    audit,
    outbox,
    sessions,
    passkeys,
    appName: config.appName,
  });
  const tickets = new MfaTicketService(clock, mfa, passkeys, audit);
  const gate = new SignInGate({ clock, sessions, accessTokens, audit, mfa, tickets, outbox });
  const lockout = new LockoutService(clock, audit);
  const auth = new AuthService({
    clock,
    passwords,
    otp,
    sessions,
    gate,
    outbox,
    audit,
    lockout,
    passwordMinScore: config.passwordMinScore,
    onEmailProven: (tx, userId) => identities.dropUnproven(tx, userId),
  });
  const userAdmin = new UserAdminService(clock, sessions, audit, passwords, hooks.onUnlock);
  const apiKeys = new ApiKeyService(clock, audit, outbox);
  const reloadKeys = async (em: EntityManager) => {
    if (!keyRing.mayReload()) return false;
    await keyRing.reload(em);
    return true;
  };
  const authenticator = new Authenticator(accessTokens, sessions, sessionCache, clock, reloadKeys, apiKeys);
  const social = new SocialSignInService({
    config: config.socialSignIn,
    clock,
    sealer: keys.sealer,
    oidc: new OidcClients(`${config.socialSignIn.publicUrl}${CALLBACK_PATH}`),
    identities,
    auth,
    logger,
    onOutcome: hooks.onSocialOutcome,
  });
  const secondFactor = new SecondFactorService({
    clock,
    gate,
    auth,
    mfa,
    tickets,
    passkeys,
    sessions,
    audit,
  });
  return {
    auth,
    authenticator,
    sessions,
    sessionCache,
    outbox,
    audit,
    userAdmin,
    identities,
    social,
    mfa,
    clock,
    keyRing,
    apiKeys,
    passkeys,
    secondFactor,
    webhooks,
    emailChange: new EmailChangeService({ clock, otp, outbox, audit, sessions }),
    accountDeletion: new AccountDeletionService(sessions, audit, outbox),
    close: () => passwords.close(),
  };
}
