// Signing keys across servers on one database (modules/signing-keys/key-ring.ts): an install switched from HS256 to
// ES256 keeps its live HS256 tokens until they have expired and no longer; JWT_ALGORITHM unset keeps an existing
// install on HS256; and two instances on a real PostgreSQL rotating at once make one new key, sign with the same
// one afterwards (the second hears the change through NOTIFY), and verify a token signed by a key the other one
// just made (a reload on an unknown kid). Time is one fake clock shared by the servers.
import { randomUUID } from 'node:crypto';
import { decodeProtectedHeader, SignJWT } from 'jose';
import { silentLogger } from '../src/common/logger';
import { loadConfig } from '../src/config/config';
import { createServer, type PortcullisServer } from '../src/server/create-server';
import { claimsOf, graphqlClient, type GraphQLClient, httpRequest, scrapeMetrics } from './helpers/client';
import { eventually } from './helpers/eventually';
import { createUser, signIn, type TestUser } from './helpers/factories';
import { me, PASSWORD, signUp, type Tokens } from './helpers/flows';
import { realPostgresUrl } from './helpers/real-postgres';
import { queryDatabase } from './helpers/test-database';
import { serverEnv } from './helpers/server-env';
import { errorCode, startTestApp, TEST_JWT_SECRET, type TestApp } from './helpers/test-server';

const TOKEN_TTL = 300;
/** PUBLISH_LEAD_SECONDS: a standby signs no sooner than 10 minutes after it was published. */
const LEAD = 600;
const ROTATE = 'mutation { rotateSigningKey }';

interface Instance extends GraphQLClient {
  readonly server: PortcullisServer;
  stop(): Promise<void>;
}

/** Another server on `app`'s database, its SMTP server and its clock; `env` on top of the app's configuration. */
async function startInstance(app: TestApp, env: Record<string, string>): Promise<Instance> {
  const config = loadConfig(serverEnv(app.db, { NODE_ENV: 'test', SMTP_URL: app.smtp.url, ...env }));
  const server = await createServer(config, { clock: app.clock, logger: silentLogger });
  const port = await server.listen(0);
  return { ...graphqlClient(`http://127.0.0.1:${port}/graphql`), server, stop: () => server.stop() };
}

const jwksOf = async (at: GraphQLClient) =>
  (await httpRequest<{ keys: Array<{ kid: string }> }>(new URL('/.well-known/jwks.json', at.url))).body!.keys;
const kidOf = (token: string) => decodeProtectedHeader(token).kid;
const algOf = (token: string) => decodeProtectedHeader(token).alg;
const payloadOf = (token: string) => claimsOf<Record<string, unknown>>(token);

async function expectServed(at: GraphQLClient, token: string, userId: string): Promise<void> {
  const res = await me(at, token);
  expect(res.errors).toBeUndefined();
  expect(res.data?.me.id).toBe(userId);
}

