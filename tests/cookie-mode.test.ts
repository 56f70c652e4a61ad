// Cookie mode (REFRESH_TOKEN_COOKIE=true), through HTTP with a cookie jar as a browser would hold it: the refresh
// token travels only in the HttpOnly `portcullis_refresh` cookie, CSRF prevention stays on, CORS credentials
// go only to CORS_ORIGINS; and with cookie mode off nothing changes.
import { Cookie, CookieJar } from 'tough-cookie';
import { sha256 } from '../src/common/crypto';
import { AUTH_FIELDS, PASSWORD, register, uniqueEmail } from './helpers/flows';
import { graphqlInit, httpRequest, type GraphQLBody, type RequestOptions } from './helpers/client';
import { errorCode, type GraphQLResponse, ok, startTestApp, type TestApp } from './helpers/test-server';

const COOKIE = 'portcullis_refresh';
const ORIGIN = 'https://app.example.com';
const TTL = 3600; // a REFRESH_TOKEN_TTL other than the default, so Max-Age is seen to follow it
const GRACE_SECONDS = 10;
/** The attributes every refresh cookie is set with. */
const SET_AS = { httpOnly: true, secure: true, sameSite: 'strict', path: '/graphql', maxAge: TTL };

const LOGIN = `mutation($email: String!, $password: String!) { login(email: $email, password: $password) { ${AUTH_FIELDS} } }`;
const VERIFY_OTP = `mutation($email: String!, $code: String!) { verifyOtp(email: $email, code: $code, purpose: VERIFY_EMAIL) { ${AUTH_FIELDS} } }`;
const REFRESH = `mutation { refresh { ${AUTH_FIELDS} } }`;
const REFRESH_WITH = `mutation($t: String) { refresh(refreshToken: $t) { ${AUTH_FIELDS} } }`;
const LOGOUT = 'mutation { logout }';
const LOGOUT_WITH = 'mutation($t: String) { logout(refreshToken: $t) }';
const ME = '{ me { id } }';

interface Payload {
  accessToken: string;
  refreshToken: string | null;
  user: { id: string; email: string };
}

interface Answer<T> extends GraphQLResponse<T> {
  setCookies: string[];
}

/**
 * A browser-like client: a tough-cookie jar fed from every Set-Cookie and read for every request. The server
 * is http://127.0.0.1 and the cookie is Secure: the jar stores and sends it because 127.0.0.1 is a
 * potentially trustworthy origin, as browsers treat it (tough-cookie 6's `allowSecureOnLocal`, default true,
 * set here explicitly; `enforceSecureOriginOnStorage` stays at its default, true).
 */
class Browser {
  readonly jar = new CookieJar(undefined, { allowSecureOnLocal: true });

  constructor(private readonly app: TestApp) {}

  async send<T = Record<string, any>>(init: RequestInit & { path?: string }): Promise<Answer<T>> {
    const url = init.path === undefined ? this.app.url : new URL(init.path, this.app.url).toString();
    const headers = new Headers(init.headers);
    const cookies = await this.jar.getCookieString(url);
    if (cookies !== '') headers.set('cookie', cookies);
    const res = await httpRequest<GraphQLBody<T>>(url, { ...init, headers });
    const setCookies = res.headers.getSetCookie();
    for (const header of setCookies) await this.jar.setCookie(header, url);
    const body = typeof res.body === 'object' && res.body !== null ? res.body : {};
    return { status: res.status, headers: res.headers, body, data: body.data, errors: body.errors, setCookies };
  }

  gql<T = Record<string, any>>(query: string, variables: Record<string, unknown> = {}, opts: RequestOptions = {}) {
    return this.send<T>(graphqlInit({ query, variables }, opts));
  }

  /** The refresh cookie the jar would send to /graphql, or undefined. */
  async refreshCookie(): Promise<string | undefined> {
    const cookies = await this.jar.getCookies(this.app.url);
    return cookies.find((c) => c.key === COOKIE)?.value;
  }

