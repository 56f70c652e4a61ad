// The configuration tests give the server, in-process or as a child process: a test database, a fixed JWT secret,
// a fast password hash and every request limit out of the way (tests of the limits set their own).
import { LIMIT_DEFAULTS } from '../../src/config/limits';

export const TEST_JWT_SECRET = 'test-secret-that-is-at-least-32-bytes-long!';
/** DATA_ENCRYPTION_KEYS of the tests' servers (production needs one of its own). */
export const TEST_DATA_KEYS = 'test:sU6yGjoaNeH1MNn2i0dsHnV26rBB71f2kRH9hcgFJcI=';

export const RELAXED_LIMITS: Record<string, string> = {
  RATE_LIMIT_PER_MINUTE: '1000000',
  ...Object.fromEntries(LIMIT_DEFAULTS.map((d) => [d.variable, '1000000/1s'])),
};

/** The environment of a server on `db` (PORT 0, development); `extra` adds to it and wins. */
export function serverEnv(
  db: { readonly url: string; readonly poolSize?: number },
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    PORT: '0',
    NODE_ENV: 'development',
    DATABASE_URL: db.url,
    ...(db.poolSize === undefined ? {} : { DATABASE_POOL_SIZE: String(db.poolSize) }),
    JWT_SECRET: TEST_JWT_SECRET,
    DATA_ENCRYPTION_KEYS: TEST_DATA_KEYS,
    BCRYPT_COST: '4',
    ...RELAXED_LIMITS,
    ...extra,
  };
}
