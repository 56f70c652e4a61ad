// Two real server processes (src/main.ts) on one database, as behind a load balancer: a session ended (logout,
// logoutAll, refresh-token reuse), a user deactivated or a role changed on one instance is refused by the
// other within a second (each caches live sessions and drops them on the database's NOTIFY; on PGlite, where
// the cache is off, each checks the database), the mail outbox sends each email exactly once with both
// senders polling (claims use FOR UPDATE SKIP LOCKED), and both stop cleanly on SIGTERM.
import { LIMIT_DEFAULTS } from '../src/config/limits';
import { eventually } from './helpers/eventually';
import { startMain, stopMain, type MainProcess } from './helpers/main-process';
import { TestSmtp } from './helpers/smtp';
import { createTestDatabase, queryDatabase, type TestDatabase } from './helpers/test-database';

jest.setTimeout(180_000);

const PASSWORD = 'Instances-Pass-9';
const JWT_SECRET = 'instances-test-secret-of-at-least-32-bytes!';
const AUTH = 'accessToken refreshToken user { id email roles }';

interface Gql {
  data?: any;
  errors?: Array<{ message: string; extensions?: { code?: string } }>;
}
interface Tokens {
  accessToken: string;
  refreshToken: string;
  user: { id: string; email: string; roles: string[] };
}

async function gql(url: string, query: string, variables: Record<string, unknown> = {}, token?: string): Promise<Gql> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  const res = await fetch(url, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
  return (await res.json()) as Gql;
}
const codeOf = (res: Gql): string | undefined => res.errors?.[0]?.extensions?.code;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let counter = 0;
const freshEmail = (tag: string): string => `inst-${tag}-${++counter}.${Date.now()}@example.com`;

const REGISTER = 'mutation($i: RegisterInput!) { register(input: $i) { expiresIn } }';
const ME = '{ me { id email roles } }';

let db: TestDatabase;
let smtp: TestSmtp;
let a: MainProcess;
let b: MainProcess;
const running: MainProcess[] = [];

const sql = <T = Record<string, unknown>>(query: string, params: unknown[] = []): Promise<T[]> =>
  queryDatabase<T>(db.url, query, params);

async function register(url: string, email: string): Promise<void> {
  const res = await gql(url, REGISTER, { i: { email, password: PASSWORD } });
  if (res.errors) throw new Error(`register failed: ${JSON.stringify(res.errors)}`);
}

/** Registers through `regAt`, reads the code from the SMTP server and verifies it through `verifyAt`. */
async function signUp(regAt: MainProcess, verifyAt: MainProcess, email = freshEmail('user')): Promise<Tokens> {
  const before = smtp.messages.length;
  await register(regAt.url, email);
  const code = await smtp.codeFor(email, /confirm/i, before);
  const res = await gql(
    verifyAt.url,
    `mutation($e: String!, $c: String!) { verifyOtp(email: $e, code: $c, purpose: VERIFY_EMAIL) { ${AUTH} } }`,
    { e: email, c: code },
  );
  if (!res.data?.verifyOtp) throw new Error(`verifyOtp failed: ${JSON.stringify(res.errors)}`);
  return res.data.verifyOtp as Tokens;
}

async function login(at: MainProcess, email: string): Promise<Tokens> {
  const res = await gql(at.url, `mutation($e: String!, $p: String!) { login(email: $e, password: $p) { ${AUTH} } }`, {
    e: email,
    p: PASSWORD,
  });
  if (!res.data?.login) throw new Error(`login failed: ${JSON.stringify(res.errors)}`);
  return res.data.login as Tokens;
}

/** `me` through `at` must work now (the token is good before the change). */
async function expectMeWorks(at: MainProcess, token: string, email: string): Promise<void> {
  const res = await gql(at.url, ME, {}, token);
  expect(res.errors).toBeUndefined();
  expect(res.data?.me.email).toBe(email);
}

/** Polls `me` through `at` every 50 ms for at most 1 s; the code of the last answer and when it came. */
async function pollUntilRefused(at: MainProcess, token: string): Promise<{ code: string | undefined; ms: number }> {
  const start = Date.now();
  for (;;) {
    const res = await gql(at.url, ME, {}, token);
    const ms = Date.now() - start;
    const code = codeOf(res);
    if (code === 'UNAUTHENTICATED' || ms >= 1000) return { code, ms };
    await sleep(50);
  }
}

/**
 * Queues one email through each instance and waits for both to arrive. Senders claim rows in id order, one pass
 * at a time, so a sender that delivers a marker has finished every pass that could resend an earlier row.
 */
async function laterPassesDone(): Promise<string[]> {
  const markers = [freshEmail('marker'), freshEmail('marker')];
  await register(a.url, markers[0]!);
  await smtp.waitFor(markers[0]!, undefined, 20_000);
  await register(b.url, markers[1]!);
  await smtp.waitFor(markers[1]!, undefined, 20_000);
  return markers.map((m) => m.toLowerCase());
}

async function expectRefusedWithinASecond(at: MainProcess, token: string): Promise<void> {
  const { code, ms } = await pollUntilRefused(at, token);
  expect(code).toBe('UNAUTHENTICATED');
  expect(ms).toBeLessThanOrEqual(1000);
}

beforeAll(async () => {
  db = await createTestDatabase();
  smtp = new TestSmtp();
  await smtp.start();
  const env = {
    PORT: '0',
    NODE_ENV: 'development',
    DATABASE_URL: db.url,
    DATABASE_POOL_SIZE: String(db.poolSize),
    JWT_SECRET,
    SMTP_URL: smtp.url,
    BCRYPT_COST: '4',
    RATE_LIMIT_PER_MINUTE: '100000',
    ...Object.fromEntries(LIMIT_DEFAULTS.map((d) => [d.variable, '100000/1s'])),
    REFRESH_GRACE_WINDOW: '0', // any replay of a rotated refresh token is reuse
  };
  // One after the other: the first applies the migrations to the fresh database.
  running.push((a = await startMain(env)));
  running.push((b = await startMain(env)));
});

