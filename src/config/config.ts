// Environment → one frozen, typed Config, validated once at start-up.
import { isIP } from 'node:net';
import proxyAddr from 'proxy-addr';
import type { Level } from 'pino';
import { LOG_LEVELS } from '../common/logger';
import { DEFAULT_REDIS_COMMAND_TIMEOUT_MS, loadLimitRules, type LimitRule } from './limits';
import { ConfigError, readDevSecret } from './config-helpers';
import { loadSocialSignIn, type SocialSignInConfig } from './identity-providers';
import { parseDataKeys, type DataKeyConfig } from './data-keys';
import { loadMfa, type MfaConfig } from './mfa';
import { loadWebhooks, type WebhooksConfig } from './webhooks';
import { hkdfSync } from 'node:crypto';

export type NodeEnv = 'production' | 'development' | 'test';

export interface Config {
  readonly nodeEnv: NodeEnv;
  readonly isProduction: boolean;
  /** HOST: the address to listen on; 127.0.0.1 outside production, 0.0.0.0 (every IPv4 interface) in production. */
  readonly host: string;
  readonly port: number;
  /** postgres://… of a real PostgreSQL; undefined means embedded PGlite under dataDir. */
  readonly databaseUrl: string | undefined;
  /** Most connections to a real PostgreSQL (embedded PGlite always uses one). */
  readonly databasePoolSize: number;
  readonly dataDir: string;
  readonly redisUrl: string | undefined;
  /** REDIS_COMMAND_TIMEOUT_MS: a Redis command not answered within this is given up; the limit counts in memory. */
  readonly redisCommandTimeoutMs: number;
  /** undefined means: write each email to the log (development only). */
  readonly smtpUrl: string | undefined;
  readonly mailFrom: string;
  readonly jwtSecret: string;
  /** DATA_ENCRYPTION_KEYS (data-keys.ts): the first seals, every one opens. Development: one derived from JWT_SECRET. */
  readonly dataKeys: readonly DataKeyConfig[];
  readonly jwtIssuer: string;
  readonly jwtAudience: string;
  /**
   * JWT_ALGORITHM: how access tokens are signed. Unset: ES256 for a new install (no users yet) or one that already
   * has signing keys, HS256 (the first release's behaviour) for an existing one (modules/signing-keys/).
   */
  readonly jwtAlgorithm: 'HS256' | 'ES256' | undefined;
  /** JWT_KEY_ROTATION_DAYS: days an ES256 key signs before the next one takes over. */
  readonly jwtKeyRotationDays: number;
  /** Allowed CORS origins; 'localhost' means any http(s)://localhost or 127.0.0.1 origin. */
  readonly corsOrigins: readonly string[] | 'localhost';
  readonly accessTokenTtl: number;
  readonly refreshTokenTtl: number;
  /** Seconds a retired refresh token may be replayed to get the same successor back. */
  readonly refreshGraceWindow: number;
  /** REFRESH_TOKEN_COOKIE: deliver and read the refresh token as an HttpOnly cookie instead of in the payload. */
  readonly refreshTokenCookie: boolean;
  readonly otpTtl: number;
  readonly otpMaxAttempts: number;
  readonly otpResendInterval: number;
  readonly otpMaxFailuresPerHour: number;
  readonly bcryptCost: number;
  readonly rateLimitPerMinute: number;
  /** Per-operation limits (rate-limit/limits.ts). */
  readonly limits: readonly LimitRule[];
  /** Express `trust proxy`: which peers may set X-Forwarded-For. false: use the socket address. */
  readonly trustProxy: false | number | string;
  /** Introspection in production (always on otherwise). */
  readonly introspection: boolean;
  /** PLAYGROUND: GraphiQL at GET /graphql for browsers; on unless NODE_ENV=production, there only with true. */
  readonly playground: boolean;
  /** Time a client has to send its whole request, in milliseconds. */
  readonly requestTimeoutMs: number;
  /** After SIGTERM/SIGINT, how long in-flight requests and the email being sent get to finish, in milliseconds. */
  readonly shutdownTimeoutMs: number;
  /** Days ended sessions, used or expired codes and sent emails are kept before housekeeping removes them. */
  readonly retentionDays: number;
  readonly logLevel: Level;
  /** When set, GET /metrics needs `Authorization: Bearer <token>`. */
  readonly metricsToken: string | undefined;
  /** PASSWORD_MIN_SCORE: the zxcvbn-ts score (0–4) a new password needs. */
  readonly passwordMinScore: number;
  /** PUBLIC_URL, OAUTH_REDIRECT_URIS and the identity providers (identity-providers.ts). */
  readonly socialSignIn: SocialSignInConfig;
  /** APP_NAME: names the product in emails, the TOTP issuer and the passkey relying party (default Portcullis). */
  readonly appName: string;
  /** Passkeys' relying party and step-up (mfa.ts). */
  readonly mfa: MfaConfig;
  /** WEBHOOK_URLS, WEBHOOK_SECRET and the delivery settings (webhooks.ts); no URLs: webhooks off. */
  readonly webhooks: WebhooksConfig;
  /** Settings that work but probably not as meant: main.ts logs each at start-up (loading config logs nothing). */
  readonly warnings: readonly string[];
}

