// CORS: only the configured origins, with credentials (cookies); in development without CORS_ORIGINS, any
// localhost origin, without credentials, so a cookie-mode session is only ever offered to a named origin.
import type { CorsOptions, CorsOptionsDelegate, CorsRequest } from 'cors';

const LOCALHOST = /^https?:\/\/(localhost|127\.0\.0\.1|\[::1\])(:\d+)?$/;

/** Per-request CORS options for `cors(…)`: the origin is echoed only when allowed. */
export function corsOptions(allowed: readonly string[] | 'localhost'): CorsOptionsDelegate<CorsRequest> {
  return (req, callback) => {
    const origin = req.headers.origin;
    const options: CorsOptions =
      origin === undefined
        ? { origin: false }
        : allowed === 'localhost'
          ? { origin: LOCALHOST.test(origin), credentials: false }
          : { origin: allowed.includes(origin), credentials: true };
    callback(null, options);
  };
}
