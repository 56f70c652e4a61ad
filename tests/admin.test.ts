// User administration through the HTTP API: listing with keyset pagination and filters, roles,
// activation, the last-admin rule, and the first admin from the command line (docs/contract.md: Errors, Roles and scopes).
import { randomUUID } from 'node:crypto';
import { createUser, signIn } from './helpers/factories';
import { login, me, PASSWORD, refresh, signUp, uniqueEmail, type Tokens } from './helpers/flows';
import { runDist, type Finished } from './helpers/run-dist';
import { serverEnv } from './helpers/server-env';
import { errorCode, type GraphQLResponse, ok, startTestApp, type TestApp } from './helpers/test-server';

let app: TestApp;
beforeAll(async () => {
  // Not about the per-IP request limit: keep it out of the way of many quick requests.
  app = await startTestApp({ env: { RATE_LIMIT_PER_MINUTE: '100000' } });
});
afterAll(async () => {
  await app.stop();
});

const USER_FIELDS = 'id email fullName emailVerified active roles scopes createdAt';

interface UserNode {
  id: string;
  email: string;
  active: boolean;
  roles: string[];
  scopes: string[];
  createdAt: string;
}
interface UsersPage {
  totalCount: number;
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
  edges: Array<{ cursor: string; node: UserNode }>;
}
type UsersFilter = { email?: string; role?: string; active?: boolean };

/** The data of a successful response; fails the test with the errors otherwise. */
function users(token: string, vars: { first?: number; after?: string | null; filter?: UsersFilter }) {
  return app.gql<{ users: UsersPage }>(
    `query($first: Int, $after: String, $filter: UserFilter) {
       users(first: $first, after: $after, filter: $filter) {
         totalCount pageInfo { hasNextPage endCursor } edges { cursor node { ${USER_FIELDS} } } } }`,
    vars,
    { token },
  );
}

function user(token: string, id: string) {
  return app.gql<{ user: UserNode | null }>(`query($id: ID!) { user(id: $id) { ${USER_FIELDS} } }`, { id }, { token });
}

function setUserRoles(token: string, userId: string, roles: string[]) {
  return app.gql<{ setUserRoles: UserNode }>(
    `mutation($id: ID!, $roles: [Role!]!) { setUserRoles(userId: $id, roles: $roles) { ${USER_FIELDS} } }`,
    { id: userId, roles },
    { token },
  );
}

function setUserActive(token: string, userId: string, active: boolean) {
  return app.gql<{ setUserActive: UserNode }>(
    `mutation($id: ID!, $active: Boolean!) { setUserActive(userId: $id, active: $active) { ${USER_FIELDS} } }`,
    { id: userId, active },
    { token },
  );
}

async function loginOk(email: string, password = PASSWORD): Promise<Tokens> {
  return ok(await login(app, email, password)).login;
}

/** A new ADMIN, signed in after the promotion so the token carries the new roles. */
async function makeAdmin(): Promise<Tokens> {
  return signIn(app, await createUser(app, { roles: ['ADMIN'] }));
}

/** Leaves the given accounts as the only ones holding ADMIN. */
async function onlyAdmins(...keepIds: string[]): Promise<void> {
  await app.sql(
    `update users set roles = '{USER}' where 'ADMIN' = any(roles) and ${keepIds.map(() => 'id <> ?').join(' and ')}`,
    keepIds,
  );
}

async function countSql(where: string, params: unknown[] = []): Promise<number> {
  const rows = await app.sql<{ n: number }>(`select count(*)::int as n from users where ${where}`, params);
  return Number(rows[0]!.n);
}

async function rolesInDb(id: string): Promise<string[]> {
  const rows = await app.sql<{ roles: string[] }>('select roles from users where id = ?', [id]);
  return rows[0]!.roles;
}

/** Every page of `users`, 100 at a time. */
async function allPages(token: string, filter?: UsersFilter): Promise<UsersPage[]> {
  const pages: UsersPage[] = [];
  let after: string | null = null;
  for (let i = 0; i < 50; i += 1) {
    const page: UsersPage = ok(await users(token, { first: 100, after, filter })).users;
    pages.push(page);
    if (!page.pageInfo.hasNextPage) return pages;
    after = page.pageInfo.endCursor;
  }
  throw new Error('users pagination never ended');
}

