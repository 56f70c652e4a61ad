// The audit trail through the HTTP API: what each action records, that no secret is ever stored, and the
// two read queries auditEvents / myAuditEvents (schema.graphql, docs/api.md "Audit trail", docs/contract.md Errors).
import { eventually } from './helpers/eventually';
import { createUser, signIn } from './helpers/factories';
import { AUTH_FIELDS, login, PASSWORD, refresh, requestOtp, signUp, uniqueEmail } from './helpers/flows';
import { standsIn } from './helpers/leaks';
import { errorCode, type GraphQLResponse, ok, startTestApp, type TestApp } from './helpers/test-server';

const NEW_PASSWORD = 'Battery-Staple-42!';
const WRONG_PASSWORD = 'Wrong-Horse-77?';
const LOCALHOST = /^(::ffff:)?127\.0\.0\.1$|^::1$/;

type Nullable = string | null;
interface AuditNode {
  id: string;
  type: string;
  actorId: Nullable;
  userId: Nullable;
  email: Nullable;
  ip: Nullable;
  userAgent: Nullable;
  detail: Nullable;
  createdAt: string;
}
interface Connection {
  totalCount: number;
  pageInfo: { hasNextPage: boolean; endCursor: Nullable };
  edges: Array<{ cursor: string; node: AuditNode }>;
}

let app: TestApp;
/** Every password sent and every token received by this file, whichever helper made the request. */
const seen = { passwords: new Set<string>(), tokens: new Set<string>() };
function collectSecrets(value: unknown, key = ''): void {
  if (typeof value === 'string') {
    if (/password/i.test(key)) seen.passwords.add(value);
    if (key === 'accessToken' || key === 'refreshToken') seen.tokens.add(value);
  } else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) collectSecrets(v, Array.isArray(value) ? key : k);
  }
}

beforeAll(async () => {
  app = await startTestApp({ env: { RATE_LIMIT_PER_MINUTE: '100000' } });
  const realGql = app.gql.bind(app);
  app.gql = (async (query: string, variables?: Record<string, unknown>, opts?: Parameters<TestApp['gql']>[2]) => {
    collectSecrets(variables);
    const res = await realGql(query, variables, opts);
    collectSecrets(res.data);
    return res;
  }) as TestApp['gql'];
});
afterAll(() => app.stop());

/** The data of a successful response; fails the test with the errors otherwise. */
/** Every request made through `gql` carries this User-Agent; `record` sets a distinctive one. */
let userAgent = 'AuditSpec-setup';
function gql<T = Record<string, any>>(query: string, variables: Record<string, unknown> = {}, token?: string) {
  return app.gql<T>(query, variables, { token, headers: { 'user-agent': userAgent } });
}

const Q = {
  register:
    'mutation($email: String!, $password: String!) { register(input: { email: $email, password: $password }) { expiresIn } }',
  login: `mutation($email: String!, $password: String!) { login(email: $email, password: $password) { ${AUTH_FIELDS} } }`,
  requestOtp:
    'mutation($email: String!, $purpose: OtpPurpose!) { requestOtp(email: $email, purpose: $purpose) { expiresIn } }',
  verifyOtp: `mutation($email: String!, $code: String!, $purpose: OtpPurpose!) {
    verifyOtp(email: $email, code: $code, purpose: $purpose) { ${AUTH_FIELDS} } }`,
  resetPassword:
    'mutation($email: String!, $code: String!, $newPassword: String!) { resetPassword(email: $email, code: $code, newPassword: $newPassword) }',
  refresh: `mutation($t: String) { refresh(refreshToken: $t) { ${AUTH_FIELDS} } }`,
  logout: 'mutation($t: String) { logout(refreshToken: $t) }',
  logoutAll: 'mutation { logoutAll }',
  changePassword:
    'mutation($currentPassword: String!, $newPassword: String!) { changePassword(currentPassword: $currentPassword, newPassword: $newPassword) }',
  revokeSession: 'mutation($id: ID!) { revokeSession(id: $id) }',
  setUserRoles: 'mutation($id: ID!, $roles: [Role!]!) { setUserRoles(userId: $id, roles: $roles) { id roles } }',
  setUserActive: 'mutation($id: ID!, $active: Boolean!) { setUserActive(userId: $id, active: $active) { id active } }',
  sessions: '{ sessions { id current } }',
};
const EVENT_FIELDS =
  'totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id type actorId userId email ip userAgent detail createdAt } }';

