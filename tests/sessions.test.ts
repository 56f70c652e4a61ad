// Sessions and refresh-token rotation, observed through the HTTP API only (docs/contract.md: Refresh token, Errors).
import { login, me, PASSWORD, refresh, signUp, type Tokens } from './helpers/flows';
import { errorCode, ok, startTestApp, type TestApp } from './helpers/test-server';

let app: TestApp;
beforeAll(async () => {
  // This file is not about the per-IP request limit; keep it out of the way of ~150 quick requests.
  app = await startTestApp({ env: { RATE_LIMIT_PER_MINUTE: '100000' } });
});
afterAll(async () => {
  await app.stop();
});

const GRACE_SECONDS = 10;
const NEW_PASSWORD = 'Battery-Staple-42!';

interface SessionRow {
  id: string;
  userAgent: string | null;
  ip: string | null;
  current: boolean;
}

function listSessions(token?: string) {
  return app.gql<{ sessions: SessionRow[] }>(
    '{ sessions { id createdAt lastUsedAt expiresAt userAgent ip current } }',
    {},
    { token },
  );
}

function logout(opts: { token?: string; refreshToken?: string } = {}) {
  return app.gql<{ logout: boolean }>(
    'mutation($t: String) { logout(refreshToken: $t) }',
    { t: opts.refreshToken },
    { token: opts.token },
  );
}

function logoutAll(token?: string) {
  return app.gql<{ logoutAll: boolean }>('mutation { logoutAll }', {}, { token });
}

function changePassword(token: string | undefined, currentPassword: string, newPassword: string) {
  return app.gql<{ changePassword: boolean }>(
    'mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }',
    { c: currentPassword, n: newPassword },
    { token },
  );
}

function revokeSession(token: string | undefined, id: string) {
  return app.gql<{ revokeSession: boolean }>('mutation($id: ID!) { revokeSession(id: $id) }', { id }, { token });
}

/** The data of a successful response; fails the test with the errors otherwise. */
async function rotate(refreshToken: string): Promise<Tokens> {
  return ok(await refresh(app, refreshToken)).refresh;
}

async function loginOk(email: string, password = PASSWORD, headers?: Record<string, string>): Promise<Tokens> {
  return ok(await login(app, email, password, headers)).login;
}

async function expectSignedIn(accessToken: string, userId: string): Promise<void> {
  expect(ok(await me(app, accessToken)).me.id).toBe(userId);
}

async function expectRefused(accessToken: string): Promise<void> {
  expect(errorCode(await me(app, accessToken))).toBe('UNAUTHENTICATED');
}

describe('refresh token rotation', () => {
  it('returns a new refresh token and a working access token', async () => {
    const first = await signUp(app);

    const next = await rotate(first.refreshToken);

    expect(next.refreshToken).toEqual(expect.any(String));
    expect(next.refreshToken).not.toBe(first.refreshToken);
    expect(next.accessToken).not.toBe(first.accessToken);
    await expectSignedIn(next.accessToken, first.user.id);
  });

  it('ends the whole session when a rotated token is replayed after the grace window', async () => {
    const first = await signUp(app);
    const next = await rotate(first.refreshToken);
    app.clock.advance(GRACE_SECONDS + 1);

    const replay = await refresh(app, first.refreshToken);

    expect(errorCode(replay)).toBe('UNAUTHENTICATED');
    await expectRefused(next.accessToken);
    await expectRefused(first.accessToken);
    expect(errorCode(await refresh(app, next.refreshToken))).toBe('UNAUTHENTICATED');
  });

  it('answers a replay within the grace window with the same new refresh token, without splitting the family', async () => {
    const first = await signUp(app);
    const next = await rotate(first.refreshToken);
    app.clock.advance(GRACE_SECONDS / 2);

    const replay = await rotate(first.refreshToken);

    expect(replay.refreshToken).toBe(next.refreshToken);
    await expectSignedIn(replay.accessToken, first.user.id);
    const after = await rotate(next.refreshToken);
    expect(after.refreshToken).not.toBe(next.refreshToken);
    await expectSignedIn(after.accessToken, first.user.id);
    await expectSignedIn(replay.accessToken, first.user.id);
    expect(ok(await listSessions(after.accessToken)).sessions).toHaveLength(1);
  });

  it('gives five concurrent refreshes with one token the same new refresh token and keeps one session', async () => {
    const first = await signUp(app);

    const results = await Promise.all(Array.from({ length: 5 }, () => refresh(app, first.refreshToken)));

    for (const res of results) expect(res.errors).toBeUndefined();
    const tokens = new Set(results.map((res) => res.data!.refresh.refreshToken));
    expect(tokens.size).toBe(1);
    expect(tokens.has(first.refreshToken)).toBe(false);
    for (const res of results) await expectSignedIn(res.data!.refresh.accessToken, first.user.id);
    const sessions = ok(await listSessions(results[0]!.data!.refresh.accessToken)).sessions;
    expect(sessions).toHaveLength(1);
  });

  it('ends the session when a token rotated twice ago is replayed, even within the grace window', async () => {
    const first = await signUp(app);
    const second = await rotate(first.refreshToken);
    const third = await rotate(second.refreshToken);

    const replay = await refresh(app, first.refreshToken);

    expect(errorCode(replay)).toBe('UNAUTHENTICATED');
    await expectRefused(third.accessToken);
    expect(errorCode(await refresh(app, third.refreshToken))).toBe('UNAUTHENTICATED');
  });
});

