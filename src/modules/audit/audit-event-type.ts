// What an audit event records, typed: its type (the GraphQL enum AuditEventType), and for sign-ins the method and
// the reason of a refusal. Code branches on these, never on the human `detail` note.
import { registerEnumType } from 'type-graphql';

/** Every audit event type; the contract's list. New ones are added here, never renamed. */
export enum AuditEventType {
  REGISTER = 'REGISTER',
  LOGIN_SUCCEEDED = 'LOGIN_SUCCEEDED',
  LOGIN_FAILED = 'LOGIN_FAILED',
  OTP_REQUESTED = 'OTP_REQUESTED',
  OTP_ACCEPTED = 'OTP_ACCEPTED',
  OTP_REJECTED = 'OTP_REJECTED',
  REFRESH_TOKEN_REUSE = 'REFRESH_TOKEN_REUSE',
  LOGOUT = 'LOGOUT',
  LOGOUT_ALL = 'LOGOUT_ALL',
  SESSION_REVOKED = 'SESSION_REVOKED',
  PASSWORD_CHANGED = 'PASSWORD_CHANGED',
  PASSWORD_RESET = 'PASSWORD_RESET',
  ROLES_CHANGED = 'ROLES_CHANGED',
  ACTIVATION_CHANGED = 'ACTIVATION_CHANGED',
  ACCOUNT_UNLOCKED = 'ACCOUNT_UNLOCKED',
  IDENTITY_LINKED = 'IDENTITY_LINKED',
  IDENTITY_UNLINKED = 'IDENTITY_UNLINKED',
  MFA_FACTOR_ADDED = 'MFA_FACTOR_ADDED',
  MFA_FACTOR_REMOVED = 'MFA_FACTOR_REMOVED',
  MFA_CHALLENGE_PASSED = 'MFA_CHALLENGE_PASSED',
  MFA_CHALLENGE_FAILED = 'MFA_CHALLENGE_FAILED',
  RECOVERY_CODES_REGENERATED = 'RECOVERY_CODES_REGENERATED',
  STEP_UP = 'STEP_UP',
  API_KEY_CREATED = 'API_KEY_CREATED',
  API_KEY_REVOKED = 'API_KEY_REVOKED',
  EMAIL_CHANGED = 'EMAIL_CHANGED',
  ACCOUNT_DELETED = 'ACCOUNT_DELETED',
  SIGNING_KEY_ROTATED = 'SIGNING_KEY_ROTATED',
  WEBHOOK_DELIVERY_FAILED = 'WEBHOOK_DELIVERY_FAILED',
}

registerEnumType(AuditEventType, {
  name: 'AuditEventType',
  description: 'Every audit event type. New ones are added here, never renamed.',
});

/** How a sign-in (LOGIN_SUCCEEDED, LOGIN_FAILED) was attempted. */
export enum SignInMethod {
  PASSWORD = 'PASSWORD',
  CODE = 'CODE',
  /** An OpenID provider's ID token (the redirect flow or signInWithIdToken). */
  PROVIDER = 'PROVIDER',
  /** A passkey as the first factor (finishPasskeySignIn). */
  PASSKEY = 'PASSKEY',
}

/** Why a LOGIN_FAILED was refused; its `detail` is the human label below. */
export enum FailureReason {
  UNKNOWN_EMAIL = 'UNKNOWN_EMAIL',
  EMAIL_NOT_VERIFIED = 'EMAIL_NOT_VERIFIED',
  WRONG_PASSWORD = 'WRONG_PASSWORD',
  WRONG_CURRENT_PASSWORD = 'WRONG_CURRENT_PASSWORD',
  ACCOUNT_DISABLED = 'ACCOUNT_DISABLED',
}

export const FAILURE_LABELS: Readonly<Record<FailureReason, string>> = {
  UNKNOWN_EMAIL: 'unknown email',
  EMAIL_NOT_VERIFIED: 'email not verified',
  WRONG_PASSWORD: 'wrong password',
  WRONG_CURRENT_PASSWORD: 'wrong current password',
  ACCOUNT_DISABLED: 'account disabled',
};

/**
 * Failures that are password guesses (not a right password refused for another reason). An unverified account
 * answers like an unknown email, so it counts alike; so do changePassword's wrong current passwords.
 */
export const GUESSES: readonly FailureReason[] = [
  FailureReason.UNKNOWN_EMAIL,
  FailureReason.EMAIL_NOT_VERIFIED,
  FailureReason.WRONG_PASSWORD,
  FailureReason.WRONG_CURRENT_PASSWORD,
];