type Env = Record<string, string | undefined>;

function str(env: Env, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}

function int(env: Env, name: string, def: number, min: number, max: number): number {
  const raw = str(env, name);
  if (raw === undefined) return def;
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `must be a whole number, got "${raw}"`);
  const n = Number(raw);
  if (n < min || n > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${n}`);
  return n;
}

function bool(env: Env, name: string, def: boolean): boolean {
  const raw = str(env, name);
  if (raw === undefined) return def;
  if (/^(true|1|yes)$/i.test(raw)) return true;
  if (/^(false|0|no)$/i.test(raw)) return false;
  throw new ConfigError(name, `must be true or false, got "${raw}"`);
}

function url(env: Env, name: string, protocols: readonly string[]): string | undefined {
  const raw = str(env, name);
  if (raw === undefined) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(name, 'is not a valid URL');
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(name, `must start with ${protocols.map((p) => `${p}//`).join(' or ')}`);
  }
  return raw;
}

function trustProxy(env: Env): false | number | string {
  const raw = str(env, 'TRUST_PROXY');
  if (raw === undefined || /^false$/i.test(raw)) return false;
  if (/^\d+$/.test(raw)) return Number(raw);
  try {
    proxyAddr.compile(raw.split(',').map((p) => p.trim()));
  } catch {
    throw new ConfigError(
      'TRUST_PROXY',
      `must be a number of hops or comma-separated addresses/subnets (or loopback, linklocal, uniquelocal), got "${raw}"`,
    );
  }
  return raw;
}

const HOSTNAME = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;

function host(env: Env, isProduction: boolean): string {
  const raw = str(env, 'HOST');
  if (raw === undefined) return isProduction ? '0.0.0.0' : '127.0.0.1';
  if (isIP(raw) !== 0 || (HOSTNAME.test(raw) && !/^[\d.]+$/.test(raw))) return raw;
  throw new ConfigError('HOST', `must be an IP address (127.0.0.1, 0.0.0.0, ::) or a host name, got "${raw}"`);
}

function jwtAlgorithm(env: Env): 'HS256' | 'ES256' | undefined {
  const raw = str(env, 'JWT_ALGORITHM');
  if (raw === undefined) return undefined;
  if (raw === 'HS256' || raw === 'ES256') return raw;
  throw new ConfigError('JWT_ALGORITHM', `must be HS256 or ES256, got "${raw}"`);
}

function logLevel(env: Env): Level {
  const raw = str(env, 'LOG_LEVEL') ?? 'info';
  if ((LOG_LEVELS as readonly string[]).includes(raw)) return raw as Level;
  throw new ConfigError('LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')}, got "${raw}"`);
}

function nodeEnv(env: Env): NodeEnv {
  const raw = str(env, 'NODE_ENV') ?? 'development';
  if (raw === 'production' || raw === 'development' || raw === 'test') return raw;
  throw new ConfigError('NODE_ENV', `must be production, development or test, got "${raw}"`);
}