describe('token lifetimes', () => {
  it('refuses a refresh token once its session is 7 days old', async () => {
    const { refreshToken } = await signUp(app);
    app.clock.advance(604801);

    expect(errorCode(await refresh(app, refreshToken))).toBe('UNAUTHENTICATED');
  });

  it('refuses an access token after 1800 seconds', async () => {
    const { accessToken, user } = await signUp(app);
    app.clock.advance(1799);
    await expectSignedIn(accessToken, user.id);

    app.clock.advance(2);

    await expectRefused(accessToken);
  });
});

describe('logout', () => {
  it('without an argument ends the session of the access token', async () => {
    const tokens = await signUp(app);

    expect(ok(await logout({ token: tokens.accessToken })).logout).toBe(true);

    await expectRefused(tokens.accessToken);
    expect(errorCode(await refresh(app, tokens.refreshToken))).toBe('UNAUTHENTICATED');
  });

  it('with a refresh token ends that session without needing an access token', async () => {
    const tokens = await signUp(app);
    const other = await loginOk(tokens.user.email);

    expect(ok(await logout({ refreshToken: tokens.refreshToken })).logout).toBe(true);

    expect(errorCode(await refresh(app, tokens.refreshToken))).toBe('UNAUTHENTICATED');
    await expectRefused(tokens.accessToken);
    await expectSignedIn(other.accessToken, tokens.user.id);
  });

  it('with an unknown refresh token is UNAUTHENTICATED', async () => {
    expect(errorCode(await logout({ refreshToken: 'not-a-refresh-token-we-ever-issued' }))).toBe('UNAUTHENTICATED');
  });

  it('with neither a refresh token nor an access token is UNAUTHENTICATED', async () => {
    expect(errorCode(await logout())).toBe('UNAUTHENTICATED');
  });

  it('logoutAll ends every session of the user but not those of another user', async () => {
    const mine = await signUp(app);
    const phone = await loginOk(mine.user.email);
    const laptop = await loginOk(mine.user.email);
    const someoneElse = await signUp(app);

    expect(ok(await logoutAll(phone.accessToken)).logoutAll).toBe(true);

    for (const t of [mine, phone, laptop]) {
      await expectRefused(t.accessToken);
      expect(errorCode(await refresh(app, t.refreshToken))).toBe('UNAUTHENTICATED');
    }
    await expectSignedIn(someoneElse.accessToken, someoneElse.user.id);
    await rotate(someoneElse.refreshToken);
  });
});

describe('changePassword', () => {
  it('refuses a wrong current password with INVALID_CREDENTIALS', async () => {
    const tokens = await signUp(app);

    const res = await changePassword(tokens.accessToken, 'Wrong-Password-1', NEW_PASSWORD);

    expect(errorCode(res)).toBe('INVALID_CREDENTIALS');
    await loginOk(tokens.user.email, PASSWORD);
  });

  it('refuses a new password breaking the policy with BAD_USER_INPUT naming every unmet rule', async () => {
    const tokens = await signUp(app);

    // 'abc': too short, no uppercase, no digit, no symbol — but it has a lowercase letter.
    const res = await changePassword(tokens.accessToken, PASSWORD, 'abc');

    expect(errorCode(res)).toBe('BAD_USER_INPUT');
    const ext = res.errors![0]!.extensions!;
    expect(ext.field).toBe('newPassword');
    const reasons = ext.reasons as string[];
    expect(reasons).toHaveLength(4);
    for (const rule of [/8/, /upper/i, /digit/i, /neither letter nor digit|symbol|special/i]) {
      expect(reasons.some((r) => rule.test(r))).toBe(true);
    }
    expect(reasons.some((r) => /lower/i.test(r))).toBe(false);
    await loginOk(tokens.user.email, PASSWORD);
  });

  it('ends every other session, keeps the calling one, and swaps which password signs in', async () => {
    const caller = await signUp(app);
    const other = await loginOk(caller.user.email);

    expect(ok(await changePassword(caller.accessToken, PASSWORD, NEW_PASSWORD)).changePassword).toBe(true);

    await expectRefused(other.accessToken);
    expect(errorCode(await refresh(app, other.refreshToken))).toBe('UNAUTHENTICATED');
    await expectSignedIn(caller.accessToken, caller.user.id);
    await expectSignedIn((await rotate(caller.refreshToken)).accessToken, caller.user.id);
    await loginOk(caller.user.email, NEW_PASSWORD);
    expect(errorCode(await login(app, caller.user.email, PASSWORD))).toBe('INVALID_CREDENTIALS');
  });
});

