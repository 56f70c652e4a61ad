// The benchmark's knobs (from the environment, read once) and the environment the server under test runs with.
import { LIMIT_DEFAULTS } from '../src/config/limits';

export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/portcullis_bench';
/** A fixed, bench-only HS256 secret: the server and the bare baseline verify the same tokens with it. */
export const BENCH_JWT_SECRET = 'portcullis-benchmark-secret-not-for-production-0123456789';
/** Production needs data keys of its own (DATA_ENCRYPTION_KEYS): a fixed, bench-only one. */
export const BENCH_DATA_KEYS = 'bench:TR0oyMvvY+Xm+ESPh0s1iRMfQBnk/o7aaHQysa6MyMo=';
/** Production serves GET /metrics only with a token; the login scenario's event-loop probe scrapes it. */
export const BENCH_METRICS_TOKEN = 'portcullis-benchmark-metrics-token';

function num(name: string, def: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return def;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a non-negative number, got "${raw}"`);
  return n;
}

export type Only = 'soak' | 'me' | 'tokens';

function only(): Only | null {
  const raw = process.env.BENCH_ONLY?.trim();
  if (!raw) return null;
  if (raw !== 'soak' && raw !== 'me' && raw !== 'tokens')
    throw new Error(`BENCH_ONLY can only be "soak", "me" or "tokens", got "${raw}"`);
  return raw;
}

export interface Settings {
  readonly databaseUrl: string;
  /** True for the default database, which the bench drops and creates afresh; never for DATABASE_URL. */
  readonly ownsDatabase: boolean;
  readonly bcryptCost: number;
  readonly connections: number;
  readonly warmupSeconds: number;
  readonly seconds: number;
  readonly loginSeconds: number;
  readonly smallUsers: number;
  readonly largeUsers: number;
  /** How many users' tokens (from `login`) the "many users" `me` variant spreads its requests over. */
  readonly spreadUsers: number;
  /** Seeded sessions with minted tokens for the variant where no request repeats a session (cache-cold). */
  readonly freshSessions: number;
  /** Interleaved rounds of the baselines and the small-table `me` scenarios; each row is the median over them. */
  readonly rounds: number;
  readonly serverCpu: number;
  readonly loadCpu: number;
  /** Write a V8 CPU profile of the server during the `me` scenario to bench/results/. */
  readonly profile: boolean;
  /** Sign-in attempts with distinct random emails in the soak. */
  readonly soakAttempts: number;
  /** Real logins and real requestOtp calls timed on the fresh server, and again after the soak. */
  readonly soakProbes: number;
  /**
   * BENCH_ONLY=soak: seed the users and run only the soak; BENCH_ONLY=me: only the baselines and `me` rounds (ES256
   * and HS256); BENCH_ONLY=tokens: only the API-key `me` runs and introspection.
   */
  readonly only: Only | null;
}

export function readSettings(): Settings {
  const url = process.env.DATABASE_URL?.trim();
  return {
    databaseUrl: url || DEFAULT_DATABASE_URL,
    ownsDatabase: !url,
    bcryptCost: num('BCRYPT_COST', 12),
    connections: num('BENCH_CONNECTIONS', 50),
    warmupSeconds: num('BENCH_WARMUP', 10),
    seconds: num('BENCH_SECONDS', 10),
    loginSeconds: num('BENCH_LOGIN_SECONDS', 12),
    smallUsers: num('BENCH_SMALL_USERS', 1_000),
    largeUsers: num('BENCH_LARGE_USERS', 1_000_000),
    spreadUsers: num('BENCH_SPREAD_USERS', 1_000),
    freshSessions: num('BENCH_FRESH_SESSIONS', 100_000),
    rounds: Math.max(1, Math.round(num('BENCH_ROUNDS', 3))),
    serverCpu: num('BENCH_SERVER_CPU', 0),
    loadCpu: num('BENCH_LOAD_CPU', 1),
    profile: process.env.BENCH_PROFILE === '1',
    soakAttempts: num('BENCH_SOAK_ATTEMPTS', 100_000),
    soakProbes: num('BENCH_SOAK_PROBES', 200),
    only: only(),
  };
}

/** The limits as shipped (real windows: an hour for the per-email login limit), for the soak. */
export function defaultLimitsEnv(): Record<string, string> {
  return Object.fromEntries(LIMIT_DEFAULTS.map((d) => [d.variable, d.value]));
}

/** How Portcullis signs access tokens in a run (JWT_ALGORITHM); serverEnv says ES256, a new install's default. */
export type JwtAlgorithm = 'ES256' | 'HS256';

/**
 * Production mode (the honest one: production's checks, headers and error handling) with logs at warn, so
 * per-request log lines do not dominate, and every request limit far above what the load reaches. JWT_ALGORITHM is
 * explicit (ES256, the default of a new install; a database given with DATABASE_URL could otherwise be taken for an
 * existing HS256 install): the HS256 runs override it.
 */
export function serverEnv(settings: Settings, port: number, smtpPort: number): Record<string, string> {
  const limits = Object.fromEntries(LIMIT_DEFAULTS.map((d) => [d.variable, '1000000/1s']));
  return {
    NODE_ENV: 'production',
    PORT: String(port),
    DATABASE_URL: settings.databaseUrl,
    JWT_SECRET: BENCH_JWT_SECRET,
    JWT_ALGORITHM: 'ES256' satisfies JwtAlgorithm,
    DATA_ENCRYPTION_KEYS: BENCH_DATA_KEYS,
    METRICS_TOKEN: BENCH_METRICS_TOKEN,
    SMTP_URL: `smtp://127.0.0.1:${smtpPort}`,
    LOG_LEVEL: 'warn',
    BCRYPT_COST: String(settings.bcryptCost),
    RATE_LIMIT_PER_MINUTE: '1000000',
    ...limits,
  };
}