let admin: { id: string; accessToken: string; refreshToken: string; issuedAt: number } | undefined;
/** An ADMIN's access token, created on first use and refreshed before it expires on the fake clock. */
async function adminToken(): Promise<string> {
  if (admin === undefined) {
    const t = await signIn(app, await createUser(app, { roles: ['ADMIN'], email: uniqueEmail('admin') }));
    admin = {
      id: t.user.id,
      accessToken: t.accessToken,
      refreshToken: t.refreshToken,
      issuedAt: app.clock.now().getTime(),
    };
  } else if (app.clock.now().getTime() - admin.issuedAt > 1_000_000) {
    const t = ok(await refresh(app, admin.refreshToken)).refresh;
    admin = { ...admin, accessToken: t.accessToken, refreshToken: t.refreshToken, issuedAt: app.clock.now().getTime() };
  }
  return admin.accessToken;
}

async function auditEvents(
  args: { userId?: string; type?: string; first?: number; after?: string | null },
  token?: string,
) {
  return app.gql<{ auditEvents: Connection }>(
    `query($u: ID, $t: AuditEventType, $f: Int, $a: String) { auditEvents(userId: $u, type: $t, first: $f, after: $a) { ${EVENT_FIELDS} } }`,
    { u: args.userId, t: args.type, f: args.first, a: args.after },
    { token: token ?? (await adminToken()) },
  );
}
function myAuditEvents(token: string, args: { first?: number; after?: string | null } = {}) {
  const query = `query($f: Int, $a: String) { myAuditEvents(first: $f, after: $a) { ${EVENT_FIELDS} } }`;
  return app.gql<{ myAuditEvents: Connection }>(query, { f: args.first, a: args.after }, { token });
}
const nodes = (c: Connection) => c.edges.map((e) => e.node);

/** Ids of the events matching `where`, newest first, straight from the table. */
async function idsInTable(where: string, params: unknown[]): Promise<string[]> {
  const rows = await app.sql<{ id: string }>(
    `select id::text as id from audit_events where ${where} order by created_at desc, id desc`,
    params,
  );
  return rows.map((r) => r.id);
}

interface Recorded {
  events: AuditNode[];
  userAgent: string;
  at: string;
  afterId: bigint;
}
let actions = 0;
/** Runs `action` at a new instant with a distinctive User-Agent; returns the audit events written since. */
async function record(action: () => Promise<unknown>): Promise<Recorded> {
  await adminToken();
  app.clock.advance(1);
  const [{ max }] = (await app.sql<{ max: string }>('select coalesce(max(id), 0)::text as max from audit_events')) as [
    { max: string },
  ];
  actions += 1;
  userAgent = `AuditSpec/${actions} (${Math.random().toString(36).slice(2, 10)})`;
  const ua = userAgent;
  await action().finally(() => (userAgent = 'AuditSpec-setup'));
  const afterId = BigInt(max);
  const events = nodes(ok(await auditEvents({ first: 100 })).auditEvents).filter((n) => BigInt(n.id) > afterId);
  return { events, userAgent: ua, at: app.clock.now().toISOString(), afterId };
}

interface Expected {
  type: string;
  userId: Nullable;
  actorId: Nullable;
  email?: Nullable;
  detail?: RegExp;
}
function shape(e: Expected, rec: Recorded) {
  const { detail, email, ...rest } = e;
  return expect.objectContaining({
    ...rest,
    ...(email !== undefined ? { email } : {}),
    ...(detail !== undefined ? { detail: expect.stringMatching(detail) } : {}),
    ...{ ip: expect.stringMatching(LOCALHOST), userAgent: rec.userAgent, createdAt: rec.at },
  });
}

