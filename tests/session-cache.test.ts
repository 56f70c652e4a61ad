// The session cache (modules/auth/session-cache.ts) and the change feed that keeps it true
// (database/change-feed.ts, migration change-notifications): signed-in requests are checked from memory,
// yet a session ended or a user changed — by this instance, another one, or an operator's SQL — is refused
// at once here and within a second everywhere; when the feed's connection drops the cache empties and
// turns off until the feed is back. Needs a real PostgreSQL (NOTIFY): TEST_DATABASE_URL, else the local one.
import { Client } from 'pg';
import { scrapeMetrics, sessionIdOf } from './helpers/client';
import { eventually } from './helpers/eventually';
import { adminToken } from './helpers/factories';
import { login, me, PASSWORD, signUp, type Tokens } from './helpers/flows';
import { realPostgresUrl } from './helpers/real-postgres';
import { errorCode, startTestApp, type TestApp } from './helpers/test-server';

const pgUrl = realPostgresUrl('tests/session-cache.test.ts');

let app: TestApp;

/** Runs `sql` on the app's database over a connection of its own; `triggersOff` hides it from the change feed. */
async function operatorSql(sql: string, params: unknown[], triggersOff = false): Promise<void> {
  const client = new Client({ connectionString: app.db.url });
  await client.connect();
  try {
    await client.query('begin');
    if (triggersOff) await client.query('set local session_replication_role = replica');
    await client.query(sql, params);
    await client.query('commit');
  } finally {
    await client.end();
  }
}

async function metric(name: string): Promise<number> {
  const { text } = await scrapeMetrics(app.url);
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return Number(line?.split(' ')[1] ?? NaN);
}

async function expectServed(t: Tokens): Promise<void> {
  const res = await me(app, t.accessToken);
  expect(res.errors).toBeUndefined();
  expect(res.data?.me.id).toBe(t.user.id);
}

const refused = async (t: Tokens): Promise<boolean> => errorCode(await me(app, t.accessToken)) === 'UNAUTHENTICATED';

/** A signed-in user whose session is in the cache (two checks: the first fills it). */
async function cachedUser(): Promise<Tokens> {
  const t = await signUp(app);
  await expectServed(t);
  await expectServed(t);
  return t;
}

const HITS = 'portcullis_session_cache_lookups_total{result="hit"}';

// The change notifications of a user's own sign-up can reach the app after the check that filled the cache, and
// evict the entry once more (in production: one more read from the database). On a loaded machine that happened
// between two checks, so the three tests below that need an entry to stay put try again (the one that ends a
// session in SQL, with a new user) until the cache answers: without a cache it never would, and they time out.

/** Five checks of one session in a row, all answered from memory (tried again while the cache is settling). */
async function fiveHitsInARow(t: Tokens): Promise<number> {
  const hits = await metric(HITS);
  for (let i = 0; i < 5; i++) await expectServed(t);
  return (await metric(HITS)) - hits;
}

/** A user whose session was ended in SQL with the change triggers off, and is still served: by the cache. */
async function servedOnlyByTheCache(): Promise<Tokens> {
  return eventually(
    async () => {
      const t = await cachedUser();
      await operatorSql('update sessions set revoked_at = now() where id = $1', [sessionIdOf(t.accessToken)], true);
      return (await me(app, t.accessToken)).data?.me.id === t.user.id ? t : undefined;
    },
    (t): t is Tokens => t !== undefined,
    { timeoutMs: 10_000 },
  );
}

