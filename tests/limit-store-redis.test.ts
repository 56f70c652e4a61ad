// The limit counters on Redis (rate-limit/store.ts, server/readiness.ts): one integer per key and window counted
// atomically by a Lua script, so two instances never let more through than the limit; counters expire with
// their window; a Redis that hangs (SIGSTOP) costs a request at most the 200 ms command timeout, after which
// counting is in memory and /readyz says so, until Redis answers again. Runs its own redis-server.
import Redis from 'ioredis';
import { postGraphQL, readyz } from './helpers/client';
import { eventually } from './helpers/eventually';
import { uniqueEmail } from './helpers/flows';
import { realPostgresUrl } from './helpers/real-postgres';
import { PATIENT_REDIS, RedisServer, redisServerAvailable } from './helpers/redis-server';
import { errorCode, startTestApp, type GraphQLResponse, type TestApp } from './helpers/test-server';

const WRONG = 'Wrong-Horse-9!';
const LOGIN = 'mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }';
const hasRedis = redisServerAvailable('tests/limit-store-redis.test.ts');
// Two in-process servers need a database each: the real PostgreSQL (one PGlite per worker cannot hold two).
const postgres = hasRedis ? realPostgresUrl('tests/limit-store-redis.test.ts') : undefined;

const freshEmail = (tag: string): string => uniqueEmail(`store-${tag}-`);

/** A login with a wrong password at `url`; gives up (and fails the test) after `timeoutMs`. */
const loginAt = (url: string, email: string, timeoutMs = 60_000): Promise<GraphQLResponse> =>
  postGraphQL(url, { query: LOGIN, variables: { e: email, p: WRONG } }, { signal: AbortSignal.timeout(timeoutMs) });

const readyzOf = (url: string) => readyz(url, { signal: AbortSignal.timeout(10_000) });

/** Polls /readyz every 100 ms until it answers 200. */
const untilReady = (url: string) =>
  eventually(async () => (await readyzOf(url)).status === 200, Boolean, { intervalMs: 100 });

/** An in-process server on Redis with `env`, once it is ready (its Redis connection is up). */
async function startReady(env: Record<string, string>): Promise<TestApp> {
  const app = await startTestApp({ env });
  await untilReady(app.url);
  return app;
}