describe('switching from HS256 to ES256 with live tokens', () => {
  let app: TestApp;
  let current: Instance | null = null;
  let appStopped = false;
  let user: Tokens;
  let member: TestUser;

  /** SQL on the database (the app's own server, and its connections, stop at the first restart). */
  const sql = <T = Record<string, unknown>>(query: string) => queryDatabase<T>(app.db.url, query);

  /** An HS256 token with `token`'s claims, issued now for TOKEN_TTL, signed with JWT_SECRET as HS256 servers do. */
  const hs256Now = (token: string) => {
    const iat = Math.floor(app.clock.now().getTime() / 1000);
    return new SignJWT({ ...payloadOf(token), jti: randomUUID(), iat, exp: iat + TOKEN_TTL })
      .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: 'hs256' })
      .sign(new TextEncoder().encode(TEST_JWT_SECRET));
  };

  /** Stops the server running on the database and starts one with `env`, a few seconds later (a restart). */
  async function restart(env: Record<string, string>): Promise<Instance> {
    await current?.stop();
    current = null;
    app.clock.advance(5);
    current = await startInstance(app, { ACCESS_TOKEN_TTL: String(TOKEN_TTL), ...env });
    return current;
  }

  beforeAll(async () => {
    app = await startTestApp({ env: { JWT_ALGORITHM: 'HS256', ACCESS_TOKEN_TTL: String(TOKEN_TTL) } });
  });

  afterAll(async () => {
    await current?.stop();
    if (!appStopped) await app?.server.stop();
    await app?.smtp.stop();
    await app?.db.drop();
  });

  it('JWT_ALGORITHM=HS256: tokens are HS256 with kid hs256, and the JWKS is empty', async () => {
    user = await signUp(app);
    member = await createUser(app);
    expect(decodeProtectedHeader(user.accessToken)).toEqual({ alg: 'HS256', typ: 'at+jwt', kid: 'hs256' });
    expect(await jwksOf(app)).toEqual([]);
    expect((await sql('select kid from signing_keys')).length).toBe(0);
    await expectServed(app, user.accessToken, user.user.id);
    // A token made here the way the server makes them is accepted: the HS256 forgeries below are the real thing.
    await expectServed(app, await hs256Now(user.accessToken), user.user.id);
  });

  it('JWT_ALGORITHM unset on a database with users and no keys: stays on HS256 (an existing install)', async () => {
    await app.server.stop();
    appStopped = true;
    const unset = await restart({});
    expect(unset.server.keyRing.algorithm).toBe('HS256');
    expect(algOf((await signIn(unset, member)).accessToken)).toBe('HS256');
    expect(await jwksOf(unset)).toEqual([]);
    expect((await sql('select kid from signing_keys')).length).toBe(0);
    await expectServed(unset, user.accessToken, user.user.id);
  });

  describe('then JWT_ALGORITHM=ES256 on the same database', () => {
    let es: Instance;
    let firstKeyAt: number;

    beforeAll(async () => {
      es = await restart({ JWT_ALGORITHM: 'ES256' });
      const [row] = await sql<{ at: Date }>('select min(created_at) as at from signing_keys');
      firstKeyAt = new Date(row!.at).getTime();
    });

    it('still accepts the HS256 token issued before the switch', async () => {
      await expectServed(es, user.accessToken, user.user.id);
    });

    it('signs new sign-ins with ES256 and a published kid', async () => {
      const token = (await signIn(es, member)).accessToken;
      expect(algOf(token)).toBe('ES256');
      expect((await jwksOf(es)).map((k) => k.kid)).toContain(kidOf(token));
      expect(es.server.keyRing.algorithm).toBe('ES256');
    });

    it('refuses HS256 tokens from the first key’s creation + 600 s + ACCESS_TOKEN_TTL on', async () => {
      const until = firstKeyAt + (LEAD + TOKEN_TTL) * 1000;
      app.clock.advance((until - app.clock.now().getTime()) / 1000 - 1);
      await expectServed(es, await hs256Now(user.accessToken), user.user.id); // 1 s before: still accepted
      app.clock.advance(1);
      const late = await hs256Now(user.accessToken); // unexpired, but issued after the HS256 era
      expect(errorCode(await me(es, late))).toBe('UNAUTHENTICATED');
      // The session is live: only HS256 is refused.
      const fresh = await signIn(es, { email: user.user.email, password: PASSWORD });
      await expectServed(es, fresh.accessToken, user.user.id);
    });
  });
});

const pgUrl = realPostgresUrl('tests/signing-key-rotation.test.ts');

