// HTTP hardening, checked through the running server: GraphQL document limits (graphql-limits.ts), batching,
// introspection and field suggestions in production, helmet headers, CORS, common passwords and input hygiene.
import { BcryptPool } from '../src/modules/passwords/bcrypt-pool';
import { connect } from 'node:net';
import { Lexer, Source, TokenKind } from 'graphql';
import { graphqlInit, httpRequest, type GraphQLBody, type HttpAnswer } from './helpers/client';
import { createUser, signIn } from './helpers/factories';
import {
  login,
  PASSWORD,
  register,
  requestOtp,
  resetPassword,
  signUp,
  uniqueEmail,
  verifyOtp,
  type Tokens,
} from './helpers/flows';
import { errorCode, startTestApp, type GraphQLResponse, type TestApp } from './helpers/test-server';

const PRODUCTION = { NODE_ENV: 'production', BCRYPT_COST: '10' };
const DEVELOPMENT = { NODE_ENV: 'development' };

type Raw = HttpAnswer<GraphQLBody>;

/** A request straight to the server, for status codes and headers; `path` is relative to the origin. */
function raw(app: TestApp, init: RequestInit & { path?: string } = {}): Promise<Raw> {
  return httpRequest(init.path === undefined ? app.url : new URL(init.path, app.url), init);
}

function postJson(app: TestApp, payload: unknown, headers: Record<string, string> = {}): Promise<Raw> {
  return raw(app, graphqlInit(payload, { headers }));
}

async function userCount(app: TestApp, email: string): Promise<number> {
  const rows = await app.sql<{ n: string | number }>('select count(*) as n from users where email = ?', [email]);
  return Number(rows[0]!.n);
}

/** A register mutation named Run selecting `selection`: a refused document must not create the user. */
function registerDoc(email: string, selection: string): string {
  return `mutation Run { register(input: { email: "${email}", password: "${PASSWORD}" }) { ${selection} } }`;
}

/** `inner` wrapped in n inline fragments: armor counts each as one level of depth and multiplies cost by 1.5. */
function nested(n: number, inner: string): string {
  return `${'... on CodeSent { '.repeat(n)}${inner}${' }'.repeat(n)}`;
}

/** The number of lexical tokens, counted as graphql-js's parser counts them against maxTokens. */
function tokenCount(doc: string): number {
  const lexer = new Lexer(new Source(doc));
  let n = 0;
  while (lexer.advance().kind !== TokenKind.EOF) n += 1;
  return n;
}

/** A new ADMIN, signed in after the promotion so that the token carries the role. */
async function makeAdmin(app: TestApp): Promise<Tokens> {
  return signIn(app, await createUser(app, { roles: ['ADMIN'] }));
}

