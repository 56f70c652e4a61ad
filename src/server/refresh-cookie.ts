// Cookie mode (REFRESH_TOKEN_COOKIE=true): the refresh token travels in an HttpOnly cookie scoped to /graphql.
import cookieParser from 'cookie-parser';
import type { CookieOptions, Request, RequestHandler, Response } from 'express';
import type { RefreshCookie } from '../common/request-context';

/** Fixed by the contract (docs/contract.md). */
export const REFRESH_COOKIE_NAME = 'portcullis_refresh';
/** Sent back only to the GraphQL endpoint, never to /healthz, /metrics or a frontend on the same host. */
export const REFRESH_COOKIE_PATH = '/graphql';

/** Parses the Cookie header into `req.cookies` (on /graphql, in cookie mode only; a pass-through otherwise). */
export function refreshCookieParser(cookieMode: boolean): RequestHandler {
  return cookieMode ? cookieParser() : (_req, _res, next) => next();
}

/** Binds the cookie to one request/response; `maxAgeSeconds` is the refresh token lifetime. */
export function refreshCookie(req: Request, res: Response, maxAgeSeconds: number): RefreshCookie {
  // Not readable by scripts, never sent over plain HTTP (browsers count http://localhost as secure),
  // never attached to a request started by another site.
  const attributes: CookieOptions = { httpOnly: true, secure: true, sameSite: 'strict', path: REFRESH_COOKIE_PATH };
  return {
    read() {
      // cookie-parser turns a `j:`-prefixed value into an object: only a non-empty string is a token.
      const value: unknown = (req.cookies as Record<string, unknown> | undefined)?.[REFRESH_COOKIE_NAME];
      return typeof value === 'string' && value !== '' ? value : null;
    },
    set(token) {
      res.cookie(REFRESH_COOKIE_NAME, token, { ...attributes, maxAge: maxAgeSeconds * 1000 });
    },
    clear() {
      // Max-Age=0 (with an Expires in the past) under the same attributes removes the stored cookie.
      res.cookie(REFRESH_COOKIE_NAME, '', { ...attributes, maxAge: 0 });
    },
  };
}
