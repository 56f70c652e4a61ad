// Cookie mode (REFRESH_TOKEN_COOKIE=true): the refresh token travels in an HttpOnly cookie scoped to /graphql.
// On Node's own request and response, so the GraphQL path and Express share it.
import { parse, serialize, type CookieSerializeOptions } from 'cookie';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RefreshCookie } from '../common/request-context';

/** Fixed by the contract (docs/contract.md). */
export const REFRESH_COOKIE_NAME = 'portcullis_refresh';
/** Sent back only to the GraphQL endpoint, never to /healthz, /metrics or a frontend on the same host. */
export const REFRESH_COOKIE_PATH = '/graphql';

// Not readable by scripts, never sent over plain HTTP (browsers count http://localhost as secure),
// never attached to a request started by another site.
const ATTRIBUTES: CookieSerializeOptions = {
  httpOnly: true,
  secure: true,
  sameSite: 'strict',
  path: REFRESH_COOKIE_PATH,
};

function setCookie(res: ServerResponse, value: string, maxAgeSeconds: number): void {
  const expires = new Date(Date.now() + maxAgeSeconds * 1000);
  const header = serialize(REFRESH_COOKIE_NAME, value, { ...ATTRIBUTES, maxAge: maxAgeSeconds, expires });
  const previous = res.getHeader('Set-Cookie');
  res.setHeader('Set-Cookie', previous === undefined ? [header] : [...[previous].flat().map(String), header]);
}

/** Binds the cookie to one request/response; `maxAgeSeconds` is the refresh token lifetime. */
export function refreshCookie(req: IncomingMessage, res: ServerResponse, maxAgeSeconds: number): RefreshCookie {
  return {
    read() {
      const header = req.headers.cookie;
      if (header === undefined) return null;
      let value: string | undefined;
      try {
        value = parse(header)[REFRESH_COOKIE_NAME];
      } catch {
        return null; // a malformed Cookie header carries no token
      }
      return value !== undefined && value !== '' ? value : null;
    },
    set(token) {
      setCookie(res, token, maxAgeSeconds);
    },
    clear() {
      // Max-Age=0 (with an Expires in the past) under the same attributes removes the stored cookie.
      setCookie(res, '', 0);
    },
  };
}
