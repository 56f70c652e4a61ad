// Security properties of the API, checked through HTTP: token forgery, credential oracles, password
// handling, secrets at rest, error leakage and request-level protections (body limit, CSRF, GET mutations).
import { randomBytes } from 'node:crypto';
import { BcryptPool } from '../src/modules/passwords/bcrypt-pool';
import jwt from 'jsonwebtoken';
import type { Logger } from '../src/common/logger';
import { login, me, refresh, register, requestOtp, signUp, uniqueEmail, verifyOtp, type Tokens } from './helpers/flows';
import { httpRequest, type GraphQLBody } from './helpers/client';
import { errorCode, startTestApp, TEST_JWT_SECRET, type TestApp } from './helpers/test-server';

// The per-IP request limit is not what these tests are about; keep it out of their way.
// HS256 (JWT_SECRET): these attacks forge tokens with the secret, to show every claim is checked; the ES256 keys'
// own attacks are in signing-keys.test.ts.
const ENV = { RATE_LIMIT_PER_MINUTE: '1000000', JWT_ALGORITHM: 'HS256' };

type Claims = Record<string, unknown>;

const b64url = (value: unknown): string => Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');

/** Signs `claims` with jsonwebtoken, with full control over the header (typ undefined = no typ at all). */
function forge(claims: Claims, opts: { alg?: jwt.Algorithm; secret?: string; typ?: string | undefined } = {}): string {
  const alg = opts.alg ?? 'HS256';
  const typ = 'typ' in opts ? opts.typ : 'at+jwt';
  return jwt.sign(claims, opts.secret ?? TEST_JWT_SECRET, { algorithm: alg, header: { alg, typ } });
}

/** The claims of a real access token, for forging tokens that differ from it in one property only. */
function claimsOf(token: string): Claims {
  return { ...(jwt.decode(token) as Claims) };
}

function without(claims: Claims, name: string): Claims {
  const copy = { ...claims };
  delete copy[name];
  return copy;
}

/** POSTs a raw body straight to the server, for what app.gql cannot express (headers, sizes, content types). */
function rawFetch(app: TestApp, init: RequestInit & { path?: string } = {}) {
  return httpRequest<GraphQLBody>(app.url + (init.path ?? ''), init);
}

async function userCount(app: TestApp, email: string): Promise<number> {
  const rows = await app.sql<{ n: string | number }>('select count(*) as n from users where email = ?', [email]);
  return Number(rows[0]!.n);
}

/** A code appears as a token of its own: not inside a longer run of digits, hex, base64 or a timestamp. */
function containsCode(text: string, code: string): boolean {
  return new RegExp(`(?<![0-9A-Za-z.+/=_-])${code}(?![0-9A-Za-z.+/=_-])`).test(text);
}

const ME = '{ me { id } }';
const REGISTER = 'mutation($input: RegisterInput!) { register(input: $input) { expiresIn retryAfter } }';