const expectCode = async (res: Promise<GraphQLResponse>, code: string) => expect(errorCode(await res)).toBe(code);
async function currentSessionId(accessToken: string): Promise<string> {
  return ok(
    await gql<{ sessions: Array<{ id: string; current: boolean }> }>(Q.sessions, {}, accessToken),
  ).sessions.find((s) => s.current)!.id;
}
async function emailedCode(email: string, subject: RegExp, purpose: string): Promise<string> {
  const before = app.smtp.messages.length;
  ok(await requestOtp(app, email, purpose));
  return app.smtp.codeFor(email, subject, before);
}
const otherCode = (code: string) => String((Number(code) + 1) % 1_000_000).padStart(6, '0');

type Case = () => Promise<{ rec: Recorded; expected: Expected[] }>;
const CASES: Array<[string, Case]> = [
  [
    'register records REGISTER about the new account, with no actor',
    async () => {
      const email = uniqueEmail('reg');
      const rec = await record(async () => ok(await gql(Q.register, { email, password: PASSWORD })));
      const [user] = await app.sql<{ id: string }>('select id from users where email = ?', [email]);
      return { rec, expected: [{ type: 'REGISTER', userId: user!.id, actorId: null, email }] };
    },
  ],
  [
    'login with the right password records LOGIN_SUCCEEDED by and about the user',
    async () => {
      const u = await signUp(app);
      const rec = await record(async () => ok(await gql(Q.login, { email: u.user.email, password: PASSWORD })));
      return {
        rec,
        expected: [
          { type: 'LOGIN_SUCCEEDED', userId: u.user.id, actorId: u.user.id, email: u.user.email, detail: /password/ },
        ],
      };
    },
  ],
  [
    'login with a wrong password records LOGIN_FAILED about that account, with no actor',
    async () => {
      const u = await signUp(app);
      const rec = await record(() =>
        expectCode(gql(Q.login, { email: u.user.email, password: WRONG_PASSWORD }), 'INVALID_CREDENTIALS'),
      );
      return { rec, expected: [{ type: 'LOGIN_FAILED', userId: u.user.id, actorId: null, email: u.user.email }] };
    },
  ],
  [
    'login with an unknown email records LOGIN_FAILED with no subject, keeping the email',
    async () => {
      const email = uniqueEmail('nobody');
      const rec = await record(() =>
        expectCode(gql(Q.login, { email, password: WRONG_PASSWORD }), 'INVALID_CREDENTIALS'),
      );
      return { rec, expected: [{ type: 'LOGIN_FAILED', userId: null, actorId: null, email }] };
    },
  ],
  [
    'requestOtp records OTP_REQUESTED about the account, with the purpose',
    async () => {
      const u = await signUp(app);
      const rec = await record(async () => ok(await gql(Q.requestOtp, { email: u.user.email, purpose: 'LOGIN' })));
      return {
        rec,
        expected: [{ type: 'OTP_REQUESTED', userId: u.user.id, actorId: null, email: u.user.email, detail: /LOGIN/ }],
      };
    },
  ],
  [
    'verifyOtp with the right code records OTP_ACCEPTED and LOGIN_SUCCEEDED',
    async () => {
      const u = await signUp(app);
      const code = await emailedCode(u.user.email, /sign-in code/i, 'LOGIN');
      const rec = await record(async () => ok(await gql(Q.verifyOtp, { email: u.user.email, code, purpose: 'LOGIN' })));
      const self = { userId: u.user.id, actorId: u.user.id, email: u.user.email };
      return {
        rec,
        expected: [
          { type: 'OTP_ACCEPTED', ...self, detail: /LOGIN/ },
          { type: 'LOGIN_SUCCEEDED', ...self, detail: /code/ },
        ],
      };
    },
  ],
  [
    'verifyOtp with a wrong code records OTP_REJECTED about that account, with no actor',
    async () => {
      const u = await signUp(app);
      const code = await emailedCode(u.user.email, /sign-in code/i, 'LOGIN');
      const rec = await record(() =>
        expectCode(gql(Q.verifyOtp, { email: u.user.email, code: otherCode(code), purpose: 'LOGIN' }), 'INVALID_OTP'),
      );
      return {
        rec,
        expected: [{ type: 'OTP_REJECTED', userId: u.user.id, actorId: null, email: u.user.email, detail: /LOGIN/ }],
      };
    },
  ],
  [
    'replaying a rotated refresh token after the grace window records REFRESH_TOKEN_REUSE',
    async () => {
      const u = await signUp(app);
      const sessionId = await currentSessionId(u.accessToken);
      ok(await refresh(app, u.refreshToken));
      app.clock.advance(11);
      const rec = await record(() => expectCode(gql(Q.refresh, { t: u.refreshToken }), 'UNAUTHENTICATED'));
      return {
        rec,
        expected: [{ type: 'REFRESH_TOKEN_REUSE', userId: u.user.id, actorId: null, detail: new RegExp(sessionId) }],
      };
    },
  ],
  [
    'logout records LOGOUT of that session by the user',
    async () => {
      const u = await signUp(app);
      const sessionId = await currentSessionId(u.accessToken);
      const rec = await record(async () => ok(await gql(Q.logout, { t: u.refreshToken })));
      return {
        rec,
        expected: [{ type: 'LOGOUT', userId: u.user.id, actorId: u.user.id, detail: new RegExp(sessionId) }],
      };
    },
  ],
  [
    'logoutAll records LOGOUT_ALL by the user',
    async () => {
      const u = await signUp(app);
      const rec = await record(async () => ok(await gql(Q.logoutAll, {}, u.accessToken)));
      return { rec, expected: [{ type: 'LOGOUT_ALL', userId: u.user.id, actorId: u.user.id }] };
    },
  ],
  [
    'revokeSession records SESSION_REVOKED naming the ended session',
    async () => {
      const u = await signUp(app);
      const other = ok(await login(app, u.user.email)).login;
      const otherId = await currentSessionId(other.accessToken);
      const rec = await record(async () =>
        expect(ok(await gql(Q.revokeSession, { id: otherId }, u.accessToken)).revokeSession).toBe(true),
      );
      return {
        rec,
        expected: [{ type: 'SESSION_REVOKED', userId: u.user.id, actorId: u.user.id, detail: new RegExp(otherId) }],
      };
    },
  ],
  [
    'changePassword records PASSWORD_CHANGED by the user',
    async () => {
      const u = await signUp(app);
      const rec = await record(async () =>
        ok(await gql(Q.changePassword, { currentPassword: PASSWORD, newPassword: NEW_PASSWORD }, u.accessToken)),
      );
      return { rec, expected: [{ type: 'PASSWORD_CHANGED', userId: u.user.id, actorId: u.user.id }] };
    },
  ],
  [
    'resetPassword records OTP_ACCEPTED and PASSWORD_RESET',
    async () => {
      const u = await signUp(app);
      const code = await emailedCode(u.user.email, /reset/i, 'RESET_PASSWORD');
      const rec = await record(async () =>
        ok(await gql(Q.resetPassword, { email: u.user.email, code, newPassword: NEW_PASSWORD })),
      );
      const self = { userId: u.user.id, actorId: u.user.id };
      return {
        rec,
        expected: [
          { type: 'OTP_ACCEPTED', ...self, email: u.user.email, detail: /RESET_PASSWORD/ },
          { type: 'PASSWORD_RESET', ...self },
        ],
      };
    },
  ],
  [
    'setUserRoles records ROLES_CHANGED by the admin about the target, showing old -> new roles',
    async () => {
      const target = await signUp(app);
      const token = await adminToken();
      const rec = await record(async () =>
        ok(await gql(Q.setUserRoles, { id: target.user.id, roles: ['USER', 'SUPPORT'] }, token)),
      );
      return {
        rec,
        expected: [
          {
            type: 'ROLES_CHANGED',
            userId: target.user.id,
            actorId: admin!.id,
            detail: /^USER -> (SUPPORT,USER|USER,SUPPORT)$/,
          },
        ],
      };
    },
  ],
  [
    'setUserActive records ACTIVATION_CHANGED by the admin about the target',
    async () => {
      const target = await signUp(app);
      const token = await adminToken();
      const rec = await record(async () =>
        ok(await gql(Q.setUserActive, { id: target.user.id, active: false }, token)),
      );
      return {
        rec,
        expected: [{ type: 'ACTIVATION_CHANGED', userId: target.user.id, actorId: admin!.id, detail: /deactivated/ }],
      };
    },
  ],
];

