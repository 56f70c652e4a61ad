// Request limits with REDIS_URL (rate-limit/store.ts, server/readiness.ts, docs/contract.md REDIS_URL): counters
// live in Redis and are shared by every instance; if Redis stops, limits go on counting in memory and
// /readyz says degraded until it answers again. Runs its own redis-server on a free port, never the shared one.
import Redis from 'ioredis';
import { graphqlInit, httpRequest, postGraphQL, readyz } from './helpers/client';
import { eventually } from './helpers/eventually';
import { uniqueEmail } from './helpers/flows';
import { startMain, stopMain, type MainProcess } from './helpers/main-process';
import { PATIENT_REDIS, RedisServer, redisServerAvailable } from './helpers/redis-server';
import { serverEnv } from './helpers/server-env';
import { createTestDatabase, type TestDatabase } from './helpers/test-database';
import { errorCode, startTestApp, type GraphQLResponse, type TestApp } from './helpers/test-server';

const WRONG = 'Wrong-Horse-9!';
const LOGIN = 'mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }';

const hasRedis = redisServerAvailable('tests/redis-limits.test.ts');

const freshEmail = (tag: string): string => uniqueEmail(`redis-${tag}-`);

const loginAt = (url: string, email: string): Promise<GraphQLResponse> =>
  postGraphQL(url, { query: LOGIN, variables: { e: email, p: WRONG } });

/** Polls only /readyz (no other traffic) until it answers 200 or `ms` have passed; returns the last answer. */
function waitReady(graphqlUrl: string, ms: number): Promise<{ status: number; checks: Record<string, string> }> {
  return eventually(
    () => readyz(graphqlUrl),
    (last) => last.status === 200,
    { timeoutMs: ms, intervalMs: 250, onTimeout: 'return' },
  );
}

(hasRedis ? describe : describe.skip)('request limits on Redis', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await RedisServer.start();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('two server processes on one Redis share the login limit', async () => {
    const db: TestDatabase = await createTestDatabase();
    const env = serverEnv(db, {
      ...PATIENT_REDIS,
      REDIS_URL: redis.url,
      RATE_LIMIT_LOGIN_IP_EMAIL: '4/30s',
      RATE_LIMIT_PER_MINUTE: '1000',
    });
    const running: MainProcess[] = [];
    try {
      // One after the other: the first applies the migrations to the fresh database.
      running.push(await startMain(env));
      running.push(await startMain(env));
      const [a, b] = running as [MainProcess, MainProcess];
      // Traffic only once both are ready (connected to Redis), as behind a load balancer.
      for (const instance of running) expect((await waitReady(instance.url, 10_000)).status).toBe(200);
      const email = freshEmail('shared');
      const codes: Array<string | undefined> = [];
      for (let i = 0; i < 6; i++) codes.push(errorCode(await loginAt(i % 2 === 0 ? a.url : b.url, email)));
      // Each instance alone has seen at most 3: only a shared count refuses the 5th and 6th.
      expect(codes).toEqual([
        'INVALID_CREDENTIALS',
        'INVALID_CREDENTIALS',
        'INVALID_CREDENTIALS',
        'INVALID_CREDENTIALS',
        'RATE_LIMITED',
        'RATE_LIMITED',
      ]);
    } finally {
      const exits = await Promise.all(running.map(stopMain));
      await db.drop();
      expect(exits).toEqual(running.map(() => 0));
    }
  }, 120_000);

  it('counts the per-IP request limit atomically: 50 requests at once against a limit of 20 let exactly 20 through', async () => {
    const app = await startTestApp({ env: { ...PATIENT_REDIS, REDIS_URL: redis.url, RATE_LIMIT_PER_MINUTE: '20' } });
    const client = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      expect((await waitReady(app.url, 10_000)).status).toBe(200);
      await client.connect();
      await client.flushall(); // this file's own redis-server: forget the other tests' counts from this IP
      const statuses = await Promise.all(
        Array.from({ length: 50 }, () =>
          httpRequest(app.url, graphqlInit({ query: '{ __typename }' })).then((r) => r.status),
        ),
      );
      expect(statuses.filter((s) => s === 200)).toHaveLength(20);
      expect(statuses.filter((s) => s === 429)).toHaveLength(30);
      // One counter per IP and window, in Redis, not a list of timestamps.
      const keys = await client.keys('ip-limit:*');
      expect(keys).toHaveLength(1);
      expect(Number(await client.get(keys[0]!))).toBe(50);
      const ttl = await client.pttl(keys[0]!);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(60_000);
    } finally {
      client.disconnect();
      await app.stop();
    }
  });

  describe('one in-process app', () => {
    let app: TestApp;
    beforeAll(async () => {
      app = await startTestApp({ env: { ...PATIENT_REDIS, REDIS_URL: redis.url, RATE_LIMIT_LOGIN_IP_EMAIL: '3/30s' } });
    });
    afterAll(async () => {
      await app?.stop();
    });

    it('keeps the login counters in Redis', async () => {
      // As a load balancer would, wait until the instance is ready (its Redis connection is up).
      expect((await waitReady(app.url, 10_000)).status).toBe(200);
      const email = freshEmail('keys');
      for (let i = 0; i < 2; i++)
        expect(errorCode(await app.gql(LOGIN, { e: email, p: WRONG }))).toBe('INVALID_CREDENTIALS');
      const client = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
      try {
        await client.connect();
        const keys = await client.keys('*');
        const loginKeys = keys.filter((k) => k.includes('login-ip-email') && k.includes(email));
        expect(loginKeys).toHaveLength(1);
        const stored = await client.get(loginKeys[0]!);
        expect(Number(stored)).toBe(2); // one atomic counter, not a list
        expect(app.server.limits.memory.size).toBe(0); // memory is for Redis failures only
      } finally {
        client.disconnect();
      }
    });

    it('goes on limiting in memory when Redis stops, reports degraded, and recovers when it is back', async () => {
      expect(await waitReady(app.url, 10_000)).toEqual({
        status: 200,
        checks: expect.objectContaining({ redis: 'ok' }),
      });

      await redis.stop();
      const email = freshEmail('outage');
      const answers: GraphQLResponse[] = [];
      for (let i = 0; i < 4; i++) answers.push(await app.gql(LOGIN, { e: email, p: WRONG }));
      for (const res of answers) {
        expect(res.status).toBeLessThan(500);
        expect(errorCode(res)).not.toBe('INTERNAL_SERVER_ERROR');
      }
      expect(answers.map(errorCode)).toEqual([
        'INVALID_CREDENTIALS',
        'INVALID_CREDENTIALS',
        'INVALID_CREDENTIALS',
        'RATE_LIMITED',
      ]);

      const down = await readyz(app.url);
      expect(down.status).toBe(503);
      expect(down.checks.redis).toMatch(/^degraded/);

      // Back on the same port; only /readyz is asked (a load balancer sends no traffic to an unready instance).
      await redis.start();
      expect(await waitReady(app.url, 15_000)).toEqual({
        status: 200,
        checks: expect.objectContaining({ redis: 'ok' }),
      });
    }, 40_000);
  });
});
