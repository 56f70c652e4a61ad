// Issue 11 item 6: changePassword has the login protections. A stolen access token cannot brute-force the
// current password: the change-password-ip limit and the account's lockout (lockout.service.ts) answer
// RATE_LIMITED, and every wrong current password is audited as LOGIN_FAILED.
import { LIMIT_DEFAULTS } from '../src/config/limits';
import { login, PASSWORD, signUp } from './helpers/flows';
import { errorCode, startTestApp, type TestApp } from './helpers/test-server';

const NEW_PASSWORD = 'Fresh-Battery-7?';
const limitDefault = (name: string) => LIMIT_DEFAULTS.find((d) => d.name === name)!;

let app: TestApp;
beforeAll(async () => {
  const limit = limitDefault('change-password-ip');
  app = await startTestApp({ env: { TRUST_PROXY: 'loopback', [limit.variable]: limit.value } });
});
afterAll(async () => {
  await app.stop();
});

function changePassword(token: string, currentPassword: string, ip: string) {
  return app.gql<{ changePassword: boolean }>(
    'mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }',
    { c: currentPassword, n: NEW_PASSWORD },
    { token, headers: { 'x-forwarded-for': ip } },
  );
}

async function wrongTries(token: string, n: number, ip: (i: number) => string): Promise<Array<string | undefined>> {
  const codes: Array<string | undefined> = [];
  for (let i = 0; i < n; i++) codes.push(errorCode(await changePassword(token, `Guess-Number-${i}!`, ip(i))));
  return codes;
}

async function auditedFailures(
  userId: string,
): Promise<Array<{ type: string; detail: string; actor_user_id: string }>> {
  return app.sql(
    "select type, detail, actor_user_id from audit_events where subject_user_id = ? and type = 'LOGIN_FAILED' order by id",
    [userId],
  );
}

describe('changePassword with a stolen access token', () => {
  it('is RATE_LIMITED after 10 wrong current passwords from one address (RATE_LIMIT_CHANGE_PASSWORD_IP 10/15m)', async () => {
    const { accessToken, user } = await signUp(app);
    expect(await wrongTries(accessToken, 10, () => '198.51.100.31')).toEqual(Array(10).fill('INVALID_CREDENTIALS'));
    expect(errorCode(await changePassword(accessToken, PASSWORD, '198.51.100.31'))).toBe('RATE_LIMITED');
    expect((await auditedFailures(user.id)).map((e) => e.detail)).toEqual(Array(10).fill('wrong current password'));
  });

  it('is locked out after 10 wrong current passwords from rotating addresses, even for the right one, like login', async () => {
    const { accessToken, user } = await signUp(app);
    const tries = await wrongTries(accessToken, 10, (i) => `203.0.113.${100 + i}`);
    expect(tries).toEqual(Array(10).fill('INVALID_CREDENTIALS'));
    const locked = await changePassword(accessToken, PASSWORD, '203.0.113.200');
    expect(errorCode(locked)).toBe('RATE_LIMITED');
    expect(locked.errors![0]!.extensions!.retryAfter).toBeGreaterThanOrEqual(1);
    // The same lockout counts for password sign-in.
    expect(errorCode(await login(app, user.email, PASSWORD))).toBe('RATE_LIMITED');

    const audited = await auditedFailures(user.id);
    expect(audited).toHaveLength(10);
    expect(audited.every((e) => e.detail === 'wrong current password' && e.actor_user_id === user.id)).toBe(true);

    app.clock.advance(31); // the first lock is 30 s
    const changed = await changePassword(accessToken, PASSWORD, '203.0.113.201');
    expect(changed.errors).toBeUndefined();
    expect(changed.data!.changePassword).toBe(true);
  });
});