(pgUrl ? describe : describe.skip)('the session cache on PostgreSQL', () => {
  beforeAll(async () => {
    app = await startTestApp({ postgres: pgUrl });
    await eventually(async () => (await metric('portcullis_session_cache_enabled')) === 1, Boolean, {
      timeoutMs: 10_000,
    });
  });
  afterAll(async () => {
    await app?.stop();
  });

  it('answers repeated checks of one session from memory', async () => {
    const t = await signUp(app);
    await expectServed(t);
    expect(
      await eventually(
        () => fiveHitsInARow(t),
        (n) => n === 5,
        { timeoutMs: 10_000, onTimeout: 'return' },
      ),
    ).toBe(5);
  });

  it('keeps serving a session ended behind its back (change triggers off): the cache really is in use', async () => {
    await servedOnlyByTheCache();
  });

  describe('an operator ending a session or changing a user in SQL reaches it within 1 s', () => {
    it.each([
      [
        'ending the session',
        (t: Tokens) =>
          operatorSql('update sessions set revoked_at = now() where id = $1', [sessionIdOf(t.accessToken)]),
      ],
      [
        'shortening the session',
        (t: Tokens) =>
          operatorSql('update sessions set expires_at = created_at where id = $1', [sessionIdOf(t.accessToken)]),
      ],
      [
        'deactivating the user',
        (t: Tokens) => operatorSql('update users set active = false where id = $1', [t.user.id]),
      ],
      [
        'changing the roles',
        (t: Tokens) => operatorSql("update users set roles = '{SUPPORT}' where id = $1", [t.user.id]),
      ],
      ['deleting the user', (t: Tokens) => operatorSql('delete from users where id = $1', [t.user.id])],
    ])('%s', async (_what, change) => {
      const t = await cachedUser();
      await change(t);
      await eventually(() => refused(t), Boolean, { timeoutMs: 1000 });
    });
  });

  describe('a change made through this instance is refused on the very next request', () => {
    const gql = (query: string, token: string, variables: Record<string, unknown> = {}) =>
      app.gql(query, variables, { token });
    it.each([
      ['logout', async (t: Tokens) => gql('mutation { logout }', t.accessToken)],
      [
        'logout with the refresh token',
        async (t: Tokens) => app.gql('mutation($r: String) { logout(refreshToken: $r) }', { r: t.refreshToken }),
      ],
      ['logoutAll', async (t: Tokens) => gql('mutation { logoutAll }', t.accessToken)],
      [
        'revokeSession from another session',
        async (t: Tokens) => {
          const other = (await login(app, t.user.email, PASSWORD)).data!.login;
          return gql('mutation($id: ID!) { revokeSession(id: $id) }', other.accessToken, {
            id: sessionIdOf(t.accessToken),
          });
        },
      ],
      [
        'changePassword from another session',
        async (t: Tokens) => {
          const other = (await login(app, t.user.email, PASSWORD)).data!.login;
          return gql(
            'mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }',
            other.accessToken,
            {
              c: PASSWORD,
              n: 'Another-Horse-77!',
            },
          );
        },
      ],
      [
        'setUserRoles by an admin',
        async (t: Tokens) =>
          gql('mutation($id: ID!) { setUserRoles(userId: $id, roles: [SUPPORT]) { id } }', await adminToken(app), {
            id: t.user.id,
          }),
      ],
      [
        'setUserActive(false) by an admin',
        async (t: Tokens) =>
          gql('mutation($id: ID!) { setUserActive(userId: $id, active: false) { id } }', await adminToken(app), {
            id: t.user.id,
          }),
      ],
    ])('%s', async (_what, act) => {
      const t = await cachedUser();
      const res = await act(t);
      expect(res.errors).toBeUndefined();
      expect(await refused(t)).toBe(true);
    });
  });

  it("empties and turns off when the feed's connection drops, then comes back by itself", async () => {
    // Unseen by the feed: only the cache still says this session is live.
    const t = await servedOnlyByTheCache();

    const killer = new Client({ connectionString: app.db.url });
    await killer.connect();
    try {
      const { rowCount } = await killer.query(
        "select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and query = 'listen portcullis_changes'",
      );
      expect(rowCount).toBe(1);
    } finally {
      await killer.end();
    }
    // The dropped feed empties the cache: the check goes to the database and sees the session ended.
    await eventually(() => refused(t), Boolean, { timeoutMs: 2000 });
    // Back on by itself, and notifications arrive again.
    await eventually(async () => (await metric('portcullis_session_cache_enabled')) === 1, Boolean, {
      timeoutMs: 10_000,
    });
    const u = await cachedUser();
    expect(await metric('portcullis_session_cache_entries')).toBeGreaterThan(0);
    await operatorSql('update sessions set revoked_at = now() where id = $1', [sessionIdOf(u.accessToken)]);
    await eventually(() => refused(u), Boolean, { timeoutMs: 1000 });
  });
});