const byType = <T extends { type: string }>(list: T[]) => [...list].sort((a, b) => a.type.localeCompare(b.type));

describe('audit events written by each action', () => {
  it.each(CASES)('%s', async (_title, run) => {
    const { rec, expected } = await run();

    // Exactly these rows were written, nothing else.
    expect(byType(rec.events)).toEqual(byType(expected).map((e) => shape(e, rec)));
    // And each is found by auditEvents filtered on its subject and type.
    for (const e of expected) {
      const filtered = nodes(ok(await auditEvents({ userId: e.userId ?? undefined, type: e.type })).auditEvents);
      expect(filtered.filter((n) => BigInt(n.id) > rec.afterId)).toEqual([shape(e, rec)]);
    }
  });

  it('auditEvents returns the row as stored in audit_events', async () => {
    const target = await signUp(app);
    const token = await adminToken();
    const rec = await record(async () =>
      ok(await gql(Q.setUserRoles, { id: target.user.id, roles: ['SUPPORT'] }, token)),
    );
    const [event] = nodes(ok(await auditEvents({ userId: target.user.id, type: 'ROLES_CHANGED' })).auditEvents);

    const [row] = await app.sql<Record<string, unknown>>('select * from audit_events where id = ?', [event!.id]);
    expect(row).toMatchObject({
      type: 'ROLES_CHANGED',
      actor_user_id: admin!.id,
      subject_user_id: target.user.id,
      user_agent: rec.userAgent,
      ip: event!.ip,
      detail: event!.detail,
    });
    expect(new Date(row!.created_at as string).toISOString()).toBe(rec.at);
    expect(event!.ip).toMatch(LOCALHOST);
  });

  it('no audit row holds a password, an emailed code, a refresh token or an access token', async () => {
    // What this test sends and receives itself is counted below; secrets other tests saw are checked too.
    const tokensBefore = seen.tokens.size;
    const mailsBefore = app.smtp.messages.length;
    for (const [, run] of CASES) await run();
    const unsent = 'select id from mail_outbox where sent_at is null and failed_at is null';
    await eventually(
      () => app.sql(unsent),
      (rows) => rows.length === 0,
      { timeoutMs: 10_000, intervalMs: 50 },
    );
    const codesIn = (mails: Array<{ text: string }>) =>
      new Set(mails.flatMap((m) => m.text.match(/(?<!\d)\d{6}(?!\d)/g) ?? []));
    // At least a code and a pair of tokens per case, from its sign-up or its own request.
    expect(codesIn(app.smtp.messages.slice(mailsBefore)).size).toBeGreaterThanOrEqual(CASES.length);
    const codes = codesIn(app.smtp.messages);
    expect([...seen.passwords]).toEqual(expect.arrayContaining([PASSWORD, NEW_PASSWORD, WRONG_PASSWORD]));
    expect(seen.tokens.size - tokensBefore).toBeGreaterThanOrEqual(2 * CASES.length);

    const rows = (await app.sql<{ j: string }>('select row_to_json(t)::text as j from audit_events t')).map((r) => r.j);
    expect(rows.length).toBeGreaterThanOrEqual(2 * CASES.length);
    const leaks: string[] = [];
    for (const row of rows) {
      for (const p of seen.passwords)
        if (row.includes(JSON.stringify(p).slice(1, -1))) leaks.push(`password in ${row}`);
      for (const t of seen.tokens) if (row.includes(t)) leaks.push(`token in ${row}`);
      for (const c of codes) if (standsIn(row, c)) leaks.push(`code ${c} in ${row}`);
    }
    expect(leaks).toEqual([]);
  }, 60_000); // every case again, and the outbox drained
});

