// Account deletion (issue #17) behind a load balancer: two servers on one real PostgreSQL. A deletion on one
// instance ends the account's access token, refresh token and API key on the other within a second (each caches
// live sessions and keys, and drops them on the users table's NOTIFY); the address registers again through the other
// instance; and deletions racing each other across the instances leave exactly one outcome.
import { loadConfig } from '../src/config/config';
import { silentLogger } from '../src/common/logger';
import { createServer, type PortcullisServer } from '../src/server/create-server';
import { deleteAccount, deleteUser, mfaAdmin, newApiKey } from './helpers/account';
import { graphqlClient, type GraphQLClient } from './helpers/client';
import { eventually } from './helpers/eventually';
import { createUser, signIn, type WithDatabase } from './helpers/factories';
import { FakeClock } from './helpers/fake-clock';
import { login, me, refresh, signUp, uniqueEmail, type Tokens } from './helpers/flows';
import { realPostgresUrl } from './helpers/real-postgres';
import { serverEnv } from './helpers/server-env';
import { errorCode, startTestApp, type TestApp } from './helpers/test-server';

const pgUrl = realPostgresUrl('tests/account-deletion-instances.test.ts');

(pgUrl ? describe : describe.skip)('account deletion on two instances of one PostgreSQL', () => {
  let a: TestApp;
  let b: PortcullisServer;
  let bClock: FakeClock;
  let bApp: GraphQLClient & WithDatabase;

  beforeAll(async () => {
    a = await startTestApp({ postgres: pgUrl });
    const config = loadConfig(serverEnv(a.db, { NODE_ENV: 'test', SMTP_URL: a.smtp.url }));
    bClock = new FakeClock(a.clock.now());
    b = await createServer(config, { clock: bClock, logger: silentLogger });
    bApp = { ...graphqlClient(`http://127.0.0.1:${await b.listen(0, '127.0.0.1')}/graphql`), smtp: a.smtp, db: a.db };
  });
  afterAll(async () => {
    await b?.stop();
    await a?.stop();
  });

  /** B's clock catches up with A's (moved by the TOTP steps of mfaAdmin), so both judge tokens alike. */
  function syncClocks(): void {
    bClock.advance((a.clock.now().getTime() - bClock.now().getTime()) / 1000);
  }

  /** Polls `check` every 50 ms for at most 1 s: whether it came true, and after how long. */
  async function withinOneSecond(check: () => Promise<boolean>): Promise<{ done: boolean; ms: number }> {
    const start = Date.now();
    return eventually(
      async () => ({ done: await check(), ms: Date.now() - start }),
      (r) => r.done,
      { timeoutMs: 1000, intervalMs: 50, onTimeout: 'return' },
    );
  }

  /** A user signed in on `at` with an API key, each credential used once on both instances (so both cache them). */
  async function cachedEverywhere(at: GraphQLClient & WithDatabase) {
    const email = uniqueEmail('twice');
    await signUp(at, email);
    const tokens: Tokens = (await login(at, email)).data!.login;
    const key = await newApiKey(at, tokens.accessToken, ['self:read']);
    for (const server of [a, bApp]) {
      expect((await me(server, tokens.accessToken)).data?.me.id).toBe(tokens.user.id);
      expect((await me(server, key.secret)).data?.me.id).toBe(tokens.user.id);
    }
    return { email, tokens, key };
  }

  const refusedEverywhereOn = (server: GraphQLClient, c: { tokens: Tokens; key: { secret: string } }) =>
    withinOneSecond(async () => {
      const [token, secret] = await Promise.all([me(server, c.tokens.accessToken), me(server, c.key.secret)]);
      return errorCode(token) === 'UNAUTHENTICATED' && errorCode(secret) === 'UNAUTHENTICATED';
    });

  it('deleteAccount on B: A refuses the access token and the API key within 1 s, and the refresh token; the address registers again through A', async () => {
    const c = await cachedEverywhere(bApp);
    expect((await deleteAccount(bApp, c.tokens.accessToken)).body).toEqual({ data: { deleteAccount: true } });

    const seen = await refusedEverywhereOn(a, c);
    expect(seen.done).toBe(true);
    expect(seen.ms).toBeLessThanOrEqual(1000);
    expect(errorCode(await refresh(a, c.tokens.refreshToken))).toBe('UNAUTHENTICATED');

    const again = await signUp(a, c.email);
    expect(again.user.id).not.toBe(c.tokens.user.id);
    expect((await me(bApp, again.accessToken)).data?.me.id).toBe(again.user.id);
  });

  it('deleteUser by an admin on A: B refuses the user’s access token and API key within 1 s', async () => {
    const admin = await mfaAdmin(a);
    syncClocks();
    const c = await cachedEverywhere(a);
    expect((await deleteUser(a, admin.tokens.accessToken, c.tokens.user.id)).body).toEqual({
      data: { deleteUser: true },
    });

    const seen = await refusedEverywhereOn(bApp, c);
    expect(seen.done).toBe(true);
    expect(seen.ms).toBeLessThanOrEqual(1000);
    expect(errorCode(await refresh(bApp, c.tokens.refreshToken))).toBe('UNAUTHENTICATED');
  });

  it('deleteAccount sent to both instances at once with one token: one true, one ACCOUNT_DELETED, no server error', async () => {
    const user = await createUser(a);
    const tokens = await signIn(a, user);
    const answers = await Promise.all([deleteAccount(a, tokens.accessToken), deleteAccount(bApp, tokens.accessToken)]);
    expect(answers.filter((r) => r.data?.deleteAccount === true)).toHaveLength(1);
    expect(answers.map(errorCode)).not.toContain('INTERNAL_SERVER_ERROR');
    const rows = await a.sql("select 1 from audit_events where type = 'ACCOUNT_DELETED' and subject_user_id = ?", [
      user.id,
    ]);
    expect(rows).toHaveLength(1);
  });

  it('the only two active ADMINs deleting each other at once, one through each instance: exactly one remains', async () => {
    await a.sql("update users set roles = array['USER'] where 'ADMIN' = any(roles)");
    const first = await mfaAdmin(a);
    const second = await mfaAdmin(a);
    syncClocks();
    const answers = await Promise.all([
      deleteUser(a, first.tokens.accessToken, second.user.id),
      deleteUser(bApp, second.tokens.accessToken, first.user.id),
    ]);
    expect(answers.filter((r) => r.data?.deleteUser === true)).toHaveLength(1);
    expect(answers.map(errorCode)).not.toContain('INTERNAL_SERVER_ERROR');
    const admins = await a.sql("select id from users where active and 'ADMIN' = any(roles)");
    expect(admins).toHaveLength(1);
  });
});