  /** Puts a refresh cookie in the jar as the server would have set it (a stale or stolen one, say). */
  async plant(token: string): Promise<void> {
    await this.jar.setCookie(`${COOKIE}=${token}; Path=/graphql; HttpOnly; Secure; SameSite=Strict`, this.app.url);
  }
}

/** The data of a successful response; fails the test with the errors otherwise. */
/** The one Set-Cookie header for the refresh cookie in an answer, parsed; fails the test otherwise. */
function refreshSetCookie(res: Answer<unknown>): { raw: string; cookie: Cookie } {
  const ours = res.setCookies.filter((h) => h.startsWith(`${COOKIE}=`));
  expect(ours).toHaveLength(1);
  const cookie = Cookie.parse(ours[0]!);
  expect(cookie).toBeDefined();
  return { raw: ours[0]!, cookie: cookie! };
}

/** The attribute names of a Set-Cookie header, e.g. ['Max-Age', 'Path', …]. */
function attributeNames(raw: string): string[] {
  return raw
    .split(';')
    .slice(1)
    .map((part) => part.split('=')[0]!.trim())
    .sort();
}

function expectClearing(res: Answer<unknown>): void {
  const { cookie } = refreshSetCookie(res);
  expect(cookie.value).toBe('');
  expect(cookie.maxAge).toBe(0);
  expect(cookie.path).toBe('/graphql');
}

