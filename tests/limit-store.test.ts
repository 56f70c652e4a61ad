// The limit counters in memory (rate-limit/memory-counters.ts, store.ts): one small counter per key that expires
// with its window, in an LRU that never holds more than its bound, so thousands of sign-in attempts with random
// emails (issue 11's attack) leave a bounded, per-key structure behind instead of one ever-growing list.
import { silentLogger } from '../src/common/logger';
import { MEMORY_COUNTERS_MAX, MemoryCounters } from '../src/rate-limit/memory-counters';
import { LimitStore } from '../src/rate-limit/store';
import { adminToken } from './helpers/factories';
import { PASSWORD, login, signUp, uniqueEmail } from './helpers/flows';
import { errorCode, startTestApp, type TestApp } from './helpers/test-server';

const WRONG = 'Wrong-Horse-42';
const LOGIN = 'mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }';

/** A clock for the counters, moved by hand. */
function manualClock(): { now: () => number; advance: (ms: number) => void } {
  let t = 1_000_000;
  return { now: () => t, advance: (ms) => (t += ms) };
}

describe('memory counters', () => {
  it('keeps at most its bound: 5,000 distinct keys through a store bounded at 1,000 leave 1,000 counters', () => {
    const counters = new MemoryCounters({ max: 1000 });
    for (let i = 0; i < 5000; i++) counters.hit(`limit:{victim${i}@example.com}:login-email`, 3_600_000, 20);
    expect(counters.size).toBe(1000);
    // The least recently used went first: the newest keys are still counted, the oldest forgotten.
    expect(counters.count('limit:{victim4999@example.com}:login-email')).toBe(1);
    expect(counters.count('limit:{victim0@example.com}:login-email')).toBe(0);
  });

  it('is bounded at MEMORY_COUNTERS_MAX (100,000) by default', () => {
    expect(MEMORY_COUNTERS_MAX).toBe(100_000);
    expect(new LimitStore(null, silentLogger).memory.max).toBe(100_000);
  });

  it('counts up to max in a window that starts with the first hit, refuses without counting, and forgets it when the window ends', () => {
    const clock = manualClock();
    const counters = new MemoryCounters({ now: clock.now });
    const key = 'limit:{patient@example.com}:login-ip-email:127.0.0.1';
    expect([1, 2, 3].map(() => counters.hit(key, 2000, 3))).toEqual([
      { allowed: true, count: 1, resetMs: 2000 },
      { allowed: true, count: 2, resetMs: 2000 },
      { allowed: true, count: 3, resetMs: 2000 },
    ]);
    clock.advance(1500);
    // Refused, not counted, and the window does not move: retry in the 500 ms left.
    expect(counters.hit(key, 2000, 3)).toEqual({ allowed: false, count: 3, resetMs: 500 });
    expect(counters.hit(key, 2000, 3)).toEqual({ allowed: false, count: 3, resetMs: 500 });
    clock.advance(500);
    expect(counters.count(key)).toBe(0);
    expect(counters.hit(key, 2000, 3)).toEqual({ allowed: true, count: 1, resetMs: 2000 });
  });

  it('drops expired counters on a sweep, without waiting for them to be read', () => {
    const clock = manualClock();
    const counters = new MemoryCounters({ now: clock.now });
    for (let i = 0; i < 100; i++) counters.hit(`limit:{e${i}@example.com}:login-email`, 1000, 5);
    counters.hit('limit:{long@example.com}:login-email', 60_000, 5);
    clock.advance(1001);
    counters.sweep();
    expect(counters.size).toBe(1);
  });

  it('without max counts every hit (the per-IP limit compares the total itself)', () => {
    const counters = new MemoryCounters();
    for (let i = 0; i < 4; i++) counters.hit('ip-limit:127.0.0.1', 60_000);
    expect(counters.hit('ip-limit:127.0.0.1', 60_000)).toMatchObject({ allowed: true, count: 5 });
  });

  it('resetEmail clears every counter of that email (any limit, any IP) and no other', async () => {
    const store = new LimitStore(null, silentLogger);
    const keys = [
      'limit:{victim@example.com}:login-email',
      'limit:{victim@example.com}:login-ip-email:198.51.100.7',
      'limit:{victim@example.com}:verify-otp-ip-email:2001:db8:1:2::/64',
      'limit:{other@example.com}:login-email',
      'limit:register-ip:198.51.100.7',
    ];
    for (const key of keys) await store.hit(key, 60_000, 5);
    await store.resetEmail(' Victim@Example.com');
    expect(keys.map((k) => store.memory.count(k))).toEqual([0, 0, 0, 1, 1]);
    await store.close();
  });
});