/** BAD_USER_INPUT naming `field`, with at least one reason, and no data for the failed field. */
function expectBadInput(res: GraphQLResponse, field?: string): void {
  expect(Object.values(res.data ?? {}).every((v) => v === null)).toBe(true);
  expect(errorCode(res)).toBe('BAD_USER_INPUT');
  if (field !== undefined) expect(res.errors![0]!.extensions!.field).toBe(field);
  expect(res.errors![0]!.extensions!.reasons).toEqual(expect.arrayContaining([expect.any(String)]));
}

describe('users: keyset pagination', () => {
  test('pages of 100 list every user exactly once, in a stable (createdAt, id) order, with a consistent totalCount and pageInfo', async () => {
    const admin = await makeAdmin();
    // 250 users; every three share one created_at, so a page boundary falls inside a group of equal timestamps.
    await app.sql(
      `insert into users (id, email, password_hash, full_name, email_verified, active, roles, created_at, updated_at)
       select gen_random_uuid(), 'seed-' || g || '@pages.example.com', null, null, true, true, '{USER}',
              timestamptz '2001-01-01T00:00:00Z' + (g / 3) * interval '1 second',
              timestamptz '2001-01-01T00:00:00Z'
       from generate_series(0, 249) as g`,
    );
    const total = await countSql('true');
    expect(total).toBeGreaterThanOrEqual(251);

    const pages = await allPages(admin.accessToken);
    expect(pages.length).toBe(Math.ceil(total / 100));
    expect(pages[0]!.edges).toHaveLength(100);
    expect(pages[1]!.edges).toHaveLength(100);
    expect(pages[2]!.edges.length).toBeGreaterThanOrEqual(50);
    for (const page of pages) expect(page.totalCount).toBe(total);

    const nodes = pages.flatMap((p) => p.edges.map((e) => e.node));
    const ids = nodes.map((n) => n.id);
    expect(ids).toHaveLength(total);
    expect(new Set(ids).size).toBe(total);
    const inDb = await app.sql<{ id: string }>('select id from users');
    expect([...ids].sort()).toEqual(inDb.map((r) => r.id).sort());

    // Ascending by (createdAt, id), and some neighbours do share a createdAt (the id decides).
    let ties = 0;
    for (let i = 1; i < nodes.length; i += 1) {
      const [a, b] = [nodes[i - 1]!, nodes[i]!];
      const [ta, tb] = [Date.parse(a.createdAt), Date.parse(b.createdAt)];
      expect(ta <= tb).toBe(true);
      if (ta === tb) {
        ties += 1;
        expect(a.id < b.id).toBe(true);
      }
    }
    expect(ties).toBeGreaterThanOrEqual(100);

    const last = pages[pages.length - 1]!;
    expect(last.pageInfo.hasNextPage).toBe(false);
    expect(last.pageInfo.endCursor).toBe(last.edges[last.edges.length - 1]!.cursor);
    for (const page of pages.slice(0, -1)) {
      expect(page.pageInfo.hasNextPage).toBe(true);
      expect(page.pageInfo.endCursor).toBe(page.edges[page.edges.length - 1]!.cursor);
    }

    const again = (await allPages(admin.accessToken)).flatMap((p) => p.edges.map((e) => e.node.id));
    expect(again).toEqual(ids);
  });

  test('rows written outside the app with sub-millisecond timestamps are still listed exactly once', async () => {
    const admin = await makeAdmin();
    await app.sql(
      `insert into users (id, email, password_hash, full_name, email_verified, active, roles, created_at, updated_at)
       select gen_random_uuid(), 'micro-' || g || '@pages.example.com', null, null, true, true, '{USER}',
              timestamptz '2002-02-02T00:00:00Z' + g * interval '1 microsecond', now()
       from generate_series(0, 6) as g`,
    );
    const ids: string[] = [];
    let after: string | null = null;
    for (let i = 0; i < 10; i += 1) {
      const page: UsersPage = ok(
        await users(admin.accessToken, { first: 2, after, filter: { email: 'micro-' } }),
      ).users;
      ids.push(...page.edges.map((e) => e.node.id));
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    expect(ids).toHaveLength(7);
    expect(new Set(ids).size).toBe(7);
  });

  test('first is capped at 100; a negative first or a cursor the API did not issue is BAD_USER_INPUT', async () => {
    const admin = await makeAdmin();
    const big = ok(await users(admin.accessToken, { first: 500 })).users;
    expect(big.edges.length).toBeLessThanOrEqual(100);
    expect(big.edges.length).toBe(Math.min(100, await countSql('true')));
    expect(big.pageInfo.hasNextPage).toBe(true);

    expectBadInput(await users(admin.accessToken, { first: -1 }), 'first');
    expectBadInput(await users(admin.accessToken, { first: 10, after: 'garbage' }), 'after');
  });
});

describe('users: filters', () => {
  test('filter by email substring (case-insensitive, % and _ literal), role, active and their combination; totalCount follows the filter', async () => {
    const admin = await makeAdmin();
    const tag = `flt${Date.now()}`;
    const rows: Array<[string, string, boolean]> = [
      [`${tag}-a%b`, '{USER}', true],
      [`${tag}-axxb`, '{USER}', true],
      [`${tag}-c_d`, '{SUPPORT}', true],
      [`${tag}-cxd`, '{SUPPORT}', false],
      [`${tag}-mixed`, '{SUPPORT,USER}', false],
      [`${tag}-off`, '{USER}', false],
    ];
    for (const [local, roles, active] of rows) {
      await app.sql(
        `insert into users (id, email, password_hash, full_name, email_verified, active, roles, created_at, updated_at)
         values (gen_random_uuid(), ?, null, null, true, ?, ?, now(), now())`,
        [`${local}@filters.example.com`, active, roles],
      );
    }
    const list = async (filter: UsersFilter) => {
      const page = ok(await users(admin.accessToken, { first: 100, filter })).users;
      return {
        total: page.totalCount,
        emails: page.edges.map((e) => e.node.email).sort(),
        nodes: page.edges.map((e) => e.node),
      };
    };
    const at = (...locals: string[]) => locals.map((l) => `${tag}-${l}@filters.example.com`).sort();

    const byTag = await list({ email: tag.toUpperCase() });
    expect(byTag.emails).toEqual(at('a%b', 'axxb', 'c_d', 'cxd', 'mixed', 'off'));
    expect(byTag.total).toBe(6);

    expect(await list({ email: `${tag}-A%B` })).toMatchObject({ total: 1, emails: at('a%b') });
    expect(await list({ email: `${tag}-c_d` })).toMatchObject({ total: 1, emails: at('c_d') });
    expect(await list({ email: '%' })).toMatchObject({ total: 1, emails: at('a%b') });

    const support = await list({ role: 'SUPPORT' });
    expect(support.total).toBe(await countSql("'SUPPORT' = any(roles)"));
    expect(support.nodes.length).toBe(support.total);
    for (const n of support.nodes) expect(n.roles).toContain('SUPPORT');
    expect(support.emails).toEqual(expect.arrayContaining(at('c_d', 'cxd', 'mixed')));

    const inactive = await list({ active: false });
    expect(inactive.total).toBe(await countSql('not active'));
    for (const n of inactive.nodes) expect(n.active).toBe(false);
    expect(inactive.emails).toEqual(expect.arrayContaining(at('cxd', 'mixed', 'off')));
    const activeOnes = ok(await users(admin.accessToken, { first: 1, filter: { active: true } })).users;
    expect(activeOnes.totalCount).toBe(await countSql('active'));

    expect(await list({ email: tag, role: 'SUPPORT', active: false })).toMatchObject({
      total: 2,
      emails: at('cxd', 'mixed'),
    });
    expect(await list({ email: tag, role: 'USER', active: true })).toMatchObject({
      total: 2,
      emails: at('a%b', 'axxb'),
    });
    expect(await list({ email: `${tag}-nobody` })).toMatchObject({ total: 0, emails: [] });
  });
});

describe('user(id)', () => {
  test('returns the user for its id, null for an unknown uuid, and BAD_USER_INPUT for a malformed id', async () => {
    const admin = await makeAdmin();
    const someone = await signUp(app);
    const found = ok(await user(admin.accessToken, someone.user.id)).user;
    expect(found).toMatchObject({ id: someone.user.id, email: someone.user.email, roles: ['USER'], active: true });
    expect(found!.scopes).toEqual(['self:read', 'self:write']);

    expect(ok(await user(admin.accessToken, randomUUID())).user).toBeNull();
    expectBadInput(await user(admin.accessToken, 'not-a-uuid'), 'id');
  });
});

describe('setUserRoles', () => {
  test('promoting a USER to SUPPORT updates roles and scopes, refuses the old access token at once, and a refresh grants users:read', async () => {
    const admin = await makeAdmin();
    const target = await signUp(app);
    expect(errorCode(await users(target.accessToken, { first: 1 }))).toBe('FORBIDDEN');

    const updated = ok(await setUserRoles(admin.accessToken, target.user.id, ['SUPPORT'])).setUserRoles;
    expect(updated).toMatchObject({ id: target.user.id, roles: ['SUPPORT'] });
    expect(updated.scopes).toEqual(['self:read', 'self:write', 'users:read']);
    expect(await rolesInDb(target.user.id)).toEqual(['SUPPORT']);

    expect(errorCode(await me(app, target.accessToken))).toBe('UNAUTHENTICATED');
    const renewed = ok(await refresh(app, target.refreshToken)).refresh;
    const meNow = ok(await me(app, renewed.accessToken)).me as unknown as UserNode;
    expect(meNow.roles).toEqual(['SUPPORT']);
    expect(meNow.scopes).toContain('users:read');
    expect(ok(await users(renewed.accessToken, { first: 1 })).users.edges).toHaveLength(1);
  });

  test('an empty role list is BAD_USER_INPUT and duplicate roles are collapsed', async () => {
    const admin = await makeAdmin();
    const target = await signUp(app);
    expectBadInput(await setUserRoles(admin.accessToken, target.user.id, []), 'roles');
    expect(await rolesInDb(target.user.id)).toEqual(['USER']);

    const updated = ok(
      await setUserRoles(admin.accessToken, target.user.id, ['SUPPORT', 'USER', 'SUPPORT', 'USER']),
    ).setUserRoles;
    expect([...updated.roles].sort()).toEqual(['SUPPORT', 'USER']);
    expect([...(await rolesInDb(target.user.id))].sort()).toEqual(['SUPPORT', 'USER']);
  });

  test('the last active ADMIN cannot lose ADMIN, but can once a second active admin exists', async () => {
    const admin = await makeAdmin();
    await onlyAdmins(admin.user.id);

    const refused = await setUserRoles(admin.accessToken, admin.user.id, ['USER']);
    expectBadInput(refused, 'roles');
    expect(await rolesInDb(admin.user.id)).toEqual(['ADMIN']);

    // An inactive ADMIN does not count as another admin.
    const dormant = await makeAdmin();
    await app.sql('update users set active = false where id = ?', [dormant.user.id]);
    expectBadInput(await setUserRoles(admin.accessToken, admin.user.id, ['SUPPORT']), 'roles');

    const second = await makeAdmin();
    const demoted = ok(await setUserRoles(second.accessToken, admin.user.id, ['USER'])).setUserRoles;
    expect(demoted.roles).toEqual(['USER']);
    expect(await countSql("active and 'ADMIN' = any(roles)")).toBe(1);
  });
});

describe('setUserActive', () => {
  test('deactivating ends every session at once and refuses sign-in; reactivating lets the user sign in again', async () => {
    const admin = await makeAdmin();
    const target = await signUp(app);
    const second = await loginOk(target.user.email);
    const untouched = await loginOk(target.user.email); // presented only after reactivation
    ok(await me(app, target.accessToken));
    ok(await me(app, second.accessToken));

    const off = ok(await setUserActive(admin.accessToken, target.user.id, false)).setUserActive;
    expect(off).toMatchObject({ id: target.user.id, active: false });

    expect(errorCode(await me(app, target.accessToken))).toBe('UNAUTHENTICATED');
    expect(errorCode(await me(app, second.accessToken))).toBe('UNAUTHENTICATED');
    expect(['UNAUTHENTICATED', 'ACCOUNT_DISABLED']).toContain(errorCode(await refresh(app, target.refreshToken)));
    expect(['UNAUTHENTICATED', 'ACCOUNT_DISABLED']).toContain(errorCode(await refresh(app, second.refreshToken)));
    expect(errorCode(await login(app, target.user.email))).toBe('ACCOUNT_DISABLED');

    const on = ok(await setUserActive(admin.accessToken, target.user.id, true)).setUserActive;
    expect(on.active).toBe(true);
    // The sessions were ended, not suspended: reactivation does not bring them back.
    expect(errorCode(await me(app, untouched.accessToken))).toBe('UNAUTHENTICATED');
    expect(errorCode(await refresh(app, untouched.refreshToken))).toBe('UNAUTHENTICATED');
    const back = await loginOk(target.user.email);
    expect(ok(await me(app, back.accessToken)).me.id).toBe(target.user.id);
  });

  test('the last active ADMIN cannot be deactivated, and an unknown userId is BAD_USER_INPUT', async () => {
    const admin = await makeAdmin();
    await onlyAdmins(admin.user.id);
    expectBadInput(await setUserActive(admin.accessToken, admin.user.id, false), 'active');
    expect(await countSql('id = ? and active', [admin.user.id])).toBe(1);
    ok(await me(app, admin.accessToken));

    expectBadInput(await setUserActive(admin.accessToken, randomUUID(), false), 'userId');
    expectBadInput(await setUserRoles(admin.accessToken, randomUUID(), ['USER']), 'userId');
  });
});

describe('concurrency', () => {
  test('two active admins demoting each other at the same time: exactly one succeeds, one active ADMIN remains', async () => {
    // The race is run when both requests get past authentication before either commits; the last-admin check then
    // refuses the second (BAD_USER_INPUT). On a loaded machine, and on PGlite (one session, held by an open
    // transaction), the second may be authenticated only after the first committed: its admin is then demoted and
    // signed out (UNAUTHENTICATED), which is right but proves nothing about the race. So it runs again until it did.
    const ROUNDS = 10;
    for (let round = 1; ; round++) {
      const a = await makeAdmin();
      const b = await makeAdmin();
      await onlyAdmins(a.user.id, b.user.id);
      expect(await countSql("active and 'ADMIN' = any(roles)")).toBe(2);

      const results = await Promise.all([
        setUserRoles(a.accessToken, b.user.id, ['USER']),
        setUserRoles(b.accessToken, a.user.id, ['USER']),
      ]);
      const succeeded = results.filter((r) => r.errors === undefined);
      expect(succeeded).toHaveLength(1);
      expect(await countSql("active and 'ADMIN' = any(roles)")).toBe(1);
      const refused = results.map(errorCode).filter(Boolean);
      if (refused[0] === 'BAD_USER_INPUT') return;
      expect(refused).toEqual(['UNAUTHENTICATED']);
      if (round === ROUNDS) throw new Error(`in ${ROUNDS} rounds the two requests never overlapped`);
    }
  });
});

describe('admin:create from the command line', () => {
  /** Runs the script as an operator would, the password on stdin; resolves with its exit code and output. */
  function adminCreate(email: string, stdin: string): Promise<Finished> {
    return runDist('scripts/admin-create', ['--email', email], serverEnv({ url: app.db.url }), { stdin });
  }

  test('creates a verified ADMIN who can sign in and administer, promotes an existing account, and refuses a weak password', async () => {
    const rootPassword = 'Root-Passw0rd!';
    const created = await adminCreate('Root@Example.com', `${rootPassword}\n`);
    expect({ code: created.code, stderr: created.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
    expect(created.stdout).toMatch(/created/);

    const root = await loginOk('root@example.com', rootPassword);
    const rootMe = ok(await me(app, root.accessToken)).me as unknown as UserNode;
    expect(rootMe.email).toBe('root@example.com');
    expect(rootMe.roles).toEqual(['ADMIN']);

    const listed = ok(await users(root.accessToken, { first: 5 })).users;
    expect(listed.edges.length).toBeGreaterThan(0);
    const promotee = await signUp(app);
    expect(ok(await setUserRoles(root.accessToken, promotee.user.id, ['SUPPORT'])).setUserRoles.roles).toEqual([
      'SUPPORT',
    ]);
    const leaver = await signUp(app);
    expect(ok(await setUserActive(root.accessToken, leaver.user.id, false)).setUserActive.active).toBe(false);
    expect(errorCode(await me(app, leaver.accessToken))).toBe('UNAUTHENTICATED');

    const existing = await signUp(app);
    const promoted = await adminCreate(existing.user.email, '');
    expect(promoted.code).toBe(0);
    expect(promoted.stdout).toMatch(/promoted/);
    expect(await rolesInDb(existing.user.id)).toContain('ADMIN');

    const weakEmail = uniqueEmail('weak');
    const weak = await adminCreate(weakEmail, 'short\n');
    expect(weak.code).toBe(1);
    expect(weak.stdout).not.toMatch(/created/);
    expect(await countSql('email = ?', [weakEmail])).toBe(0);
  }, 120_000);
});
