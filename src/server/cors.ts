// CORS: only the configured origins; in development without CORS_ORIGINS, any localhost origin.
import type { CorsOptions } from 'cors';

const LOCALHOST = /^https?:\/\/(localhost|127\.0\.0\.1|\[::1\])(:\d+)?$/;

export function corsOrigin(allowed: readonly string[] | 'localhost'): CorsOptions['origin'] {
  return (origin, callback) => {
    if (origin === undefined) return callback(null, false);
    const ok = allowed === 'localhost' ? LOCALHOST.test(origin) : allowed.includes(origin);
    callback(null, ok);
  };
}
