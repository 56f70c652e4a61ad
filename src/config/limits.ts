// Every request limit in one table: its default, the variable that overrides it, and what it counts by.
import { ConfigError } from './config-helpers';

/**
 * REDIS_COMMAND_TIMEOUT_MS by default: a Redis command of the limit store not answered within this is given up and
 * the request counted in memory (rate-limit/store.ts).
 */
export const DEFAULT_REDIS_COMMAND_TIMEOUT_MS = 200;

/** What a limit counts by: the client IP, the email argument (from any IP), or both. */
export type LimitKey = 'ip' | 'email' | 'ip+email';

export interface LimitRule {
  readonly name: string;
  /** The Mutation field it applies to. */
  readonly operation: string;
  readonly by: LimitKey;
  readonly max: number;
  readonly windowMs: number;
}

interface LimitDefault {
  readonly name: string;
  readonly operation: string;
  readonly by: LimitKey;
  /** Environment variable, value like `5/5s`, `20/1h`, `10/10m`. */
  readonly variable: string;
  readonly value: string;
}

export const LIMIT_DEFAULTS: readonly LimitDefault[] = [
  { name: 'login-ip-email', operation: 'login', by: 'ip+email', variable: 'RATE_LIMIT_LOGIN_IP_EMAIL', value: '5/5s' },
  { name: 'login-email', operation: 'login', by: 'email', variable: 'RATE_LIMIT_LOGIN_EMAIL', value: '20/1h' },
  { name: 'register-ip', operation: 'register', by: 'ip', variable: 'RATE_LIMIT_REGISTER_IP', value: '10/1h' },
  {
    name: 'request-otp-ip-email',
    operation: 'requestOtp',
    by: 'ip+email',
    variable: 'RATE_LIMIT_REQUEST_OTP_IP_EMAIL',
    value: '5/15m',
  },
  {
    name: 'verify-otp-ip-email',
    operation: 'verifyOtp',
    by: 'ip+email',
    variable: 'RATE_LIMIT_VERIFY_OTP_IP_EMAIL',
    value: '10/10m',
  },
  {
    name: 'reset-password-ip-email',
    operation: 'resetPassword',
    by: 'ip+email',
    variable: 'RATE_LIMIT_RESET_PASSWORD_IP_EMAIL',
    value: '10/10m',
  },
  { name: 'refresh-ip', operation: 'refresh', by: 'ip', variable: 'RATE_LIMIT_REFRESH_IP', value: '60/1m' },
  {
    name: 'start-social-sign-in-ip',
    operation: 'startSocialSignIn',
    by: 'ip',
    variable: 'RATE_LIMIT_START_SOCIAL_SIGN_IN_IP',
    value: '30/10m',
  },
  {
    name: 'complete-social-sign-in-ip',
    operation: 'completeSocialSignIn',
    by: 'ip',
    variable: 'RATE_LIMIT_COMPLETE_SOCIAL_SIGN_IN_IP',
    value: '30/10m',
  },
  {
    name: 'sign-in-with-id-token-ip',
    operation: 'signInWithIdToken',
    by: 'ip',
    variable: 'RATE_LIMIT_SIGN_IN_WITH_ID_TOKEN_IP',
    value: '30/10m',
  },
  { name: 'verify-mfa-ip', operation: 'verifyMfa', by: 'ip', variable: 'RATE_LIMIT_VERIFY_MFA_IP', value: '30/10m' },
  {
    name: 'start-passkey-sign-in-ip',
    operation: 'startPasskeySignIn',
    by: 'ip',
    variable: 'RATE_LIMIT_START_PASSKEY_SIGN_IN_IP',
    value: '30/10m',
  },
  {
    name: 'finish-passkey-sign-in-ip',
    operation: 'finishPasskeySignIn',
    by: 'ip',
    variable: 'RATE_LIMIT_FINISH_PASSKEY_SIGN_IN_IP',
    value: '30/10m',
  },
  {
    name: 'reauthenticate-ip',
    operation: 'reauthenticate',
    by: 'ip',
    variable: 'RATE_LIMIT_REAUTHENTICATE_IP',
    value: '10/15m',
  },
  {
    name: 'change-password-ip',
    operation: 'changePassword',
    by: 'ip',
    variable: 'RATE_LIMIT_CHANGE_PASSWORD_IP',
    value: '10/15m',
  },
  {
    name: 'request-email-change-ip',
    operation: 'requestEmailChange',
    by: 'ip',
    variable: 'RATE_LIMIT_REQUEST_EMAIL_CHANGE_IP',
    value: '10/1h',
  },
  {
    name: 'confirm-email-change-ip',
    operation: 'confirmEmailChange',
    by: 'ip',
    variable: 'RATE_LIMIT_CONFIRM_EMAIL_CHANGE_IP',
    value: '10/10m',
  },
];

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000 };

/** Parses `max/window` such as `5/5s`; throws ConfigError naming `variable`. */
export function parseLimit(variable: string, value: string): { max: number; windowMs: number } {
  const m = /^(\d+)\/(\d+)([smh])$/.exec(value.trim());
  if (!m || Number(m[1]) < 1 || Number(m[2]) < 1) {
    throw new ConfigError(variable, `must look like 5/5s, 20/1h or 10/10m (max/window), got "${value}"`);
  }
  return { max: Number(m[1]), windowMs: Number(m[2]) * UNIT_MS[m[3]!]! };
}

export function loadLimitRules(env: Record<string, string | undefined>): LimitRule[] {
  return LIMIT_DEFAULTS.map((d) => {
    const raw = env[d.variable]?.trim() || d.value;
    return { name: d.name, operation: d.operation, by: d.by, ...parseLimit(d.variable, raw) };
  });
}
