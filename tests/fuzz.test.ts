// Property-based fuzzing through HTTP: every mutation and the admin queries get random and hostile variables
// (any Unicode, control characters, injection snippets, bodies over 100 kB, wrong types, unknown input fields,
// random enum values), as an anonymous caller and as a signed-in ADMIN. The server must never answer 5xx or
// INTERNAL_SERVER_ERROR, and the database must stay consistent. Fixed runs per property; the seed is logged
// and can be replayed with FUZZ_SEED. Each property is a test of its own: it starts from the same victim state and
// checks what it reached itself, so it passes alone and in any order.
import fc from 'fast-check';
import { createUser } from './helpers/factories';
import { login, PASSWORD, signUp, type Tokens } from './helpers/flows';
import { graphqlInit, httpRequest, type GraphQLBody } from './helpers/client';
import { startTestApp, type TestApp } from './helpers/test-server';

const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const NUM_RUNS = 150;
const BODY_LIMIT = 100 * 1024; // express.json({ limit: '100kb' })

// Placeholders replaced when the request is sent, by values that exist only once the server runs.
const ADMIN_ID = '<admin-id>';
const VICTIM_ID = '<victim-id>';
const VICTIM_EMAIL = '<victim-email>';
const LIVE_REFRESH = '<live-refresh-token>';

// ---- arbitraries ----
const INJECTIONS = [
  "' OR '1'='1",
  "'; DROP TABLE users; --",
  '" OR ""="',
  '\\',
  '%',
  '_',
  '%_%',
  '{"$ne": null}',
  '{"$gt": ""}',
  '<script>alert(1)</script>',
  '<img src=x onerror=alert(1)>',
  '${7*7}',
  '{{7*7}}',
  '../../etc/passwd',
  'null',
  'undefined',
  '__proto__',
  'constructor',
  '\u0000',
  'a\u0000b@example.com',
  '\r\nBcc: evil@example.com',
  '\u202e',
  '\ufeff',
  '\ud800',
  '\udfff',
  'ǅ',
  'İ@example.com',
  'ß@EXAMPLE.COM',
  '$2b$04$abcdefghijklmnopqrstuu',
  'eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0In0.e30.',
  '0',
  '-1',
  '1e309',
  'NaN',
];
const controlChar = fc
  .integer({ min: 0, max: 0x9f })
  .filter((c) => c < 0x20 || c >= 0x7f)
  .map((c) => String.fromCharCode(c));
const surrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));
const long = fc
  .tuple(fc.integer({ min: 90_000, max: 200_000 }), fc.constantFrom('a', 'é', '\u0000', '"', '𝕏', '\\'))
  .map(([n, c]) => c.repeat(Math.ceil(n / Buffer.byteLength(c))));

const text: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 3, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  {
    weight: 2,
    arbitrary: fc.string({
      unit: fc.oneof(controlChar, surrogate, fc.string({ minLength: 1, maxLength: 1 })),
      maxLength: 20,
    }),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.string({ maxLength: 20 }), fc.nat(20))
      .map(([t, at]) => `${t.slice(0, at)}\u0000${t.slice(at)}`),
  },
  { weight: 3, arbitrary: fc.constantFrom(...INJECTIONS) },
  { weight: 1, arbitrary: fc.string({ minLength: 100, maxLength: 400 }) },
  { weight: 1, arbitrary: long },
);
const wrongType: fc.Arbitrary<unknown> = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.object({ maxDepth: 2 }),
  fc.array(fc.anything({ maxDepth: 1 }), { maxLength: 3 }),
);
/** Mostly well-typed, sometimes of a wrong type. */
const maybeWrong = <T>(arb: fc.Arbitrary<T>): fc.Arbitrary<unknown> =>
  fc.oneof({ weight: 5, arbitrary: arb }, { weight: 1, arbitrary: wrongType });
const str = maybeWrong(text);