describe('with a running server', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ env: ENV });
  });
  afterAll(async () => {
    await app.stop();
  });

  describe('access tokens', () => {
    let tokens: Tokens;
    let claims: Claims;
    beforeAll(async () => {
      tokens = await signUp(app, uniqueEmail('forge'));
    });
    // Issued "now" on the app clock, which the expiry test moves: every test here gets claims valid at its start.
    beforeEach(() => {
      const now = Math.floor(app.clock.now().getTime() / 1000);
      claims = { ...claimsOf(tokens.accessToken), iat: now, exp: now + 1800 };
    });

    it('accepts a hand-built token that has everything right (control for the attacks below)', async () => {
      const res = await me(app, forge(claims));

      expect(res.errors).toBeUndefined();
      expect(res.data?.me.id).toBe(tokens.user.id);
    });

    it('refuses an unsigned token with alg "none"', async () => {
      const token = `${b64url({ alg: 'none', typ: 'at+jwt' })}.${b64url(claims)}.`;

      expect(errorCode(await app.gql(ME, {}, { token }))).toBe('UNAUTHENTICATED');
    });

    it('refuses a token signed with HS512, even with the right secret', async () => {
      const token = forge(claims, { alg: 'HS512' });

      expect(errorCode(await app.gql(ME, {}, { token }))).toBe('UNAUTHENTICATED');
    });

    it('refuses a token signed with another secret', async () => {
      const token = forge(claims, { secret: 'another-secret-that-is-at-least-32-bytes!!' });

      expect(errorCode(await app.gql(ME, {}, { token }))).toBe('UNAUTHENTICATED');
    });

    it.each([
      ['a wrong issuer', () => forge({ ...claims, iss: 'evil-issuer' })],
      ['a wrong audience', () => forge({ ...claims, aud: 'another-service' })],
      ['no expiry', () => forge(without(claims, 'exp'))],
    ])('refuses a token with %s', async (_name, build) => {
      expect(errorCode(await app.gql(ME, {}, { token: build() }))).toBe('UNAUTHENTICATED');
    });

    it.each([
      ['no typ', undefined],
      ['typ "JWT"', 'JWT'],
    ])('refuses a token whose header has %s instead of at+jwt', async (_name, typ) => {
      const token = forge(claims, { typ });
      expect(jwt.decode(token, { complete: true })?.header.typ).toBe(typ);

      expect(errorCode(await app.gql(ME, {}, { token }))).toBe('UNAUTHENTICATED');
    });

    it('refuses an access token once its 30 minutes are over', async () => {
      const fresh = await signUp(app, uniqueEmail('expiry'));
      expect((await me(app, fresh.accessToken)).data?.me.id).toBe(fresh.user.id);

      app.clock.advance(1801);

      expect(errorCode(await me(app, fresh.accessToken))).toBe('UNAUTHENTICATED');
    });

    it('refuses a refresh token sent as the bearer token', async () => {
      expect(errorCode(await app.gql(ME, {}, { token: tokens.refreshToken }))).toBe('UNAUTHENTICATED');
    });

    it.each([
      ['garbage as bearer token', 'Bearer not.a.token'],
      ['a valid token under another scheme', () => `Token ${tokens.accessToken}`],
      ['Basic credentials', 'Basic dXNlcjpwYXNz'],
    ])('refuses %s', async (_name, header) => {
      const authorization = typeof header === 'function' ? header() : header;

      expect(errorCode(await app.gql(ME, {}, { headers: { authorization } }))).toBe('UNAUTHENTICATED');
    });

    it('issues RFC 9068-shaped tokens: typ at+jwt, HS256 with kid hs256 (JWT_ALGORITHM=HS256), iss, aud, sub, sid, jti, iat, exp = iat + 1800, scope, roles', async () => {
      const email = uniqueEmail('shape');
      const signed = await signUp(app, email);

      const decoded = jwt.decode(signed.accessToken, { complete: true })!;
      const payload = decoded.payload as Claims;
      const sessions = await app.gql<{ sessions: Array<{ id: string; current: boolean }> }>(
        '{ sessions { id current } }',
        {},
        { token: signed.accessToken },
      );

      expect(decoded.header).toMatchObject({ typ: 'at+jwt', alg: 'HS256', kid: 'hs256' });
      expect(payload).toMatchObject({
        iss: 'portcullis',
        aud: 'portcullis',
        sub: signed.user.id,
        scope: 'self:read self:write',
        roles: ['USER'],
      });
      expect(payload.sid).toBe(sessions.data?.sessions.find((s) => s.current)?.id);
      expect(typeof payload.jti).toBe('string');
      expect(payload.jti).not.toBe(claims.jti);
      expect(payload.iat).toBe(Math.floor(app.clock.now().getTime() / 1000));
      expect(payload.exp).toBe((payload.iat as number) + 1800);
    });
  });

  describe('login', () => {
    afterEach(() => {
      jest.restoreAllMocks();
    });

    it('answers a wrong password and an unknown email with the same INVALID_CREDENTIALS', async () => {
      const email = uniqueEmail('creds');
      await signUp(app, email);

      const wrongPassword = await login(app, email, 'Wrong-Password-1');
      const unknownEmail = await login(app, uniqueEmail('nobody'), 'Wrong-Password-1');

      expect(errorCode(wrongPassword)).toBe('INVALID_CREDENTIALS');
      expect(errorCode(unknownEmail)).toBe('INVALID_CREDENTIALS');
      expect(unknownEmail.errors![0]!.message).toBe(wrongPassword.errors![0]!.message);
    });

    it('spends exactly one bcrypt comparison for a wrong password and for an unknown email alike', async () => {
      const email = uniqueEmail('bcrypt');
      await signUp(app, email);
      const compare = jest.spyOn(BcryptPool.prototype, 'compare');

      compare.mockClear();
      const wrongPassword = await login(app, email, 'Wrong-Password-1');
      const wrongPasswordCompares = compare.mock.calls.length;
      compare.mockClear();
      const unknownEmail = await login(app, uniqueEmail('nobody'), 'Wrong-Password-1');
      const unknownEmailCompares = compare.mock.calls.length;
      compare.mockClear();
      const rightPassword = await login(app, email);

      expect(errorCode(wrongPassword)).toBe('INVALID_CREDENTIALS');
      expect(errorCode(unknownEmail)).toBe('INVALID_CREDENTIALS');
      expect(wrongPasswordCompares).toBe(1);
      expect(unknownEmailCompares).toBe(1);
      // the spy calls through: the right password still signs in
      expect(rightPassword.data?.login.user.email).toBe(email);
      expect(compare).toHaveBeenCalledTimes(1);
      compare.mockRestore();
    });
  });

  describe('passwords', () => {
    it('refuses "qzkw" with BAD_USER_INPUT on password, naming every unmet rule', async () => {
      const res = await app.gql(REGISTER, { input: { email: uniqueEmail('policy'), password: 'qzkw' } });

      expect(errorCode(res)).toBe('BAD_USER_INPUT');
      const ext = res.errors![0]!.extensions!;
      expect(ext.field).toBe('password');
      const reasons = ext.reasons as string[];
      expect(reasons).toHaveLength(4);
      expect(reasons).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/8|length|short|least/i),
          expect.stringMatching(/upper/i),
          expect.stringMatching(/digit|number/i),
          expect.stringMatching(/symbol|special|neither|letter nor digit/i),
        ]),
      );
    });

    it('accepts a 128-character password and refuses a 129-character one with BAD_USER_INPUT', async () => {
      const base = 'Aa1!' + randomBytes(93).toString('base64'); // random: hard to guess, as the policy asks
      expect(base).toHaveLength(128);

      const ok = await app.gql(REGISTER, { input: { email: uniqueEmail('len'), password: base } });
      const tooLong = await app.gql(REGISTER, { input: { email: uniqueEmail('len'), password: base + 'y' } });

      expect(ok.errors).toBeUndefined();
      expect(errorCode(tooLong)).toBe('BAD_USER_INPUT');
      expect(tooLong.errors![0]!.extensions!.field).toBe('password');
    });

    it("does not cut passwords at bcrypt's 72 bytes: a password differing only after byte 72 is refused", async () => {
      const first72 = 'Aa1!' + randomBytes(51).toString('base64'); // random: hard to guess, as the policy asks
      const password = first72 + 'Suffix-1';
      const lookalike = first72 + 'Suffix-2';
      const email = uniqueEmail('long');
      expect(password).toHaveLength(80);
      await signUp(app, email, password);

      const wrong = await login(app, email, lookalike);
      const right = await login(app, email, password);

      expect(errorCode(wrong)).toBe('INVALID_CREDENTIALS');
      expect(right.errors).toBeUndefined();
      expect(right.data?.login.user.email).toBe(email);
    });
  });

  describe('secrets at rest', () => {
    it('keeps no password, emailed code, refresh token or access token in any table', async () => {
      const email = uniqueEmail('dump');
      const password = 'Dump-Plaintext-Secret-42';
      const sent = app.smtp.messages.length;
      await register(app, email, password);
      const verifyCode = await app.smtp.codeFor(email, /confirm/i, sent);
      const signedIn = (await verifyOtp(app, email, verifyCode)).data!.verifyOtp;
      const rotated = (await refresh(app, signedIn.refreshToken)).data!.refresh;
      const beforeReset = app.smtp.messages.length;
      expect((await requestOtp(app, email, 'RESET_PASSWORD')).errors).toBeUndefined();
      const resetCode = await app.smtp.codeFor(email, /reset/i, beforeReset);

      const tables = await app.sql<{ table_name: string }>(
        "select table_name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE'",
      );
      const rows: string[] = [];
      for (const { table_name } of tables) {
        const quoted = `"${table_name.replace(/"/g, '""')}"`;
        for (const r of await app.sql<{ j: string }>(`select row_to_json(t)::text as j from ${quoted} t`))
          rows.push(r.j);
      }
      const dump = rows.join('\n');

      expect(tables.map((t) => t.table_name)).toEqual(expect.arrayContaining(['users', 'otp_codes', 'sessions']));
      expect(dump).toContain(signedIn.user.id); // the dump does hold this user's data
      expect(dump.toLowerCase()).not.toContain(password.toLowerCase());
      expect(containsCode(dump, verifyCode)).toBe(false);
      expect(containsCode(dump, resetCode)).toBe(false);
      for (const secret of [signedIn.refreshToken, rotated.refreshToken, signedIn.accessToken, rotated.accessToken]) {
        expect(dump).not.toContain(secret);
        expect(dump).not.toContain(secret.split('.').pop()!); // not even a JWT's signature part
      }

      const [user] = await app.sql<{ password_hash: string }>('select password_hash from users where email = ?', [
        email,
      ]);
      expect(user!.password_hash.startsWith('$2')).toBe(true);
      const codes = await app.sql<{ code_hash: string; purpose: string }>(
        'select code_hash, purpose from otp_codes where email = ?',
        [email],
      );
      expect(codes.map((c) => c.purpose).sort()).toEqual(['RESET_PASSWORD', 'VERIFY_EMAIL']);
      for (const { code_hash } of codes) {
        expect(code_hash).not.toBe(verifyCode);
        expect(code_hash).not.toBe(resetCode);
      }
    });
  });

  describe('request handling', () => {
    it('keeps GRAPHQL_PARSE_FAILED for a syntax error and GRAPHQL_VALIDATION_FAILED for an unknown field', async () => {
      const syntax = await app.gql('{ me { id ');
      const unknown = await app.gql('{ me { id noSuchField } }');

      expect(errorCode(syntax)).toBe('GRAPHQL_PARSE_FAILED');
      expect(errorCode(unknown)).toBe('GRAPHQL_VALIDATION_FAILED');
    });

    it('answers a request body over 100 kB with HTTP 413, and accepts one just under it', async () => {
      const body = (padding: number) =>
        JSON.stringify({ query: '{ __typename }', variables: { pad: 'x'.repeat(padding) } });
      const headers = { 'content-type': 'application/json' };

      const big = await rawFetch(app, { method: 'POST', headers, body: body(150_000) });
      const fits = await rawFetch(app, { method: 'POST', headers, body: body(90_000) });

      expect(big.status).toBe(413);
      expect(fits.status).toBe(200);
      expect(fits.body?.data).toEqual({ __typename: 'Query' });
    });

    it('refuses a mutation sent over GET without running it', async () => {
      const email = uniqueEmail('get');
      const query = `mutation { register(input: { email: "${email}", password: "Get-Mutation-1" }) { expiresIn } }`;
      const headers = { 'apollo-require-preflight': 'true' };

      const viaGet = await rawFetch(app, { method: 'GET', headers, path: `?query=${encodeURIComponent(query)}` });
      const queryViaGet = await rawFetch(app, {
        method: 'GET',
        headers,
        path: `?query=${encodeURIComponent('{ __typename }')}`,
      });

      expect(viaGet.status).toBeGreaterThanOrEqual(400);
      expect(viaGet.status).toBeLessThan(500);
      expect(viaGet.body?.data ?? undefined).toBeUndefined();
      expect(await userCount(app, email)).toBe(0);
      expect(queryViaGet.status).toBe(200); // GET itself works: it is the mutation that is refused
    });

    it.each(['text/plain', 'application/x-www-form-urlencoded'])(
      'refuses a POST with content-type %s (CSRF prevention) with HTTP 400, without running it',
      async (contentType) => {
        const email = uniqueEmail('csrf');
        const body = JSON.stringify({ query: REGISTER, variables: { input: { email, password: 'Csrf-Attempt-1' } } });

        const res = await rawFetch(app, { method: 'POST', headers: { 'content-type': contentType }, body });

        expect(res.status).toBe(400);
        expect(res.body?.errors?.[0]?.message).toMatch(/CSRF|Cross-Site Request Forgery/i);
        expect(await userCount(app, email)).toBe(0);
      },
    );
  });
});