// 300 are enough to show the shape (a counter per email and limit, none shared); the volume is `npm run bench`'s soak
// (100,000 attempts), and the bound is the unit test's above (5,000 keys).
describe('hundreds of sign-in attempts with random emails, through HTTP (no Redis)', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ env: { RATE_LIMIT_LOGIN_IP_EMAIL: '5/1h', RATE_LIMIT_LOGIN_EMAIL: '20/1h' } });
  });
  afterAll(async () => {
    await app?.stop();
  });

  it('leave one counter per email and limit (no list, no shared key), within the bound, and real sign-ins still counted', async () => {
    const { memory } = app.server.limits;
    const victim = (await signUp(app, uniqueEmail('victim'))).user.email;
    const before = memory.size; // the sign-up's own counters
    const attempts = 300;
    const emails = Array.from(
      { length: attempts },
      (_, i) => `random-${i}-${Math.random().toString(36).slice(2)}@example.net`,
    );
    let next = 0;
    const codes = new Map<string, number>();
    const worker = async (): Promise<void> => {
      while (next < emails.length) {
        const res = await app.gql(LOGIN, { e: emails[next++]!, p: WRONG });
        const code = errorCode(res) ?? 'OK';
        codes.set(code, (codes.get(code) ?? 0) + 1);
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    expect(Object.fromEntries(codes)).toEqual({ INVALID_CREDENTIALS: attempts });

    // Two counters per attempt (per IP+email, per email), each a single count of 1.
    const counted = emails.filter(
      (email) =>
        memory.count(`limit:{${email}}:login-email`) === 1 &&
        memory.count(`limit:{${email}}:login-ip-email:127.0.0.1`) === 1,
    );
    expect(counted).toHaveLength(attempts);
    expect(memory.size - before).toBeGreaterThanOrEqual(2 * attempts - before); // others' short windows may have been swept
    expect(memory.count('limit:{}:login-email')).toBe(0); // nothing is kept under one shared key
    expect(memory.size).toBeLessThanOrEqual(memory.max);

    // The owner still signs in, and that sign-in is counted against their own email only.
    expect((await login(app, victim, PASSWORD)).errors).toBeUndefined();
    expect(memory.count(`limit:{${victim}}:login-email`)).toBe(1);
  }, 120_000); // about 3 s on a quiet machine

  it("an admin's unlockUser clears the account's request-limit counters: a limited email is let through again at once", async () => {
    const victim = await signUp(app, uniqueEmail('locked'));
    const token = await adminToken(app);
    const email = victim.user.email;
    for (let i = 0; i < 5; i++)
      expect(errorCode(await app.gql(LOGIN, { e: email, p: WRONG }))).toBe('INVALID_CREDENTIALS');
    expect(errorCode(await app.gql(LOGIN, { e: email, p: WRONG }))).toBe('RATE_LIMITED');

    const unlocked = await app.gql(
      'mutation($id: ID!) { unlockUser(userId: $id) { id } }',
      { id: victim.user.id },
      { token },
    );
    expect(unlocked.errors).toBeUndefined();
    expect(errorCode(await app.gql(LOGIN, { e: email, p: WRONG }))).toBe('INVALID_CREDENTIALS');
  });
});