const email = maybeWrong(
  fc.oneof(
    fc.emailAddress(),
    fc
      .tuple(fc.emailAddress(), fc.constantFrom('', ' ', '\t', '\n '), fc.boolean())
      .map(([e, pad, up]) => `${pad}${up ? e.toUpperCase() : e}${pad}`),
    fc.tuple(text, fc.emailAddress()).map(([t, e]) => `${t}${e}`),
    fc.constant(VICTIM_EMAIL),
    text,
  ),
);
const password = maybeWrong(
  fc.oneof(
    fc.string({ minLength: 4, maxLength: 20 }).map((s) => `Aa1!${s}`),
    fc.constantFrom(PASSWORD, 'P@ssw0rd', 'Aa1!'.padEnd(129, 'x')),
    text,
  ),
);
const code = maybeWrong(
  fc.oneof(fc.stringMatching(/^\d{6}$/), fc.constantFrom('000000', '١٢٣٤٥٦', ' 123456', '123456\n'), text),
);
const id = fc.oneof(fc.uuid(), fc.constantFrom(ADMIN_ID, VICTIM_ID), fc.integer(), text, wrongType);
const enumValue = (values: string[]): fc.Arbitrary<unknown> =>
  fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...values) },
    fc.constantFrom(...values.map((v) => v.toLowerCase())),
    str,
  );
// Cursors are base64url JSON [timestamp, id]: forged ones with plausible and absurd timestamps and ids.
const cursorAt = fc.oneof(
  {
    weight: 3,
    arbitrary: fc
      .date({ min: new Date('1990-01-01'), max: new Date('2100-01-01'), noInvalidDate: true })
      .map((d) => d.toISOString()),
  },
  fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
  text,
);
const cursorId = fc.oneof(
  fc.uuid(),
  fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map(String),
  fc.stringMatching(/^[0-9a-f-]{1,36}$/),
  text,
);
const cursor = fc.oneof(
  fc.tuple(cursorAt, cursorId).map((pair) => Buffer.from(JSON.stringify(pair), 'utf8').toString('base64url')),
  str,
);
const first = maybeWrong(fc.oneof(fc.integer({ min: -5, max: 150 }), fc.integer(), fc.constant(2 ** 31 - 1)));
/** Input objects, sometimes with unknown fields added. */
const withExtras = (arb: fc.Arbitrary<Record<string, unknown>>): fc.Arbitrary<unknown> =>
  maybeWrong(
    fc
      .tuple(
        arb,
        fc.oneof(
          { weight: 3, arbitrary: fc.constant({}) },
          fc.dictionary(fc.constantFrom('isAdmin', 'roles', 'id', '__proto__', 'x'), fc.anything({ maxDepth: 1 })),
        ),
      )
      .map(([v, extra]) => ({ ...v, ...extra })),
  );
/** Two runs in three as the ADMIN, who gets past the permission checks. */
const asAdmin = fc.constantFrom(true, true, false);
const optional = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });

/** The kinds of answer a fuzz run is sorted into, so that a run which never got past the front door does not pass unnoticed. */
type Kind = 'tooLarge' | 'badUserInput' | 'invalidRequest' | 'succeeded';
type Reached = Record<Kind, number>;
const noneReached = (): Reached => ({ tooLarge: 0, badUserInput: 0, invalidRequest: 0, succeeded: 0 });

interface Operation {
  readonly query: string;
  readonly variables: fc.Arbitrary<Record<string, unknown>>;
  /** What its runs reach with any seed: each kind came up 15+ times in 150 runs with 4 seeds (refresh: 6+). */
  readonly reaches: readonly Kind[];
}