describe('unexpected failures in production', () => {
  it('answer INTERNAL_SERVER_ERROR with a generic message and the request id, and log the cause under that id', async () => {
    const logged: Array<{ level: string; msg: string; fields?: Record<string, unknown> }> = [];
    const capture =
      (level: string) =>
      (msg: string, fields?: Record<string, unknown>): void => {
        logged.push({ level, msg, fields });
      };
    const logger: Logger = { info: capture('info'), warn: capture('warn'), error: capture('error') };
    const prod = await startTestApp({ env: { ...ENV, NODE_ENV: 'production', BCRYPT_COST: '10' }, logger });
    try {
      await prod.sql('drop table otp_codes cascade');

      const res = await rawFetch(prod, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          query: 'mutation($e: String!) { requestOtp(email: $e, purpose: LOGIN) { expiresIn } }',
          variables: { e: uniqueEmail('boom') },
        }),
      });

      const requestId = res.headers.get('x-request-id');
      const error = res.body?.errors?.[0];
      expect(requestId).toBeTruthy();
      expect(error?.extensions?.code).toBe('INTERNAL_SERVER_ERROR');
      expect(error?.extensions?.requestId).toBe(requestId);
      expect(error?.extensions).not.toHaveProperty('stacktrace');
      expect(error?.message).toMatch(/internal/i);
      for (const leak of ['otp_codes', 'relation', 'select ', 'insert ', '.ts:', 'node_modules']) {
        expect(res.text.toLowerCase()).not.toContain(leak);
      }
      expect(logged).toContainEqual(
        expect.objectContaining({ level: 'error', fields: expect.objectContaining({ requestId }) }),
      );
    } finally {
      await prod.stop();
    }
  });
});