describe('auditEvents (users:read)', () => {
  it('lists events newest first', async () => {
    const u = await signUp(app);
    app.clock.advance(2);
    await expectCode(login(app, u.user.email, WRONG_PASSWORD), 'INVALID_CREDENTIALS');
    app.clock.advance(2);
    const again = ok(await login(app, u.user.email)).login;
    app.clock.advance(2);
    ok(await requestOtp(app, u.user.email, 'LOGIN'));
    app.clock.advance(2);
    ok(await gql(Q.logoutAll, {}, again.accessToken));

    const list = nodes(ok(await auditEvents({ userId: u.user.id })).auditEvents);

    expect(list.slice(0, 4).map((n) => n.type)).toEqual([
      'LOGOUT_ALL',
      'OTP_REQUESTED',
      'LOGIN_SUCCEEDED',
      'LOGIN_FAILED',
    ]);
    expect(list[list.length - 1]!.type).toBe('REGISTER');
    const times = list.map((n) => Date.parse(n.createdAt));
    expect(times).toEqual([...times].sort((a, b) => b - a));
    expect(list.map((n) => n.id)).toEqual(await idsInTable('subject_user_id = ?', [u.user.id]));
  });

  it('filters by the subject user: all of that user’s events and no one else’s', async () => {
    const a = await signUp(app);
    const b = await signUp(app);
    await expectCode(login(app, a.user.email, WRONG_PASSWORD), 'INVALID_CREDENTIALS');
    await expectCode(login(app, b.user.email, WRONG_PASSWORD), 'INVALID_CREDENTIALS');

    const page = ok(await auditEvents({ userId: a.user.id })).auditEvents;

    expect(nodes(page).every((n) => n.userId === a.user.id)).toBe(true);
    expect(nodes(page).map((n) => n.id)).toEqual(await idsInTable('subject_user_id = ?', [a.user.id]));
    expect(page.totalCount).toBe(nodes(page).length);
  });

  it('filters by type, alone and together with the user', async () => {
    const a = await signUp(app);
    await expectCode(login(app, a.user.email, WRONG_PASSWORD), 'INVALID_CREDENTIALS');
    await expectCode(login(app, uniqueEmail('nobody'), WRONG_PASSWORD), 'INVALID_CREDENTIALS');

    const failed = ok(await auditEvents({ type: 'LOGIN_FAILED', first: 100 })).auditEvents;
    const expectedIds = await idsInTable('type = ?', ['LOGIN_FAILED']);
    expect(failed.totalCount).toBe(expectedIds.length);
    expect(nodes(failed).map((n) => n.id)).toEqual(expectedIds.slice(0, 100));
    expect(nodes(failed).every((n) => n.type === 'LOGIN_FAILED')).toBe(true);

    const both = nodes(ok(await auditEvents({ userId: a.user.id, type: 'LOGIN_FAILED' })).auditEvents);
    expect(both).toEqual([expect.objectContaining({ type: 'LOGIN_FAILED', userId: a.user.id, email: a.user.email })]);
  });

  it('pages with first/after return every matching event exactly once, also across events of the same instant', async () => {
    app.clock.advance(5);
    for (let i = 0; i < 15; i += 1)
      await expectCode(login(app, uniqueEmail('page'), WRONG_PASSWORD), 'INVALID_CREDENTIALS');
    const expectedIds = await idsInTable('type = ?', ['LOGIN_FAILED']);
    expect(expectedIds.length).toBeGreaterThanOrEqual(15); // more when other tests ran before: more pages

    const seenIds: string[] = [];
    let after: string | null = null;
    for (let pages = 0; pages < 100; pages += 1) {
      const page: Connection = ok(await auditEvents({ type: 'LOGIN_FAILED', first: 4, after })).auditEvents;
      expect(page.edges.length).toBeLessThanOrEqual(4);
      expect(page.totalCount).toBe(expectedIds.length);
      seenIds.push(...nodes(page).map((n) => n.id));
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }

    expect(seenIds).toEqual(expectedIds);
  });

  it('caps first at 100', async () => {
    const [{ n }] = (await app.sql<{ n: number }>('select count(*)::int as n from audit_events')) as [{ n: number }];
    for (let i = n; i <= 105; i += 1)
      await expectCode(login(app, uniqueEmail('many'), WRONG_PASSWORD), 'INVALID_CREDENTIALS');
    const total = (await idsInTable('true', [])).length;

    const page = ok(await auditEvents({ first: 1000 })).auditEvents;

    expect(page.edges).toHaveLength(100);
    expect(page.pageInfo.hasNextPage).toBe(true);
    expect(page.totalCount).toBe(total);
  });

  it('refuses a cursor it did not issue with BAD_USER_INPUT', async () => {
    for (const after of ['not-a-cursor', Buffer.from('["yesterday","x y"]').toString('base64url')]) {
      const res = await auditEvents({ after });
      expect(errorCode(res)).toBe('BAD_USER_INPUT');
      expect(res.errors![0]!.extensions!.field).toBe('after');
    }
  });

  it('refuses a USER token with FORBIDDEN', async () => {
    const u = await signUp(app);
    const res = await auditEvents({}, u.accessToken);
    expect(errorCode(res)).toBe('FORBIDDEN');
    expect(res.errors![0]!.extensions!.requiredScopes).toEqual([['users:read']]);
    expect(res.data?.auditEvents ?? null).toBeNull();
  });
});