/** Reads and validates the environment; throws ConfigError naming the variable on a bad value. */
export function loadConfig(env: Env = process.env): Config {
  const mode = nodeEnv(env);
  const isProduction = mode === 'production';
  const dataDir = str(env, 'DATA_DIR') ?? './.data';

  const databaseUrl = url(env, 'DATABASE_URL', ['postgres:', 'postgresql:']);
  if (isProduction && databaseUrl === undefined) {
    throw new ConfigError(
      'DATABASE_URL',
      'is required when NODE_ENV=production (the embedded database is for development)',
    );
  }

  const smtpUrl = url(env, 'SMTP_URL', ['smtp:', 'smtps:']);
  if (isProduction && smtpUrl === undefined) {
    throw new ConfigError('SMTP_URL', 'is required when NODE_ENV=production');
  }

  let jwtSecret = env.JWT_SECRET;
  if (jwtSecret === undefined || jwtSecret === '') {
    if (isProduction) throw new ConfigError('JWT_SECRET', 'is required when NODE_ENV=production');
    jwtSecret = readDevSecret(dataDir);
  }
  if (Buffer.byteLength(jwtSecret, 'utf8') < 32) {
    throw new ConfigError('JWT_SECRET', 'must be at least 32 bytes long');
  }

  const dataKeys = parseDataKeys(str(env, 'DATA_ENCRYPTION_KEYS'));
  if (dataKeys === undefined && isProduction) {
    throw new ConfigError(
      'DATA_ENCRYPTION_KEYS',
      'is required when NODE_ENV=production: id:base64key with 32 random bytes (openssl rand -base64 32)',
    );
  }

  const origins = str(env, 'CORS_ORIGINS');
  let corsOrigins: readonly string[] | 'localhost';
  if (origins !== undefined) {
    corsOrigins = origins
      .split(',')
      .map((o) => o.trim())
      .filter((o) => o !== '');
    for (const o of corsOrigins) {
      if (!/^https?:\/\/[^/\s]+$/.test(o))
        throw new ConfigError('CORS_ORIGINS', `"${o}" is not an origin like https://app.example.com`);
    }
  } else {
    corsOrigins = isProduction ? [] : 'localhost';
  }

  const refreshTokenCookie = bool(env, 'REFRESH_TOKEN_COOKIE', false);
  const warnings: string[] = [];
  // Cookie mode needs credentialed CORS, which only listed origins get: a web app elsewhere sees "Failed to fetch".
  if (refreshTokenCookie && origins === undefined) {
    if (isProduction) {
      throw new ConfigError(
        'CORS_ORIGINS',
        "is required with REFRESH_TOKEN_COOKIE=true when NODE_ENV=production (the web app's origin)",
      );
    }
    warnings.push(
      'REFRESH_TOKEN_COOKIE=true without CORS_ORIGINS: browsers on other origins will fail ("Failed to fetch"); ' +
        "set CORS_ORIGINS to the web app's origin, e.g. CORS_ORIGINS=http://localhost:5173",
    );
  }

  const port = int(env, 'PORT', 4000, 0, 65535);
  const socialSignIn = loadSocialSignIn(env, isProduction, port);
  const appName = str(env, 'APP_NAME') ?? 'Portcullis';
  const config: Config = {
    nodeEnv: mode,
    isProduction,
    host: host(env, isProduction),
    port,
    databaseUrl,
    databasePoolSize: int(env, 'DATABASE_POOL_SIZE', 10, 1, 1000),
    dataDir,
    redisUrl: url(env, 'REDIS_URL', ['redis:', 'rediss:']),
    redisCommandTimeoutMs: int(env, 'REDIS_COMMAND_TIMEOUT_MS', DEFAULT_REDIS_COMMAND_TIMEOUT_MS, 10, 60_000),
    smtpUrl,
    mailFrom: str(env, 'MAIL_FROM') ?? 'Portcullis <no-reply@localhost>',
    jwtSecret,
    dataKeys: Object.freeze(dataKeys ?? [{ id: 'dev', key: developmentDataKey(jwtSecret) }]),
    jwtIssuer: str(env, 'JWT_ISSUER') ?? 'portcullis',
    jwtAudience: str(env, 'JWT_AUDIENCE') ?? 'portcullis',
    jwtAlgorithm: jwtAlgorithm(env),
    jwtKeyRotationDays: int(env, 'JWT_KEY_ROTATION_DAYS', 30, 1, 3650),
    corsOrigins,
    accessTokenTtl: int(env, 'ACCESS_TOKEN_TTL', 1800, 1, 86400),
    refreshTokenTtl: int(env, 'REFRESH_TOKEN_TTL', 604800, 60, 31536000),
    refreshGraceWindow: int(env, 'REFRESH_GRACE_WINDOW', 10, 0, 300),
    refreshTokenCookie,
    otpTtl: int(env, 'OTP_TTL', 600, 10, 86400),
    otpMaxAttempts: int(env, 'OTP_MAX_ATTEMPTS', 3, 1, 100),
    otpResendInterval: int(env, 'OTP_RESEND_INTERVAL', 60, 0, 86400),
    otpMaxFailuresPerHour: int(env, 'OTP_MAX_FAILURES_PER_HOUR', 10, 1, 10000),
    bcryptCost: int(env, 'BCRYPT_COST', 12, isProduction ? 10 : 4, 15),
    rateLimitPerMinute: int(env, 'RATE_LIMIT_PER_MINUTE', 100, 1, 1000000),
    limits: loadLimitRules(env),
    trustProxy: trustProxy(env),
    introspection: !isProduction || bool(env, 'INTROSPECTION', false),
    playground: bool(env, 'PLAYGROUND', !isProduction),
    requestTimeoutMs: int(env, 'REQUEST_TIMEOUT', 30, 1, 3600) * 1000,
    shutdownTimeoutMs: int(env, 'SHUTDOWN_TIMEOUT', 10, 1, 600) * 1000,
    retentionDays: int(env, 'RETENTION_DAYS', 7, 1, 3650),
    logLevel: logLevel(env),
    metricsToken: str(env, 'METRICS_TOKEN'),
    passwordMinScore: int(env, 'PASSWORD_MIN_SCORE', 3, 0, 4),
    socialSignIn,
    appName,
    mfa: loadMfa(env, socialSignIn.publicUrl, corsOrigins, appName, int(env, 'STEP_UP_MAX_AGE', 300, 10, 86400)),
    webhooks: loadWebhooks(env, isProduction),
    warnings: Object.freeze(warnings),
  };
  return Object.freeze(config);
}

/** Development's data key when DATA_ENCRYPTION_KEYS is not set: HKDF of JWT_SECRET, so one secret still configures it. */
function developmentDataKey(jwtSecret: string): Buffer {
  return Buffer.from(hkdfSync('sha256', Buffer.from(jwtSecret, 'utf8'), Buffer.alloc(0), 'portcullis:data', 32));
}