(hasRedis ? describe : describe.skip)('limit counters on Redis', () => {
  let redis: RedisServer;
  let client: Redis;
  beforeAll(async () => {
    redis = await RedisServer.start();
    client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  });
  afterAll(async () => {
    client?.disconnect();
    await redis?.stop();
  });

  (postgres ? it : it.skip)(
    'two instances on one Redis: 50 concurrent logins against a 7-per-minute email limit let exactly 7 through',
    async () => {
      // Two in-process servers, each with a database of its own on the real PostgreSQL, sharing only Redis.
      const env = { ...PATIENT_REDIS, REDIS_URL: redis.url, RATE_LIMIT_LOGIN_EMAIL: '7/1m' };
      const apps: TestApp[] = [];
      try {
        apps.push(await startTestApp({ env, postgres }), await startTestApp({ env, postgres }));
        for (const app of apps) await untilReady(app.url);
        const email = freshEmail('race');
        const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => loginAt(apps[i % 2]!.url, email)));
        const codes = answers.map(errorCode);
        expect(codes.filter((c) => c === 'INVALID_CREDENTIALS')).toHaveLength(7);
        expect(codes.filter((c) => c === 'RATE_LIMITED')).toHaveLength(43);
        // One integer in Redis, not a list: the refused 43 were not counted.
        expect(await client.get(`limit:{${email}}:login-email`)).toBe('7');
        for (const app of apps) expect(app.server.limits.memory.size).toBe(0); // memory is for Redis failures only
      } finally {
        for (const app of apps) await app.stop();
      }
    },
    120_000,
  );

  describe('one instance', () => {
    let app: TestApp;
    beforeAll(
      async () =>
        void (app = await startReady({ ...PATIENT_REDIS, REDIS_URL: redis.url, RATE_LIMIT_LOGIN_EMAIL: '2/5s' })),
    );
    afterAll(async () => {
      await app?.stop();
    });

    it('keeps a counter that expires with its window, then counts the same caller from 1 again', async () => {
      const email = freshEmail('expiry');
      const key = `limit:{${email}}:login-email`;
      for (let i = 0; i < 2; i++) expect(errorCode(await loginAt(app.url, email))).toBe('INVALID_CREDENTIALS');
      expect(errorCode(await loginAt(app.url, email))).toBe('RATE_LIMITED');
      const ttl = await client.pttl(key);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(5000);
      await eventually(async () => (await client.exists(key)) === 0, Boolean, { intervalMs: 100 }); // expired
      expect(errorCode(await loginAt(app.url, email))).toBe('INVALID_CREDENTIALS');
      expect(await client.get(key)).toBe('1');
    });

    it('resetEmail deletes every counter of that email in Redis, and no other', async () => {
      const [victim, other] = [freshEmail('unlock'), freshEmail('bystander')];
      for (const email of [victim, other]) expect(errorCode(await loginAt(app.url, email))).toBe('INVALID_CREDENTIALS');
      expect((await client.keys(`limit:{${victim}}:*`)).sort()).toEqual([
        `limit:{${victim}}:login-email`,
        `limit:{${victim}}:login-ip-email:127.0.0.1`,
      ]);
      await app.server.limits.resetEmail(victim.toUpperCase());
      expect(await client.keys(`limit:{${victim}}:*`)).toEqual([]);
      expect(await client.keys(`limit:{${other}}:*`)).toHaveLength(2);
    });
  });

  describe('a hung Redis', () => {
    let app: TestApp;
    beforeAll(async () => void (app = await startReady({ REDIS_URL: redis.url, RATE_LIMIT_LOGIN_IP_EMAIL: '3/1m' })));
    afterAll(async () => {
      redis.resume(); // in case a failed test left it stopped
      await app?.stop();
    });

    it('(SIGSTOP): requests are answered and counted in memory, /readyz says so; after SIGCONT counting is back in Redis', async () => {
      const email = freshEmail('hung');
      redis.pause();
      try {
        const codes: Array<string | undefined> = [];
        // Each login is answered (without the command timeout each waits for Redis for minutes) and limited in memory.
        for (let i = 0; i < 4; i++) codes.push(errorCode(await loginAt(app.url, email, 20_000)));
        expect(codes).toEqual(['INVALID_CREDENTIALS', 'INVALID_CREDENTIALS', 'INVALID_CREDENTIALS', 'RATE_LIMITED']);
        expect(app.server.limits.degraded).toBe(true);
        expect(app.server.limits.memory.count(`limit:{${email}}:login-ip-email:127.0.0.1`)).toBe(3);

        const down = await readyzOf(app.url);
        expect(down.status).toBe(503);
        expect(down.checks.redis).toMatch(/^degraded: Redis not answering within 200 ms;/); // the default
      } finally {
        redis.resume();
      }
      await untilReady(app.url); // answers 200 again
      expect(app.server.limits.degraded).toBe(false);
      expect(app.server.limits.memory.size).toBe(0);
      const after = freshEmail('resumed');
      expect(errorCode(await loginAt(app.url, after))).toBe('INVALID_CREDENTIALS');
      expect(await client.get(`limit:{${after}}:login-ip-email:127.0.0.1`)).toBe('1');
      expect(app.server.limits.memory.size).toBe(0);
    }, 60_000);
  });

  describe('a hung Redis with REDIS_COMMAND_TIMEOUT_MS=1500', () => {
    let app: TestApp;
    beforeAll(async () => void (app = await startReady({ REDIS_URL: redis.url, REDIS_COMMAND_TIMEOUT_MS: '1500' })));
    afterAll(async () => {
      redis.resume(); // in case a failed test left it stopped
      await app?.stop();
    });

    it('a request waits that long for the hung Redis, then is counted in memory; /readyz names the timeout', async () => {
      const email = freshEmail('patient');
      redis.pause();
      try {
        const started = performance.now();
        expect(errorCode(await loginAt(app.url, email, 20_000))).toBe('INVALID_CREDENTIALS');
        // Not answered before its timeout: the request waited for Redis that long, then was counted in memory.
        expect(performance.now() - started).toBeGreaterThanOrEqual(1500);
        expect(app.server.limits.degraded).toBe(true);
        expect(app.server.limits.memory.count(`limit:{${email}}:login-ip-email:127.0.0.1`)).toBe(1);
        const down = await readyzOf(app.url);
        expect(down.checks.redis).toMatch(/^degraded: Redis not answering within 1500 ms;/);
      } finally {
        redis.resume();
      }
    }, 60_000);
  });
});