describe('myAuditEvents (self:read)', () => {
  it('shows a user only the events about themselves, newest first', async () => {
    const a = await signUp(app);
    const b = await signUp(app);
    for (const who of [a, b]) {
      app.clock.advance(1);
      await expectCode(login(app, who.user.email, WRONG_PASSWORD), 'INVALID_CREDENTIALS');
      app.clock.advance(1);
      ok(await login(app, who.user.email));
    }
    ok(await gql(Q.setUserRoles, { id: b.user.id, roles: ['USER', 'SUPPORT'] }, await adminToken()));

    const mine = nodes(ok(await myAuditEvents(a.accessToken, { first: 100 })).myAuditEvents);
    const theirs = await idsInTable('subject_user_id = ?', [b.user.id]);

    expect(mine.map((n) => n.id)).toEqual(await idsInTable('subject_user_id = ?', [a.user.id]));
    expect(mine.slice(0, 2).map((n) => n.type)).toEqual(['LOGIN_SUCCEEDED', 'LOGIN_FAILED']);
    expect(mine[mine.length - 1]!.type).toBe('REGISTER');
    expect(mine.every((n) => n.userId === a.user.id)).toBe(true);
    expect(mine.filter((n) => theirs.includes(n.id))).toEqual([]);
  });

  it('returns 20 events by default, the rest on the next page', async () => {
    const u = await signUp(app);
    for (let i = 0; i < 11; i += 1) {
      app.clock.advance(61);
      ok(await requestOtp(app, u.user.email, 'LOGIN'));
      ok(await requestOtp(app, u.user.email, 'RESET_PASSWORD'));
    }
    const all = await idsInTable('subject_user_id = ?', [u.user.id]);
    expect(all).toHaveLength(25);

    const first = ok(await myAuditEvents(u.accessToken)).myAuditEvents;
    expect(nodes(first).map((n) => n.id)).toEqual(all.slice(0, 20));
    expect(first.pageInfo.hasNextPage).toBe(true);
    expect(first.totalCount).toBe(25);

    const rest = ok(await myAuditEvents(u.accessToken, { after: first.pageInfo.endCursor })).myAuditEvents;
    expect(nodes(rest).map((n) => n.id)).toEqual(all.slice(20));
    expect(rest.pageInfo.hasNextPage).toBe(false);
  });
});