/** Helmet's headers on /graphql and /healthz, the CSP included; HSTS only in production; never X-Powered-By. */
async function expectSecurityHeaders(app: TestApp, production: boolean): Promise<void> {
  for (const res of [await postJson(app, { query: '{ __typename }' }), await raw(app, { path: '/healthz' })]) {
    expect(res.status).toBe(200);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    expect(res.headers.get('cross-origin-opener-policy')).toBe('same-origin');
    expect(res.headers.get('x-dns-prefetch-control')).toBe('off');
    expect(res.headers.get('x-powered-by')).toBeNull();
    expect(res.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
    if (production) {
      expect(res.headers.get('strict-transport-security')).toMatch(/max-age=\d+/);
    } else {
      expect(res.headers.get('strict-transport-security')).toBeNull();
    }
  }
}

/**
 * A preflight and a POST from `origin`: the origin is echoed when allowed, with Access-Control-Allow-Credentials
 * only when `credentials` (an origin named in CORS_ORIGINS); no CORS header otherwise.
 */
async function expectCors(app: TestApp, origin: string, allowed: boolean, credentials = allowed): Promise<void> {
  const preflight = await raw(app, {
    method: 'OPTIONS',
    headers: {
      origin,
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'content-type,authorization',
    },
  });
  const post = await postJson(app, { query: '{ __typename }' }, { origin });

  expect(preflight.status).toBeLessThan(allowed ? 300 : 500);
  expect(post.status).toBe(200);
  for (const res of [preflight, post]) {
    expect(res.headers.get('access-control-allow-origin')).toBe(allowed ? origin : null);
    expect(res.headers.get('access-control-allow-credentials')).toBe(allowed && credentials ? 'true' : null);
  }
}

describe('in development', () => {
  let app: TestApp;
  beforeAll(async () => void (app = await startTestApp({ env: DEVELOPMENT })));
  afterAll(() => app.stop());

  describe('document limits', () => {
    /** At the limit the document runs (the user exists); one over, it is refused with HTTP 400 before running. */
    async function expectLimit(build: (email: string, n: number) => string, limit: number): Promise<void> {
      const okEmail = uniqueEmail('limit-ok');
      const overEmail = uniqueEmail('limit-over');

      const ok = await postJson(app, { query: build(okEmail, limit), operationName: 'Run' });
      const over = await postJson(app, { query: build(overEmail, limit + 1), operationName: 'Run' });

      expect(ok.status).toBe(200);
      expect(ok.body?.errors).toBeUndefined();
      expect(await userCount(app, okEmail)).toBe(1);
      expect(over.status).toBe(400);
      expect(['GRAPHQL_VALIDATION_FAILED', 'GRAPHQL_PARSE_FAILED']).toContain(errorCode(over.body!));
      expect(over.body?.data ?? undefined).toBeUndefined();
      expect(await userCount(app, overEmail)).toBe(0);
    }

    it('runs a document of depth 10 and refuses depth 11', async () => {
      // register (1) + n - 2 inline fragments + expiresIn (1) = depth n
      await expectLimit((email, depth) => registerDoc(email, nested(depth - 2, 'expiresIn')), 10);
    });

    it('runs a document with 15 aliases and refuses 16', async () => {
      const aliases = (n: number) => Array.from({ length: n }, (_, i) => `a${i}: expiresIn`).join(' ');
      await expectLimit((email, n) => registerDoc(email, aliases(n)), 15);
    });

    it('runs a document with 10 directives and refuses 11', async () => {
      const fields = (n: number) => `expiresIn ${'__typename @include(if: true) '.repeat(n)}`;
      await expectLimit((email, n) => registerDoc(email, fields(n)), 10);
    });

    it('runs a document of 1000 tokens and refuses 1001', async () => {
      // Filler operations of 5 tokens each (many copies of one field would trip graphql-js's own budget for
      // comparing fields); the rest as extra fields of register. Only the operation Run is executed.
      const withTokens = (email: string, n: number) => {
        const missing = n - tokenCount(registerDoc(email, 'expiresIn'));
        const filler = Array.from({ length: Math.floor(missing / 5) }, (_, i) => ` query Q${i} { __typename }`).join(
          '',
        );
        return registerDoc(email, `expiresIn${' retryAfter'.repeat(missing % 5)}`) + filler;
      };
      expect(tokenCount(withTokens('t@example.com', 1000))).toBe(1000);
      expect(tokenCount(withTokens('t@example.com', 1001))).toBe(1001);

      await expectLimit(withTokens, 1000);
    });

    it('refuses a document whose cost is over 5000, within the depth, alias, directive and token limits', async () => {
      // armor's cost: a scalar 1, an object or fragment 2 + 1.5 × its children. Eight nested fragments under
      // register put k scalars at depth 10: cost = 4 × (1.5^9 − 1) + 1.5^9 × k, 4993 for k = 126, 5031 for 127.
      const costly = (email: string, k: number) => registerDoc(email, nested(8, '__typename '.repeat(k)));
      const cost = (k: number) => 4 * (1.5 ** 9 - 1) + 1.5 ** 9 * k;
      expect(cost(126)).toBeLessThanOrEqual(5000);
      expect(cost(127)).toBeGreaterThan(5000);
      expect(tokenCount(costly('c@example.com', 127))).toBeLessThan(1000);
      await expectLimit(costly, 126);

      // A realistic one: a full page of 100 users costs 3650; two such pages cost 7300.
      const page =
        'users(first: 100) { edges { node { id email fullName emailVerified active roles scopes createdAt } } }';
      const one = await postJson(app, { query: `{ ${page} }` });
      const two = await postJson(app, { query: `{ a: ${page} b: ${page} }` });
      expect(errorCode(one.body!)).toBe('UNAUTHENTICATED'); // past validation: refused only for want of a token
      expect(two.status).toBe(400);
      expect(errorCode(two.body!)).toBe('GRAPHQL_VALIDATION_FAILED');
    });

    it('refuses a batched request (a JSON array of operations) with 4xx, running none of them', async () => {
      const emails = [uniqueEmail('batch'), uniqueEmail('batch')];

      const res = await postJson(
        app,
        emails.map((email) => ({ query: registerDoc(email, 'expiresIn') })),
      );
      const single = await postJson(app, { query: '{ __typename }' });

      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      for (const email of emails) expect(await userCount(app, email)).toBe(0);
      expect(single.status).toBe(200);
    });
  });

  it('suggests the right field for an unknown one ("Did you mean")', async () => {
    const res = await app.gql('{ mee { id } }');

    expect(errorCode(res)).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(res.errors![0]!.message).toMatch(/Did you mean "me"/);
  });

  it("sends helmet's headers on /graphql and /healthz, without Strict-Transport-Security or X-Powered-By", async () => {
    await expectSecurityHeaders(app, false);
  });

  it.each([
    ['http://localhost:3000', true],
    ['http://127.0.0.1:5173', true],
    ['https://evil.example', false],
    ['http://localhost.evil.example', false],
  ])('without CORS_ORIGINS, treats the origin %s as allowed: %s, never with credentials', async (origin, allowed) => {
    await expectCors(app, origin, allowed, false);
  });

  describe('common passwords', () => {
    const COMMON = 'P@ssw0rd'; // "p@ssw0rd" is on the list; otherwise it has every kind of character

    function expectCommonRefusal(res: GraphQLResponse, field: string): void {
      expect(errorCode(res)).toBe('BAD_USER_INPUT');
      expect(res.errors![0]!.extensions!.field).toBe(field);
      expect(res.errors![0]!.extensions!.reasons).toEqual([expect.stringMatching(/common/i)]);
    }

    it('refuses one on register', async () => {
      const email = uniqueEmail('common');
      const res = await app.gql('mutation($i: RegisterInput!) { register(input: $i) { expiresIn } }', {
        i: { email, password: COMMON },
      });

      expectCommonRefusal(res, 'password');
      expect(await userCount(app, email)).toBe(0);
    });

    it('refuses one on changePassword, keeping the old password', async () => {
      const t = await signUp(app);
      const res = await app.gql(
        'mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }',
        { c: PASSWORD, n: COMMON },
        { token: t.accessToken },
      );

      expectCommonRefusal(res, 'newPassword');
      expect((await login(app, t.user.email, PASSWORD)).data?.login.user.id).toBe(t.user.id);
    });

    it('refuses one on resetPassword, even with a valid code', async () => {
      const t = await signUp(app);
      const before = app.smtp.messages.length;
      expect((await requestOtp(app, t.user.email, 'RESET_PASSWORD')).errors).toBeUndefined();
      const code = await app.smtp.codeFor(t.user.email, /reset/i, before);

      const res = await resetPassword(app, t.user.email, code, COMMON);

      expectCommonRefusal(res, 'newPassword');
      expect((await login(app, t.user.email, PASSWORD)).data?.login.user.id).toBe(t.user.id);
      expect(errorCode(await login(app, t.user.email, COMMON))).toBe('INVALID_CREDENTIALS');
    });
  });

  describe('input hygiene', () => {
    const REGISTER = 'mutation($i: RegisterInput!) { register(input: $i) { expiresIn } }';

    function expectBadInput(res: GraphQLResponse, field: string, reason: RegExp): void {
      expect(res.status).toBeLessThan(500);
      expect(errorCode(res)).toBe('BAD_USER_INPUT');
      expect(res.errors![0]!.extensions!.field).toBe(field);
      expect(res.errors![0]!.extensions!.reasons).toEqual(expect.arrayContaining([expect.stringMatching(reason)]));
    }

    it.each([
      ['an email over 254 characters', `${'a'.repeat(60)}@${'b'.repeat(190)}.com`, /254/],
      ['an email with a control character', 'ev\u0007il@example.com', /control/i],
      ['an email with a NUL character', 'ev\u0000il@example.com', /control/i],
      ['an email without @', 'no-at-sign.example.com', /email address/i],
    ])('refuses %s on register with field email', async (_name, email, reason) => {
      const res = await app.gql(REGISTER, { i: { email, password: PASSWORD } });

      expectBadInput(res, 'email', reason);
      expect(await userCount(app, email.replaceAll('\u0000', ''))).toBe(0); // PostgreSQL text holds no NUL
    });

    it.each([
      ['over 100 characters', 'N'.repeat(101), /100/],
      ['with a control character', 'Mallory\u001b[31m', /control/i],
      ['with a NUL character', 'Mallory\u0000', /control/i],
    ])('refuses a fullName %s with field fullName', async (_name, fullName, reason) => {
      const email = uniqueEmail('name');
      const res = await app.gql(REGISTER, { i: { email, password: PASSWORD, fullName } });

      expectBadInput(res, 'fullName', reason);
      expect(await userCount(app, email)).toBe(0);
    });

    it('refuses a 129-character password on login before hashing it', async () => {
      const email = uniqueEmail('long');
      await signUp(app, email);
      const compare = jest.spyOn(BcryptPool.prototype, 'compare');
      try {
        const wrong128 = await login(app, email, 'Aa1!' + 'x'.repeat(124));
        const callsFor128 = compare.mock.calls.length;
        compare.mockClear();
        const long129 = await login(app, email, 'Aa1!' + 'x'.repeat(125));

        expect(errorCode(wrong128)).toBe('INVALID_CREDENTIALS');
        expect(callsFor128).toBe(1); // control: the spy does see the comparisons login makes
        expectBadInput(long129, 'password', /128/);
        expect(compare).not.toHaveBeenCalled();
      } finally {
        compare.mockRestore();
      }
    });

    describe('ids of the wrong format', () => {
      let admin: Tokens;
      beforeAll(async () => void (admin = await makeAdmin(app)));

      it.each([
        ['revokeSession', 'id', 'mutation($v: ID!) { revokeSession(id: $v) }'],
        ['user', 'id', 'query($v: ID!) { user(id: $v) { id } }'],
        ['setUserRoles', 'userId', 'mutation($v: ID!) { setUserRoles(userId: $v, roles: [USER]) { id } }'],
        ['setUserActive', 'userId', 'mutation($v: ID!) { setUserActive(userId: $v, active: false) { id } }'],
        ['unlockUser', 'userId', 'mutation($v: ID!) { unlockUser(userId: $v) { id } }'],
      ])('are refused by %s with BAD_USER_INPUT on %s', async (_op, field, query) => {
        for (const v of ['42', 'not-an-id', "1' or '1'='1", '00000000-0000-0000-0000-00000000000g', 42]) {
          expectBadInput(await app.gql(query, { v }, { token: admin.accessToken }), field, /id/i);
        }
      });
    });

    it('trims emails and compares them case-insensitively', async () => {
      const local = `Foo.${Date.now()}`;
      const stored = `${local.toLowerCase()}@example.com`;
      const before = app.smtp.messages.length;

      await register(app, `  ${local}@Example.COM `);
      const code = await app.smtp.codeFor(stored, /confirm/i, before);
      const verified = await verifyOtp(app, stored, code);
      const lower = await login(app, stored);
      const shouting = await login(app, ` ${stored.toUpperCase()}\t`);

      expect(verified.data?.verifyOtp.user.email).toBe(stored);
      expect(lower.data?.login.user.email).toBe(stored);
      expect(shouting.data?.login.user.id).toBe(lower.data?.login.user.id);
      const rows = await app.sql<{ email: string }>('select email from users where lower(email) like ?', [
        `%${local.toLowerCase()}%`,
      ]);
      expect(rows).toEqual([{ email: stored }]);
    });
  });
});

describe('in production', () => {
  let app: TestApp;
  beforeAll(async () => void (app = await startTestApp({ env: PRODUCTION })));
  afterAll(() => app.stop());

  it('refuses introspection with GRAPHQL_VALIDATION_FAILED', async () => {
    const res = await postJson(app, { query: '{ __schema { types { name } } }' });

    expect(res.status).toBe(400);
    expect(errorCode(res.body!)).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(res.body?.data ?? undefined).toBeUndefined();
  });

  it('suggests no field names for an unknown field', async () => {
    const res = await app.gql('{ mee { id } }');

    expect(errorCode(res)).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(JSON.stringify(res.errors)).not.toMatch(/did you mean/i);
  });

  it("adds Strict-Transport-Security to helmet's headers on /graphql and /healthz, without X-Powered-By", async () => {
    await expectSecurityHeaders(app, true);
  });

  it('allows no origin, not even localhost, without CORS_ORIGINS', async () => {
    await expectCors(app, 'http://localhost:3000', false);
  });
});

describe('in production with INTROSPECTION=true and CORS_ORIGINS', () => {
  const ORIGIN = 'https://app.example.com';
  let app: TestApp;
  beforeAll(
    async () =>
      void (app = await startTestApp({ env: { ...PRODUCTION, INTROSPECTION: 'true', CORS_ORIGINS: ORIGIN } })),
  );
  afterAll(() => app.stop());

  it('answers introspection', async () => {
    const res = await app.gql<{ __schema: { types: Array<{ name: string }> } }>('{ __schema { types { name } } }');

    expect(res.errors).toBeUndefined();
    expect(res.data?.__schema.types.map((t) => t.name)).toEqual(expect.arrayContaining(['User', 'Mutation']));
  });

  it.each([
    [ORIGIN, true],
    ['https://evil.example', false],
    ['http://localhost:3000', false],
    [`${ORIGIN}.evil.example`, false],
  ])('echoes only a configured origin with credentials: %s allowed %s', async (origin, allowed) => {
    await expectCors(app, origin, allowed);
  });
});

describe('with REQUEST_TIMEOUT=1', () => {
  let app: TestApp;
  beforeAll(async () => void (app = await startTestApp({ env: { REQUEST_TIMEOUT: '1' } })));
  afterAll(async () => app.stop());

  it('answers 408 and closes a connection that has not sent its whole request in time', async () => {
    const { port } = new URL(app.url);
    const socket = connect(Number(port), '127.0.0.1');
    let received = '';
    socket.on('data', (d: Buffer) => (received += d.toString()));
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    // Headers promise 100 bytes of body; only one is sent, as a slow-loris client would.
    socket.write('POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{');
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      closed.then(() => 'closed'),
      new Promise((r) => (timer = setTimeout(() => r('still open'), 5000))),
    ]);
    clearTimeout(timer);
    socket.destroy();
    expect(outcome).toBe('closed');
    expect(received).toMatch(/^HTTP\/1\.1 408/);
  });
});