const OPERATIONS: Record<string, Operation> = {
  register: {
    query: 'mutation($input: RegisterInput!) { register(input: $input) { expiresIn retryAfter } }',
    variables: fc.record({
      input: withExtras(
        fc.record({ email, password, fullName: optional(fc.option(str)) }, { requiredKeys: ['email', 'password'] }),
      ),
    }),
    reaches: ['badUserInput', 'invalidRequest', 'succeeded'],
  },
  login: {
    query:
      'mutation($email: String!, $password: String!) { login(email: $email, password: $password) { accessToken refreshToken user { id email } } }',
    variables: fc.record({ email, password }),
    reaches: ['badUserInput', 'invalidRequest'],
  },
  requestOtp: {
    query:
      'mutation($email: String!, $purpose: OtpPurpose!) { requestOtp(email: $email, purpose: $purpose) { expiresIn retryAfter } }',
    variables: fc.record({ email, purpose: enumValue(['LOGIN', 'VERIFY_EMAIL', 'RESET_PASSWORD']) }),
    reaches: ['badUserInput', 'invalidRequest', 'succeeded'],
  },
  verifyOtp: {
    query:
      'mutation($email: String!, $code: String!, $purpose: OtpPurpose!) { verifyOtp(email: $email, code: $code, purpose: $purpose) { accessToken user { id } } }',
    variables: fc.record({ email, code, purpose: enumValue(['LOGIN', 'VERIFY_EMAIL', 'RESET_PASSWORD']) }),
    reaches: ['badUserInput', 'invalidRequest'],
  },
  resetPassword: {
    query:
      'mutation($email: String!, $code: String!, $p: String!) { resetPassword(email: $email, code: $code, newPassword: $p) }',
    variables: fc.record({ email, code, p: password }),
    reaches: ['badUserInput', 'invalidRequest'],
  },
  refresh: {
    query: 'mutation($t: String) { refresh(refreshToken: $t) { accessToken refreshToken } }',
    variables: fc.record({ t: fc.oneof(fc.constant(LIVE_REFRESH), str) }, { requiredKeys: [] }),
    reaches: ['invalidRequest'],
  },
  logout: {
    query: 'mutation($t: String) { logout(refreshToken: $t) }',
    variables: fc.record({ t: fc.oneof(fc.constant(LIVE_REFRESH), str) }, { requiredKeys: [] }),
    reaches: ['invalidRequest', 'succeeded'],
  },
  logoutAll: { query: 'mutation { logoutAll }', variables: fc.constant({}), reaches: ['succeeded'] },
  changePassword: {
    query: 'mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }',
    variables: fc.record({ c: password, n: password }),
    reaches: ['invalidRequest'],
  },
  revokeSession: {
    query: 'mutation($id: ID!) { revokeSession(id: $id) }',
    variables: fc.record({ id }),
    reaches: ['badUserInput', 'invalidRequest', 'succeeded'],
  },
  setUserRoles: {
    query: 'mutation($id: ID!, $roles: [Role!]!) { setUserRoles(userId: $id, roles: $roles) { id roles } }',
    // The victim never becomes ADMIN, so the fuzz cannot legitimately take the admin's role away.
    variables: fc
      .record({ id, roles: maybeWrong(fc.array(enumValue(['USER', 'SUPPORT', 'ADMIN']), { maxLength: 4 })) })
      .filter((v) => !(v.id === VICTIM_ID && JSON.stringify(v.roles).includes('ADMIN'))),
    reaches: ['badUserInput', 'invalidRequest'],
  },
  setUserActive: {
    query: 'mutation($id: ID!, $active: Boolean!) { setUserActive(userId: $id, active: $active) { id active } }',
    variables: fc.record({ id, active: maybeWrong(fc.boolean()) }),
    reaches: ['badUserInput', 'invalidRequest'],
  },
  unlockUser: {
    query: 'mutation($id: ID!) { unlockUser(userId: $id) { id } }',
    variables: fc.record({ id }),
    reaches: ['badUserInput', 'invalidRequest', 'succeeded'],
  },
  users: {
    query:
      'query($first: Int, $after: String, $filter: UserFilter) { users(first: $first, after: $after, filter: $filter) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id email roles } } } }',
    variables: fc.record(
      {
        first,
        after: cursor,
        filter: withExtras(
          fc.record(
            { email: str, role: enumValue(['USER', 'SUPPORT', 'ADMIN']), active: maybeWrong(fc.boolean()) },
            { requiredKeys: [] },
          ),
        ),
      },
      { requiredKeys: [] },
    ),
    reaches: ['badUserInput', 'invalidRequest'],
  },
  user: {
    query: 'query($id: ID!) { user(id: $id) { id email active } }',
    variables: fc.record({ id }),
    reaches: ['badUserInput', 'invalidRequest', 'succeeded'],
  },
  auditEvents: {
    query:
      'query($u: ID, $type: AuditEventType, $first: Int, $after: String) { auditEvents(userId: $u, type: $type, first: $first, after: $after) { totalCount edges { cursor node { id type email } } } }',
    variables: fc.record(
      { u: id, type: fc.oneof(fc.constantFrom('LOGIN_FAILED', 'REGISTER'), str), first, after: cursor },
      { requiredKeys: [] },
    ),
    reaches: ['badUserInput', 'invalidRequest'],
  },
};