describe('sessions and revokeSession', () => {
  it('lists the live sessions, marking only the caller’s as current, with the sign-in User-Agent and an ip', async () => {
    const first = await signUp(app);
    const phone = await loginOk(first.user.email, PASSWORD, { 'user-agent': 'SessionsSpec-Phone/1.0' });
    const laptop = await loginOk(first.user.email, PASSWORD, { 'user-agent': 'SessionsSpec-Laptop/2.0' });
    await logout({ token: first.accessToken });

    const sessions = ok(await listSessions(laptop.accessToken)).sessions;

    expect(sessions).toHaveLength(2);
    expect(sessions.filter((s) => s.current)).toHaveLength(1);
    const current = sessions.find((s) => s.current)!;
    expect(current.userAgent).toBe('SessionsSpec-Laptop/2.0');
    const notCurrent = sessions.find((s) => !s.current)!;
    expect(notCurrent.userAgent).toBe('SessionsSpec-Phone/1.0');
    for (const s of sessions) expect(s.ip).toMatch(/127\.0\.0\.1|::1/);
    const fromPhone = ok(await listSessions(phone.accessToken)).sessions;
    expect(fromPhone.find((s) => s.current)!.id).toBe(notCurrent.id);
  });

  it('revokeSession ends another of my sessions and returns true', async () => {
    const mine = await signUp(app);
    const other = await loginOk(mine.user.email);
    const otherId = ok(await listSessions(other.accessToken)).sessions.find((s) => s.current)!.id;

    expect(ok(await revokeSession(mine.accessToken, otherId)).revokeSession).toBe(true);

    await expectRefused(other.accessToken);
    expect(errorCode(await refresh(app, other.refreshToken))).toBe('UNAUTHENTICATED');
    await expectSignedIn(mine.accessToken, mine.user.id);
    expect(ok(await listSessions(mine.accessToken)).sessions.map((s) => s.id)).not.toContain(otherId);
  });

  it('revokeSession of another user’s session returns false and that session keeps working', async () => {
    const mine = await signUp(app);
    const theirs = await signUp(app);
    const theirId = ok(await listSessions(theirs.accessToken)).sessions[0]!.id;

    expect(ok(await revokeSession(mine.accessToken, theirId)).revokeSession).toBe(false);

    await expectSignedIn(theirs.accessToken, theirs.user.id);
    await rotate(theirs.refreshToken);
  });

  it('revokeSession with an id that is not a UUID is BAD_USER_INPUT', async () => {
    const mine = await signUp(app);

    expect(errorCode(await revokeSession(mine.accessToken, 'not-a-uuid'))).toBe('BAD_USER_INPUT');
  });
});

describe('a deactivated user', () => {
  it('cannot refresh, use an existing access token, or sign in with the right password', async () => {
    const tokens = await signUp(app);
    await expectSignedIn(tokens.accessToken, tokens.user.id);

    await app.sql('update users set active = false where id = ?', [tokens.user.id]);

    expect(errorCode(await refresh(app, tokens.refreshToken))).toBe('ACCOUNT_DISABLED');
    await expectRefused(tokens.accessToken);
    expect(errorCode(await login(app, tokens.user.email, PASSWORD))).toBe('ACCOUNT_DISABLED');
  });
});

describe('without an access token', () => {
  const SOME_UUID = '00000000-0000-4000-8000-000000000000';
  it.each([
    ['me', () => app.gql('{ me { id } }')],
    ['sessions', () => listSessions()],
    ['logoutAll', () => logoutAll()],
    ['changePassword', () => changePassword(undefined, PASSWORD, NEW_PASSWORD)],
    ['revokeSession', () => revokeSession(undefined, SOME_UUID)],
  ])('%s is UNAUTHENTICATED', async (_name, call) => {
    const res = await call();

    expect(errorCode(res)).toBe('UNAUTHENTICATED');
  });
});