(pgUrl ? describe : describe.skip)('two instances on one PostgreSQL', () => {
  let a: TestApp;
  let b: Instance;
  let admin: TestUser;

  const rotate = (at: GraphQLClient, token: string) => at.gql<{ rotateSigningKey: boolean }>(ROTATE, {}, { token });
  const rotateAt = async (at: GraphQLClient) => rotate(at, (await signIn(at, admin)).accessToken);

  async function storedKeys() {
    const rows = await a.sql<{ kid: string; activated: boolean; retired: boolean }>(
      `select kid, activated_at is not null as activated, retired_at is not null as retired
         from signing_keys order by created_at, kid`,
    );
    return {
      all: rows.map((r) => r.kid),
      active: rows.filter((r) => r.activated && !r.retired).map((r) => r.kid),
      standby: rows.filter((r) => !r.activated).map((r) => r.kid),
    };
  }

  const changeFeedUp = async (at: GraphQLClient) =>
    /^portcullis_session_cache_enabled 1$/m.test((await scrapeMetrics(at.url)).text);

  beforeAll(async () => {
    a = await startTestApp({ postgres: pgUrl, env: { ACCESS_TOKEN_TTL: String(TOKEN_TTL) } });
    b = await startInstance(a, { ACCESS_TOKEN_TTL: String(TOKEN_TTL) });
    // Both listen for the database's notifications before anything changes.
    await eventually(async () => (await changeFeedUp(a)) && (await changeFeedUp(b)), Boolean, { timeoutMs: 10_000 });
    admin = await createUser(a, { roles: ['ADMIN'] });
  });

  afterAll(async () => {
    await b?.stop();
    await a?.stop();
  });

  it('rotating on both at once makes one new key, and both then sign with the same one', async () => {
    const before = await storedKeys();
    expect(before.all).toHaveLength(2);
    a.clock.advance(LEAD + 1);
    const [onA, onB] = await Promise.all([signIn(a, admin), signIn(b, admin)]);
    const answers = await Promise.all([rotate(a, onA.accessToken), rotate(b, onB.accessToken)]);
    const succeeded = answers.filter((r) => r.data?.rotateSigningKey === true);
    expect(succeeded.length).toBeGreaterThanOrEqual(1);
    for (const r of answers.filter((x) => !succeeded.includes(x))) expect(errorCode(r)).toBe('RATE_LIMITED');

    const after = await storedKeys();
    expect(after.all).toHaveLength(3); // the retired key, the former standby signing, one new standby
    expect(after.active).toEqual(before.standby);
    expect(after.standby).toHaveLength(1);

    const signing = after.active[0];
    await eventually(
      () => [a.server.keyRing.signing().kid, b.server.keyRing.signing().kid],
      (kids) => kids.every((kid) => kid === signing),
    );
    expect(kidOf((await signIn(a, admin)).accessToken)).toBe(signing);
    expect(kidOf((await signIn(b, admin)).accessToken)).toBe(signing);
    expect((await jwksOf(b)).map((k) => k.kid).sort()).toEqual([...after.all].sort());
  });

  it('B accepts a token A signs with a key B has not heard of (it reads the keys on the unknown kid)', async () => {
    const member = await createUser(a);
    // Keep B from hearing of A's key changes: only the unknown kid can tell it.
    await a.sql('alter table signing_keys disable trigger signing_keys_notify_change');
    try {
      // B's once-a-minute key maintenance (a real timer) also reads the keys: should it fall between A's rotation
      // and the check that B has not heard of the new key (a few ms), A rotates once more, to a key B has not read.
      let token = '';
      let kid = '';
      for (let attempt = 1; attempt <= 3; attempt++) {
        a.clock.advance(LEAD + 1);
        expect((await rotateAt(a)).data?.rotateSigningKey).toBe(true); // A makes a new standby…
        a.clock.advance(LEAD + 1);
        expect((await rotateAt(a)).data?.rotateSigningKey).toBe(true); // …and signs with it now
        token = (await signIn(a, member)).accessToken;
        kid = kidOf(token)!;
        expect((await storedKeys()).active).toEqual([kid]);
        if (!(await jwksOf(b)).some((k) => k.kid === kid)) break;
      }
      expect((await jwksOf(b)).map((k) => k.kid)).not.toContain(kid);

      await expectServed(b, token, member.id);
      expect((await jwksOf(b)).map((k) => k.kid)).toContain(kid);
    } finally {
      await a.sql('alter table signing_keys enable trigger signing_keys_notify_change');
    }
  });
});