describe('with REFRESH_TOKEN_COOKIE=true', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({
      env: { REFRESH_TOKEN_COOKIE: 'true', REFRESH_TOKEN_TTL: String(TTL), CORS_ORIGINS: ORIGIN },
    });
  });
  afterAll(() => app.stop());

  /** register → code by email → verifyOtp in `browser`: a verified user signed in there. */
  async function signUp(browser: Browser, email = uniqueEmail('cookie')): Promise<Answer<{ verifyOtp: Payload }>> {
    const before = app.smtp.messages.length;
    await register(app, email);
    const code = await app.smtp.codeFor(email, /confirm/i, before);
    const res = await browser.gql<{ verifyOtp: Payload }>(VERIFY_OTP, { email, code });
    ok(res);
    return res;
  }

  async function signedInBrowser(): Promise<{ browser: Browser; payload: Payload; token: string }> {
    const browser = new Browser(app);
    const payload = (await signUp(browser)).data!.verifyOtp;
    return { browser, payload, token: (await browser.refreshCookie())! };
  }

  /** A refresh from `browser` is refused with `code`, and the answer removes the cookie from its jar. */
  async function expectRefusedAndCleared(browser: Browser, code: string): Promise<void> {
    const res = await browser.gql(REFRESH);
    expect(errorCode(res)).toBe(code);
    expectClearing(res);
    expect(await browser.refreshCookie()).toBeUndefined();
  }

  async function currentTokenHash(userId: string): Promise<string[]> {
    const rows = await app.sql<{ h: string }>(
      'select current_token_hash as h from sessions where user_id = ? and revoked_at is null',
      [userId],
    );
    return rows.map((r) => r.h);
  }

  describe('signing in', () => {
    it('verifyOtp sets the refresh cookie HttpOnly, Secure, SameSite=Strict, Path=/graphql, Max-Age=REFRESH_TOKEN_TTL and returns refreshToken null', async () => {
      const browser = new Browser(app);

      const res = await signUp(browser);

      expect(res.data!.verifyOtp.refreshToken).toBeNull();
      const { raw, cookie } = refreshSetCookie(res);
      expect(cookie).toMatchObject({ key: COOKIE, ...SET_AS, domain: null });
      expect(attributeNames(raw)).toEqual(['Expires', 'HttpOnly', 'Max-Age', 'Path', 'SameSite', 'Secure']);
      // The cookie holds the session's refresh token: the stored hash is its hash.
      expect(await currentTokenHash(res.data!.verifyOtp.user.id)).toEqual([sha256(cookie.value)]);
      expect(
        ok(await browser.gql<{ me: { id: string } }>(ME, {}, { token: res.data!.verifyOtp.accessToken })).me.id,
      ).toBe(res.data!.verifyOtp.user.id);
    });

    it('login sets the same cookie and returns refreshToken null', async () => {
      const { payload } = await signedInBrowser();
      const browser = new Browser(app);

      const res = await browser.gql<{ login: Payload }>(LOGIN, { email: payload.user.email, password: PASSWORD });

      expect(ok(res).login.refreshToken).toBeNull();
      const { raw, cookie } = refreshSetCookie(res);
      expect(cookie).toMatchObject({ key: COOKIE, ...SET_AS });
      expect(attributeNames(raw)).toEqual(['Expires', 'HttpOnly', 'Max-Age', 'Path', 'SameSite', 'Secure']);
      expect(await currentTokenHash(payload.user.id)).toContain(sha256(cookie.value));
    });

    it('sends no cookie when sign-in fails', async () => {
      const { payload } = await signedInBrowser();
      const browser = new Browser(app);

      const res = await browser.gql(LOGIN, { email: payload.user.email, password: 'Wrong-Password-1' });

      expect(errorCode(res)).toBe('INVALID_CREDENTIALS');
      expect(res.setCookies).toEqual([]);
    });

    it('scopes the cookie to /graphql: the jar offers it to no other path', async () => {
      const { browser } = await signedInBrowser();

      expect(await browser.jar.getCookieString(app.url)).toMatch(new RegExp(`^${COOKIE}=`));
      for (const path of ['/', '/healthz', '/metrics', '/graphqlx']) {
        expect(await browser.jar.getCookieString(new URL(path, app.url).toString())).toBe('');
      }
    });
  });

  describe('refresh without an argument', () => {
    it("rotates the cookie's token: a new cookie, a working access token, refreshToken null", async () => {
      const { browser, payload, token } = await signedInBrowser();

      const res = await browser.gql<{ refresh: Payload }>(REFRESH);

      expect(ok(res).refresh.refreshToken).toBeNull();
      const rotated = refreshSetCookie(res).cookie;
      expect(rotated).toMatchObject(SET_AS);
      expect(rotated.value).not.toBe(token);
      expect(await browser.refreshCookie()).toBe(rotated.value);
      expect(await currentTokenHash(payload.user.id)).toEqual([sha256(rotated.value)]);
      expect(
        ok(await browser.gql<{ me: { id: string } }>(ME, {}, { token: res.data!.refresh.accessToken })).me.id,
      ).toBe(payload.user.id);
    });

    it('keeps the reuse rules: the old token within the grace window gets the same new token, after it ends the session', async () => {
      const { browser, payload, token: first } = await signedInBrowser();
      ok(await browser.gql(REFRESH));
      const second = (await browser.refreshCookie())!;

      const tab = new Browser(app); // another tab still holding the old cookie
      await tab.plant(first);
      app.clock.advance(GRACE_SECONDS / 2);
      const withinGrace = await tab.gql<{ refresh: Payload }>(REFRESH);
      expect(ok(withinGrace).refresh.refreshToken).toBeNull();
      expect(refreshSetCookie(withinGrace).cookie.value).toBe(second);

      const stale = new Browser(app);
      await stale.plant(first);
      app.clock.advance(GRACE_SECONDS + 1);
      const replay = await stale.gql(REFRESH);

      expect(errorCode(replay)).toBe('UNAUTHENTICATED');
      expectClearing(replay);
      expect(await stale.refreshCookie()).toBeUndefined();
      expect(await currentTokenHash(payload.user.id)).toEqual([]); // the whole session ended
      expect(errorCode(await browser.gql(REFRESH))).toBe('UNAUTHENTICATED');
    });

    it("clears a dead cookie: a revoked session's token is UNAUTHENTICATED and the cookie is removed", async () => {
      const { browser, payload } = await signedInBrowser();
      await app.sql('update sessions set revoked_at = now() where user_id = ?', [payload.user.id]);

      await expectRefusedAndCleared(browser, 'UNAUTHENTICATED');
    });

    it('clears the cookie of a deactivated account: ACCOUNT_DISABLED', async () => {
      const { browser, payload } = await signedInBrowser();
      await app.sql('update users set active = false where id = ?', [payload.user.id]);

      await expectRefusedAndCleared(browser, 'ACCOUNT_DISABLED');
    });

    it('without a cookie is UNAUTHENTICATED and sets no cookie', async () => {
      const res = await new Browser(app).gql(REFRESH);

      expect(errorCode(res)).toBe('UNAUTHENTICATED');
      expect(res.setCookies).toEqual([]);
    });
  });

  describe('an explicit refreshToken argument', () => {
    it('still works, and the new token goes into the cookie', async () => {
      const { payload, token } = await signedInBrowser();
      const client = new Browser(app); // holds the token some other way, not as a cookie

      const res = await client.gql<{ refresh: Payload }>(REFRESH_WITH, { t: token });

      expect(ok(res).refresh.refreshToken).toBeNull();
      const rotated = refreshSetCookie(res).cookie.value;
      expect(await currentTokenHash(payload.user.id)).toEqual([sha256(rotated)]);
    });

    it('wins over the cookie, which a failure of the argument leaves alone', async () => {
      const a = await signedInBrowser();
      const b = await signedInBrowser();

      const refused = await a.browser.gql(REFRESH_WITH, { t: 'not-a-token' });
      expect(errorCode(refused)).toBe('UNAUTHENTICATED');
      expect(refused.setCookies).toEqual([]);
      expect(await a.browser.refreshCookie()).toBe(a.token);

      const res = await a.browser.gql<{ refresh: Payload }>(REFRESH_WITH, { t: b.token });

      expect(ok(res).refresh.user.id).toBe(b.payload.user.id);
      expect(await currentTokenHash(a.payload.user.id)).toEqual([sha256(a.token)]); // a's session untouched
    });
  });

  describe('logout', () => {
    it("without an argument or access token ends the cookie's session and clears the cookie", async () => {
      const { browser, payload, token } = await signedInBrowser();

      const res = await browser.gql<{ logout: boolean }>(LOGOUT);

      expect(ok(res).logout).toBe(true);
      expectClearing(res);
      expect(await browser.refreshCookie()).toBeUndefined();
      expect(await currentTokenHash(payload.user.id)).toEqual([]);
      expect(errorCode(await browser.gql(ME, {}, { token: payload.accessToken }))).toBe('UNAUTHENTICATED');
      expect(errorCode(await new Browser(app).gql(REFRESH_WITH, { t: token }))).toBe('UNAUTHENTICATED');
    });

    it('with a cookie whose session has ended is UNAUTHENTICATED and still clears the cookie', async () => {
      const { browser, payload } = await signedInBrowser();
      await app.sql('update sessions set revoked_at = now() where user_id = ?', [payload.user.id]);

      const res = await browser.gql(LOGOUT);

      expect(errorCode(res)).toBe('UNAUTHENTICATED');
      expectClearing(res);
    });

    it("with another session's refresh token ends that one and keeps this browser's cookie", async () => {
      const a = await signedInBrowser();
      const b = await signedInBrowser();

      const res = await a.browser.gql(LOGOUT_WITH, { t: b.token });

      expect(ok(res).logout).toBe(true);
      expect(res.setCookies).toEqual([]);
      expect(await currentTokenHash(b.payload.user.id)).toEqual([]);
      expect(ok(await a.browser.gql<{ refresh: Payload }>(REFRESH)).refresh.refreshToken).toBeNull();
    });

    it('logoutAll ends every session of the user and clears the cookie', async () => {
      const { browser, payload } = await signedInBrowser();
      const other = new Browser(app);
      ok(await other.gql(LOGIN, { email: payload.user.email, password: PASSWORD }));

      const res = await browser.gql<{ logoutAll: boolean }>(
        'mutation { logoutAll }',
        {},
        { token: payload.accessToken },
      );

      expect(ok(res).logoutAll).toBe(true);
      expectClearing(res);
      expect(await browser.refreshCookie()).toBeUndefined();
      expect(await currentTokenHash(payload.user.id)).toEqual([]);
      expect(errorCode(await other.gql(REFRESH))).toBe('UNAUTHENTICATED');
    });
  });

  describe('CSRF prevention', () => {
    it.each(['text/plain', 'application/x-www-form-urlencoded'])(
      'refuses a cookie-bearing refresh sent as a simple POST (%s) without rotating the token',
      async (contentType) => {
        const { browser, payload, token } = await signedInBrowser();

        const res = await browser.send({
          method: 'POST',
          headers: { 'content-type': contentType },
          body: JSON.stringify({ query: REFRESH }),
        });

        expect(res.status).toBe(400);
        expect(res.errors?.[0]?.message).toMatch(/CSRF|Cross-Site Request Forgery/i);
        expect(res.setCookies).toEqual([]);
        expect(await currentTokenHash(payload.user.id)).toEqual([sha256(token)]);
      },
    );

    it('refuses a cookie-bearing refresh or logout sent as a GET without running it', async () => {
      const { browser, payload, token } = await signedInBrowser();

      for (const query of [REFRESH, LOGOUT]) {
        const res = await browser.send({ method: 'GET', path: `/graphql?query=${encodeURIComponent(query)}` });
        expect(res.status).toBe(400);
        expect(res.setCookies).toEqual([]);
      }
      expect(await currentTokenHash(payload.user.id)).toEqual([sha256(token)]);
    });
  });

  describe('CORS', () => {
    async function preflightAndPost(browser: Browser, origin: string): Promise<Answer<unknown>[]> {
      const preflight = await browser.send({
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
      });
      const post = await browser.gql(REFRESH, {}, { headers: { origin } });
      return [preflight, post];
    }

    it('allows the configured origin with credentials', async () => {
      const { browser } = await signedInBrowser();

      for (const res of await preflightAndPost(browser, ORIGIN)) {
        expect(res.headers.get('access-control-allow-origin')).toBe(ORIGIN);
        expect(res.headers.get('access-control-allow-credentials')).toBe('true');
      }
    });

    it.each(['https://evil.example', 'http://localhost:3000', `${ORIGIN}.evil.example`])(
      'gives %s neither the origin nor credentials',
      async (origin) => {
        const { browser } = await signedInBrowser();

        for (const res of await preflightAndPost(browser, origin)) {
          expect(res.headers.get('access-control-allow-origin')).toBeNull();
          expect(res.headers.get('access-control-allow-credentials')).toBeNull();
        }
      },
    );
  });
});