// ---- the server and the caller ----
let app: TestApp;
let admin: { id: string; email: string; password: string; token: string | null };
let victim: Tokens;
let liveRefresh: string;

beforeAll(async () => {
  app = await startTestApp();
  const a = await createUser(app, { roles: ['ADMIN'] });
  admin = { id: a.id, email: a.email, password: a.password, token: null };
  victim = await signUp(app);
  process.stdout.write(`fuzz.test.ts: seed ${SEED} (replay with FUZZ_SEED=${SEED})\n`);
}, 60_000);
afterAll(async () => {
  await app?.stop();
});

// Each property starts from the same victim, whatever ran before: active, a plain USER, not locked, signed in.
beforeEach(async () => {
  const token = await adminToken();
  for (const mutation of [
    'mutation($id: ID!) { setUserActive(userId: $id, active: true) { id } }',
    'mutation($id: ID!) { setUserRoles(userId: $id, roles: [USER]) { id } }',
    'mutation($id: ID!) { unlockUser(userId: $id) { id } }',
  ]) {
    const res = await app.gql(mutation, { id: victim.user.id }, { token });
    if (res.errors) throw new Error(`resetting the victim failed: ${JSON.stringify(res.errors)}`);
  }
  const res = await login(app, victim.user.email);
  if (!res.data) throw new Error(`the victim cannot sign in: ${JSON.stringify(res.errors)}`);
  liveRefresh = res.data.login.refreshToken;
});

// After every property: the database holds nothing the API should have refused.
afterEach(async () => {
  await expectConsistentDatabase();
});

async function adminToken(): Promise<string> {
  if (admin.token === null) {
    const res = await login(app, admin.email, admin.password);
    if (!res.data) throw new Error(`the admin cannot sign in any more: ${JSON.stringify(res.errors)}`);
    admin.token = res.data.login.accessToken;
  }
  return admin.token;
}

function resolvePlaceholders(value: unknown): unknown {
  if (value === ADMIN_ID) return admin.id;
  if (value === VICTIM_ID) return victim.user.id;
  if (value === VICTIM_EMAIL) return victim.user.email;
  if (value === LIVE_REFRESH) return liveRefresh;
  if (Array.isArray(value)) return value.map(resolvePlaceholders);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolvePlaceholders(v)]));
  }
  return value;
}

/** Sends one operation through HTTP, checks what must hold for any input and counts the answer's kind in `reached`. */
async function send(
  name: string,
  query: string,
  rawVariables: Record<string, unknown>,
  asAdmin: boolean,
  reached: Reached,
): Promise<void> {
  const variables = resolvePlaceholders(rawVariables) as Record<string, unknown>;
  const init = graphqlInit({ query, variables }, { token: asAdmin ? await adminToken() : undefined });
  const res = await httpRequest<GraphQLBody>(app.url, init);
  const what = `${name} as ${asAdmin ? 'ADMIN' : 'anonymous'} → HTTP ${res.status} ${res.text.slice(0, 600)}`;

  if (res.status >= 500) throw new Error(`5xx: ${what}`);
  if (Buffer.byteLength(init.body as string) > BODY_LIMIT !== (res.status === 413))
    throw new Error(`413 iff the body is over 100 kB: ${what}`);
  const parsed = res.body;
  if (parsed === undefined) throw new Error(`not JSON: ${what}`);
  if (parsed.errors?.some((e) => e.extensions?.code === 'INTERNAL_SERVER_ERROR'))
    throw new Error(`INTERNAL_SERVER_ERROR: ${what}`);

  const codes = (parsed.errors ?? []).map((e) => e.extensions?.code);
  if (res.status === 413) reached.tooLarge += 1;
  if (codes.includes('BAD_USER_INPUT') && res.status === 200) reached.badUserInput += 1;
  if (res.status === 400) reached.invalidRequest += 1;
  if (parsed.data && !parsed.errors) reached.succeeded += 1;

  // Keep the caller state usable: sessions may have ended, the refresh token may have rotated.
  const data = parsed.data ?? {};
  if (data.refresh?.refreshToken) liveRefresh = data.refresh.refreshToken;
  if (data.login?.refreshToken && data.login.user?.email === victim.user.email) liveRefresh = data.login.refreshToken;
  if (asAdmin && data.changePassword === true) admin.password = variables.n as string;
  if (
    asAdmin &&
    ['logout', 'logoutAll', 'revokeSession', 'setUserRoles', 'setUserActive', 'changePassword'].includes(name)
  )
    admin.token = null;
}

