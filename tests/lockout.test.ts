// The password sign-in lockout per account (lockout.service.ts, docs/security.md "Lockout", docs/contract.md RATE_LIMITED):
// 10 wrong passwords for one email within 15 minutes lock password sign-in for 30 s, doubling with each
// further failure up to 15 minutes; code sign-in and password reset stay open; unlockUser clears it.
// The lockout runs on the app clock, which these tests move; the per-IP request limits are relaxed.
import { createUser } from './helpers/factories';
import { login, PASSWORD, requestOtp, signUp, uniqueEmail, verifyOtp, type Tokens } from './helpers/flows';
import { errorCode, startTestApp, type GraphQLResponse, type TestApp } from './helpers/test-server';

const WRONG = 'Wrong-Horse-9!';
const THRESHOLD = 10;

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(async () => {
  await app.stop();
});

/** `n` wrong passwords for `email`, each refused as INVALID_CREDENTIALS (so none was locked out). */
async function failLogins(email: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const res = await login(app, email, WRONG);
    expect({ attempt: i + 1, code: errorCode(res) }).toEqual({ attempt: i + 1, code: 'INVALID_CREDENTIALS' });
  }
}

/** The `retryAfter` of a RATE_LIMITED answer; fails the test for any other answer. */
function retryAfterOf(res: GraphQLResponse): number {
  expect(errorCode(res)).toBe('RATE_LIMITED');
  const retryAfter = res.errors![0]!.extensions!.retryAfter as number;
  expect(Number.isInteger(retryAfter)).toBe(true);
  return retryAfter;
}

async function expectSignedIn(email: string, password = PASSWORD): Promise<Tokens> {
  const res = await login(app, email, password);
  expect(res.errors).toBeUndefined();
  expect(res.data!.login.user.email).toBe(email);
  return res.data!.login;
}

async function lockedUser(): Promise<Tokens> {
  const t = await signUp(app);
  await failLogins(t.user.email, THRESHOLD);
  retryAfterOf(await login(app, t.user.email));
  return t;
}

/** A new user with `role`, signed in after it was given so the token carries it. */
async function withRole(role: 'ADMIN' | 'SUPPORT'): Promise<Tokens> {
  return expectSignedIn((await createUser(app, { roles: [role] })).email);
}

function unlockUser(token: string, userId: string) {
  return app.gql<{ unlockUser: { id: string; email: string } }>(
    'mutation($id: ID!) { unlockUser(userId: $id) { id email } }',
    { id: userId },
    { token },
  );
}