describe('with cookie mode off (the default)', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(() => app.stop());

  it('returns the refresh token in the payload and never sets a cookie, and ignores a refresh cookie', async () => {
    const browser = new Browser(app);
    const email = uniqueEmail('nocookie');
    const before = app.smtp.messages.length;
    await register(app, email);
    const code = await app.smtp.codeFor(email, /confirm/i, before);

    const signedUp = await browser.gql<{ verifyOtp: Payload }>(VERIFY_OTP, { email, code });
    const loggedIn = await browser.gql<{ login: Payload }>(LOGIN, { email, password: PASSWORD });
    const token = ok(loggedIn).login.refreshToken!;
    const rotated = await browser.gql<{ refresh: Payload }>(REFRESH_WITH, { t: token });

    expect(ok(signedUp).verifyOtp.refreshToken).toEqual(expect.any(String));
    expect(token).toEqual(expect.any(String));
    expect(ok(rotated).refresh.refreshToken).toEqual(expect.any(String));
    for (const res of [signedUp, loggedIn, rotated]) expect(res.setCookies).toEqual([]);

    // A cookie carrying a live refresh token is not read by refresh or logout.
    await browser.plant(rotated.data!.refresh.refreshToken!);
    const viaCookie = await browser.gql(REFRESH);
    const logout = await browser.gql(LOGOUT);
    expect(errorCode(viaCookie)).toBe('UNAUTHENTICATED');
    expect(errorCode(logout)).toBe('UNAUTHENTICATED');
    for (const res of [viaCookie, logout]) expect(res.setCookies).toEqual([]);
    expect(
      ok(await browser.gql<{ refresh: Payload }>(REFRESH_WITH, { t: rotated.data!.refresh.refreshToken })).refresh
        .refreshToken,
    ).toEqual(expect.any(String));
  });
});