/** Each kind in `kinds` came up at least once. */
function expectReached(reached: Reached, kinds: readonly Kind[]): void {
  for (const kind of kinds) expect({ kind, reached: reached[kind] > 0 }).toEqual({ kind, reached: true });
}

async function expectConsistentDatabase(): Promise<void> {
  const users = await app.sql<{
    id: string;
    email: string;
    full_name: string | null;
    roles: string[];
    active: boolean;
  }>('select id, email, full_name, roles, active from users');
  expect(users.length).toBeGreaterThanOrEqual(2); // the admin, the victim and accounts the fuzz registered
  for (const u of users) {
    expect({ email: u.email, normalized: u.email === u.email.trim().toLowerCase() }).toEqual({
      email: u.email,
      normalized: true,
    });
    expect(u.email).toContain('@');
    expect(u.email.length).toBeLessThanOrEqual(254);
    // eslint-disable-next-line no-control-regex -- control characters are exactly what is checked for
    expect(u.email).not.toMatch(/[\u0000-\u001f\u007f-\u009f\s]/);
    if (u.full_name !== null) {
      expect([...u.full_name].length).toBeLessThanOrEqual(100);
      // eslint-disable-next-line no-control-regex -- as above
      expect(u.full_name).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
    }
    expect(u.roles.length).toBeGreaterThanOrEqual(1);
    for (const r of u.roles) expect(['USER', 'SUPPORT', 'ADMIN']).toContain(r);
  }
  const adminRow = users.find((u) => u.id === admin.id);
  expect(adminRow).toMatchObject({ active: true, roles: expect.arrayContaining(['ADMIN']) });

  const codes = await app.sql<{ email: string; code_hash: string | null }>('select email, code_hash from otp_codes');
  for (const c of codes) {
    expect(c.code_hash).toEqual(expect.stringMatching(/\S/));
    expect(c.email).toBe(c.email.trim().toLowerCase());
  }
  const orphans = await app.sql<{ n: string | number }>(
    'select count(*) as n from sessions s left join users u on u.id = s.user_id where u.id is null',
  );
  expect(Number(orphans[0]!.n)).toBe(0);
  const events = await app.sql<{ email: string | null }>(
    'select distinct email from audit_events where email is not null',
  );
  for (const e of events) expect(e.email!.length).toBeLessThanOrEqual(254);
}

const BROKEN_REACHES: readonly Kind[] = ['tooLarge', 'invalidRequest'];

describe(`fuzzing every operation (seed ${SEED})`, () => {
  it('between them, the properties below must reach every kind of answer: 413, 400, BAD_USER_INPUT, success', () => {
    const promised = new Set([...Object.values(OPERATIONS).flatMap((op) => op.reaches), ...BROKEN_REACHES]);
    expect([...promised].sort()).toEqual(Object.keys(noneReached()).sort());
  });

  it.each(Object.keys(OPERATIONS))(
    '%s never answers 5xx or INTERNAL_SERVER_ERROR, and gets the kinds of answer it must',
    async (name) => {
      const op = OPERATIONS[name]!;
      const reached = noneReached();
      await fc.assert(
        fc.asyncProperty(op.variables, asAdmin, (variables, admin) => send(name, op.query, variables, admin, reached)),
        { numRuns: NUM_RUNS, seed: SEED, endOnFailure: true },
      );
      expectReached(reached, op.reaches);
    },
    60_000,
  );

  it('a broken document (random text spliced into a valid one) never answers 5xx', async () => {
    const queries = Object.entries(OPERATIONS);
    const reached = noneReached();
    await fc.assert(
      fc.asyncProperty(fc.nat(queries.length - 1), fc.nat(400), text, asAdmin, async (i, at, junk, admin) => {
        const [name, op] = queries[i]!;
        const query = op.query.slice(0, at) + junk + op.query.slice(at);
        await send(`${name} (broken)`, query, {}, admin, reached);
      }),
      { numRuns: NUM_RUNS, seed: SEED, endOnFailure: true },
    );
    expectReached(reached, BROKEN_REACHES);
  }, 60_000);
});