afterAll(async () => {
  await Promise.all(running.map(stopMain));
  await smtp?.stop();
  await db?.drop();
});

describe('two instances on one database', () => {
  it('logout through B is refused by A within 1 s', async () => {
    const user = await signUp(a, b);
    await expectMeWorks(a, user.accessToken, user.user.email);
    const out = await gql(b.url, 'mutation { logout }', {}, user.accessToken);
    expect(out).toEqual({ data: { logout: true } });
    await expectRefusedWithinASecond(a, user.accessToken);
  });

  it('logoutAll through A is refused by B within 1 s', async () => {
    const user = await signUp(b, a);
    const other = await login(a, user.user.email); // a second session of the same user
    await expectMeWorks(b, user.accessToken, user.user.email);
    await expectMeWorks(b, other.accessToken, user.user.email);
    const out = await gql(a.url, 'mutation { logoutAll }', {}, user.accessToken);
    expect(out).toEqual({ data: { logoutAll: true } });
    await expectRefusedWithinASecond(b, user.accessToken);
    await expectRefusedWithinASecond(b, other.accessToken);
  });

  it('refresh-token reuse detected on B ends the session on A within 1 s', async () => {
    const user = await signUp(a, b);
    await expectMeWorks(a, user.accessToken, user.user.email);
    const REFRESH = `mutation($r: String) { refresh(refreshToken: $r) { ${AUTH} } }`;
    const rotated = (await gql(b.url, REFRESH, { r: user.refreshToken })).data?.refresh as Tokens;
    expect(rotated.refreshToken).toBeTruthy();
    const rotatedBy = Date.now(); // the rotation was stored before its answer came
    await expectMeWorks(a, rotated.accessToken, user.user.email);
    await eventually(() => Date.now() > rotatedBy); // a later millisecond: past the zero grace window
    expect(codeOf(await gql(b.url, REFRESH, { r: user.refreshToken }))).toBe('UNAUTHENTICATED');
    await expectRefusedWithinASecond(a, rotated.accessToken);
    await expectRefusedWithinASecond(a, user.accessToken);
  });

  describe('admin changes', () => {
    let admin: Tokens;
    beforeAll(async () => {
      const first = await signUp(a, b);
      await sql(`update users set roles = '{ADMIN}' where id = $1`, [first.user.id]);
      admin = await login(b, first.user.email);
      expect(admin.user.roles).toEqual(['ADMIN']);
    });

    it('setUserActive(false) by an admin on B is refused by A within 1 s', async () => {
      const user = await signUp(a, b);
      await expectMeWorks(a, user.accessToken, user.user.email);
      const res = await gql(
        b.url,
        'mutation($id: ID!) { setUserActive(userId: $id, active: false) { id active } }',
        { id: user.user.id },
        admin.accessToken,
      );
      expect(res).toEqual({ data: { setUserActive: { id: user.user.id, active: false } } });
      await expectRefusedWithinASecond(a, user.accessToken);
    });

    it('setUserRoles on A refuses the old token on B within 1 s', async () => {
      const user = await signUp(b, a);
      await expectMeWorks(b, user.accessToken, user.user.email);
      const res = await gql(
        a.url,
        'mutation($id: ID!) { setUserRoles(userId: $id, roles: [USER, SUPPORT]) { id roles } }',
        { id: user.user.id },
        admin.accessToken,
      );
      expect(res.errors).toBeUndefined();
      expect([...(res.data?.setUserRoles.roles ?? [])].sort()).toEqual(['SUPPORT', 'USER']);
      await expectRefusedWithinASecond(b, user.accessToken);
    });
  });

  it('the outbox sends each email exactly once with both instances running', async () => {
    const unsent = async () =>
      Number((await sql<{ n: string }>('select count(*) as n from mail_outbox where sent_at is null'))[0]!.n);
    const allSent = () => eventually(unsent, (n) => n === 0, { timeoutMs: 20_000 });
    // Settle the mail of the earlier tests first, so that only this test's messages are counted.
    await allSent();
    await laterPassesDone();
    smtp.clear();

    const emails = Array.from({ length: 10 }, () => freshEmail('outbox'));
    await Promise.all(emails.map((email, i) => register((i % 2 === 0 ? a : b).url, email)));
    const rows = await sql<{ recipient: string }>('select recipient from mail_outbox where recipient = any($1)', [
      emails,
    ]);
    expect(rows.map((r) => r.recipient).sort()).toEqual([...emails].sort());

    await allSent();
    // A duplicate claim would still be sending when the first copy is marked sent: wait for later passes.
    const markers = await laterPassesDone();
    expect(smtp.messages.filter((m) => !markers.includes(m.to))).toHaveLength(10);
    expect(
      smtp.messages
        .map((m) => m.to)
        .filter((to) => !markers.includes(to))
        .sort(),
    ).toEqual([...emails].sort());
    expect(smtp.messages.filter((m) => markers.includes(m.to))).toHaveLength(markers.length);
    const attempts = await sql<{ attempts: number }>('select attempts from mail_outbox where recipient = any($1)', [
      emails,
    ]);
    expect(attempts.map((r) => r.attempts)).toEqual(emails.map(() => 1));
  });

  it('both instances stop with exit code 0 on SIGTERM', async () => {
    expect(await Promise.all([stopMain(a), stopMain(b)])).toEqual([0, 0]);
  });
});
