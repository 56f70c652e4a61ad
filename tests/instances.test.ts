// Two real server processes (src/main.ts) on one database, as behind a load balancer: a session ended (logout,
// logoutAll, refresh-token reuse), a user deactivated or a role changed on one instance is refused by the
// other within a second (each caches live sessions and drops them on the database's NOTIFY; on PGlite, where
// the cache is off, each checks the database), the mail outbox sends each email exactly once with both
// senders polling (claims use FOR UPDATE SKIP LOCKED), and both stop cleanly on SIGTERM.
import { errorCode } from './helpers/client';
import { eventually } from './helpers/eventually';
import { createUser, signIn } from './helpers/factories';
import { refresh, register as registerAt, uniqueEmail, verifyOtp, type Tokens } from './helpers/flows';
import { startMain, stopMain, type MainProcess } from './helpers/main-process';
import { serverEnv } from './helpers/server-env';
import { TestSmtp } from './helpers/smtp';
import { createTestDatabase, queryDatabase, type TestDatabase } from './helpers/test-database';

jest.setTimeout(180_000);

const PASSWORD = 'Instances-Pass-9';

const freshEmail = (tag: string): string => uniqueEmail(`inst-${tag}-`);

const ME = '{ me { id email roles } }';
const DEACTIVATE = 'mutation($id: ID!) { setUserActive(userId: $id, active: false) { id active } }';
const ADD_SUPPORT = 'mutation($id: ID!) { setUserRoles(userId: $id, roles: [USER, SUPPORT]) { id roles } }';

let db: TestDatabase;
let smtp: TestSmtp;
let a: MainProcess;
let b: MainProcess;
const running: MainProcess[] = [];

const sql = <T = Record<string, unknown>>(query: string, params: unknown[] = []): Promise<T[]> =>
  queryDatabase<T>(db.url, query, params);

const register = (at: MainProcess, email: string): Promise<void> => registerAt(at, email, PASSWORD);

/** Registers through `regAt`, reads the code from the SMTP server and verifies it through `verifyAt`. */
async function signUp(regAt: MainProcess, verifyAt: MainProcess, email = freshEmail('user')): Promise<Tokens> {
  const before = smtp.messages.length;
  await register(regAt, email);
  const code = await smtp.codeFor(email, /confirm/i, before);
  const res = await verifyOtp(verifyAt, email, code);
  if (!res.data?.verifyOtp) throw new Error(`verifyOtp failed: ${JSON.stringify(res.errors)}`);
  return res.data.verifyOtp;
}

const login = (at: MainProcess, email: string): Promise<Tokens> => signIn(at, { email, password: PASSWORD });

/** `me` through `at` must work now (the token is good before the change). */
async function expectMeWorks(at: MainProcess, token: string, email: string): Promise<void> {
  const res = await at.gql(ME, {}, { token });
  expect(res.errors).toBeUndefined();
  expect(res.data?.me.email).toBe(email);
}

/** Polls `me` through `at` every 50 ms for at most 1 s; the code of the last answer and when it came. */
async function pollUntilRefused(at: MainProcess, token: string): Promise<{ code: string | undefined; ms: number }> {
  const start = Date.now();
  return eventually(
    async () => {
      const code = errorCode(await at.gql(ME, {}, { token }));
      return { code, ms: Date.now() - start };
    },
    ({ code }) => code === 'UNAUTHENTICATED',
    { timeoutMs: 1000, intervalMs: 50, onTimeout: 'return' },
  );
}

/**
 * Queues one email through each instance and waits for both to arrive. Senders claim rows in id order, one pass
 * at a time, so a sender that delivers a marker has finished every pass that could resend an earlier row.
 */
async function laterPassesDone(): Promise<string[]> {
  const markers = [freshEmail('marker'), freshEmail('marker')];
  await register(a, markers[0]!);
  await smtp.waitFor(markers[0]!, undefined, 20_000);
  await register(b, markers[1]!);
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
  const env = serverEnv(db, {
    SMTP_URL: smtp.url,
    REFRESH_GRACE_WINDOW: '0', // any replay of a rotated refresh token is reuse
  });
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
    const out = await b.gql('mutation { logout }', {}, { token: user.accessToken });
    expect(out.body).toEqual({ data: { logout: true } });
    await expectRefusedWithinASecond(a, user.accessToken);
  });

  it('logoutAll through A is refused by B within 1 s', async () => {
    const user = await signUp(b, a);
    const other = await login(a, user.user.email); // a second session of the same user
    await expectMeWorks(b, user.accessToken, user.user.email);
    await expectMeWorks(b, other.accessToken, user.user.email);
    const out = await a.gql('mutation { logoutAll }', {}, { token: user.accessToken });
    expect(out.body).toEqual({ data: { logoutAll: true } });
    await expectRefusedWithinASecond(b, user.accessToken);
    await expectRefusedWithinASecond(b, other.accessToken);
  });

  it('refresh-token reuse detected on B ends the session on A within 1 s', async () => {
    const user = await signUp(a, b);
    await expectMeWorks(a, user.accessToken, user.user.email);
    const rotated = (await refresh(b, user.refreshToken)).data?.refresh as Tokens;
    expect(rotated.refreshToken).toBeTruthy();
    const rotatedBy = Date.now(); // the rotation was stored before its answer came
    await expectMeWorks(a, rotated.accessToken, user.user.email);
    await eventually(() => Date.now() > rotatedBy); // a later millisecond: past the zero grace window
    expect(errorCode(await refresh(b, user.refreshToken))).toBe('UNAUTHENTICATED');
    await expectRefusedWithinASecond(a, rotated.accessToken);
    await expectRefusedWithinASecond(a, user.accessToken);
  });

  describe('admin changes', () => {
    let admin: Tokens;
    beforeAll(async () => {
      const first = await createUser({ ...b, smtp, db }, { roles: ['ADMIN'], password: PASSWORD });
      admin = await login(b, first.email);
      expect(admin.user.roles).toEqual(['ADMIN']);
    });
    /** `mutation` on `user` ($id), sent through `at` by the admin. */
    const byAdmin = (at: MainProcess, mutation: string, user: Tokens) =>
      at.gql(mutation, { id: user.user.id }, { token: admin.accessToken });

    it('setUserActive(false) by an admin on B is refused by A within 1 s', async () => {
      const user = await signUp(a, b);
      await expectMeWorks(a, user.accessToken, user.user.email);
      const res = await byAdmin(b, DEACTIVATE, user);
      expect(res.body).toEqual({ data: { setUserActive: { id: user.user.id, active: false } } });
      await expectRefusedWithinASecond(a, user.accessToken);
    });

    it('setUserRoles on A refuses the old token on B within 1 s', async () => {
      const user = await signUp(b, a);
      await expectMeWorks(b, user.accessToken, user.user.email);
      const res = await byAdmin(a, ADD_SUPPORT, user);
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
    await Promise.all(emails.map((email, i) => register(i % 2 === 0 ? a : b, email)));
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