describe('password sign-in lockout', () => {
  it('locks after 10 wrong passwords for ~30 s, even for the right password, then lets the owner in', async () => {
    const { user } = await signUp(app);
    await failLogins(user.email, THRESHOLD);

    const right = retryAfterOf(await login(app, user.email, PASSWORD));
    expect(right).toBeGreaterThanOrEqual(25);
    expect(right).toBeLessThanOrEqual(30);
    // The lock is measured against the clock.
    app.clock.advance(20);
    const later = retryAfterOf(await login(app, user.email, WRONG));
    expect(later).toBeGreaterThanOrEqual(1);
    expect(later).toBeLessThanOrEqual(10);

    app.clock.advance(11);
    await expectSignedIn(user.email);
  });

  it('doubles the lock with each further failure (30 s, 60 s, 120 s …) up to 15 minutes', async () => {
    const { user } = await signUp(app);
    const email = user.email;
    await failLogins(email, THRESHOLD);
    expect(retryAfterOf(await login(app, email))).toBeLessThanOrEqual(30);

    app.clock.advance(31);
    await failLogins(email, 1); // the 11th failure
    const second = retryAfterOf(await login(app, email));
    expect(second).toBeGreaterThanOrEqual(31);
    expect(second).toBeLessThanOrEqual(60);

    app.clock.advance(61);
    await failLogins(email, 1); // the 12th
    const third = retryAfterOf(await login(app, email));
    expect(third).toBeGreaterThanOrEqual(61);
    expect(third).toBeLessThanOrEqual(120);

    // One failure at a time cannot reach the cap inside the 15-minute window (30+60+120+240+480 s > 15 min),
    // but failures arriving together (many instances, concurrent requests) can: 12 more in the audit trail.
    const now = app.clock.now();
    for (let i = 0; i < 12; i++) {
      await app.sql(
        "insert into audit_events (type, subject_user_id, email, method, reason, detail, created_at) values ('LOGIN_FAILED', ?, ?, 'PASSWORD', 'WRONG_PASSWORD', 'wrong password', ?)",
        [user.id, email, now],
      );
    }
    const capped = retryAfterOf(await login(app, email));
    expect(capped).toBeGreaterThan(480);
    expect(capped).toBeLessThanOrEqual(15 * 60);
  });

  it('never blocks code sign-in or password reset while locked', async () => {
    const a = await lockedUser();
    let before = app.smtp.messages.length;
    const sent = await requestOtp(app, a.user.email, 'LOGIN');
    expect(sent.errors).toBeUndefined();
    const loginCode = await app.smtp.codeFor(a.user.email, /sign-in code/i, before);
    const signedIn = await verifyOtp(app, a.user.email, loginCode, 'LOGIN');
    expect(signedIn.errors).toBeUndefined();
    expect(signedIn.data!.verifyOtp.user.id).toBe(a.user.id);

    const b = await lockedUser();
    before = app.smtp.messages.length;
    expect((await requestOtp(app, b.user.email, 'RESET_PASSWORD')).errors).toBeUndefined();
    const resetCode = await app.smtp.codeFor(b.user.email, /reset/i, before);
    const newPassword = 'Fresh-Battery-7?';
    const reset = await app.gql<{ resetPassword: boolean }>(
      'mutation($e: String!, $c: String!, $p: String!) { resetPassword(email: $e, code: $c, newPassword: $p) }',
      { e: b.user.email, c: resetCode, p: newPassword },
    );
    expect(reset.errors).toBeUndefined();
    expect(reset.data!.resetPassword).toBe(true);
    app.clock.advance(31);
    await expectSignedIn(b.user.email, newPassword); // the reset took effect
  });

  it("an admin's unlockUser clears the lock at once, returns the user and is audited; SUPPORT may not", async () => {
    const admin = await withRole('ADMIN');
    const support = await withRole('SUPPORT');
    const victim = await lockedUser();

    const refused = await unlockUser(support.accessToken, victim.user.id);
    expect(errorCode(refused)).toBe('FORBIDDEN');
    retryAfterOf(await login(app, victim.user.email)); // still locked

    const unlocked = await unlockUser(admin.accessToken, victim.user.id);
    expect(unlocked.errors).toBeUndefined();
    expect(unlocked.data!.unlockUser).toEqual({ id: victim.user.id, email: victim.user.email });
    await expectSignedIn(victim.user.email); // no clock advance

    const audit = await app.gql<{
      auditEvents: { edges: Array<{ node: { type: string; actorId: string | null; userId: string | null } }> };
    }>(
      'query($id: ID!) { auditEvents(userId: $id, type: ACCOUNT_UNLOCKED) { edges { node { type actorId userId } } } }',
      { id: victim.user.id },
      { token: admin.accessToken },
    );
    expect(audit.errors).toBeUndefined();
    expect(audit.data!.auditEvents.edges.map((e) => e.node)).toEqual([
      { type: 'ACCOUNT_UNLOCKED', actorId: admin.user.id, userId: victim.user.id },
    ]);
  });

  it('counts only failures of the last 15 minutes', async () => {
    // Control: failures 14 minutes apart still add up.
    const control = await signUp(app);
    await failLogins(control.user.email, 5);
    app.clock.advance(14 * 60);
    await failLogins(control.user.email, 5);
    retryAfterOf(await login(app, control.user.email));

    const { user } = await signUp(app);
    await failLogins(user.email, 9);
    app.clock.advance(16 * 60);
    await failLogins(user.email, 9); // would be locked from the 11th overall if the first 9 still counted
    await expectSignedIn(user.email);
  });

  it('answers unknown emails alike: locked after 10 wrong attempts, with the same retryAfter', async () => {
    const known = await signUp(app);
    await failLogins(known.user.email, THRESHOLD);
    const knownAnswer = await login(app, known.user.email, WRONG);

    const unknown = uniqueEmail('nobody');
    await failLogins(unknown, THRESHOLD);
    const unknownAnswer = await login(app, unknown, WRONG);

    expect(retryAfterOf(unknownAnswer)).toBe(retryAfterOf(knownAnswer));
    expect(unknownAnswer.errors![0]!.message).toBe(knownAnswer.errors![0]!.message);
  });

  it('starts the count afresh after a successful sign-in', async () => {
    const { user } = await signUp(app);
    await failLogins(user.email, 9);
    await expectSignedIn(user.email);
    await failLogins(user.email, 9); // would be locked from the 2nd if the first 9 still counted
    await expectSignedIn(user.email);
  });
});
