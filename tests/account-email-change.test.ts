// Changing the account's email (issue #17) through HTTP, with the real SMTP server: requestEmailChange sends a
// CHANGE_EMAIL code to the new address (recent sign-in needed); confirmEmailChange moves the account there,
// verified, tells the old address, ends the user's other sessions and leaves provider identities alone. And as an
// attacker would try it: replayed, foreign, guessed, expired and raced codes, a taken address (same answer, no
// mail), a stale session, an API key, and requestOtp with the CHANGE_EMAIL purpose.
import {
  CHANGE_CODE_SUBJECT,
  confirmEmailChange,
  EMAIL_CHANGED_SUBJECT,
  linkIdentity,
  newApiKey,
  otherCode,
  outboxKinds,
  reauthenticate,
  requestEmailChange,
} from './helpers/account';
import { createUser, signIn, type TestUser } from './helpers/factories';
import {
  login,
  me,
  PASSWORD,
  refresh,
  requestOtp,
  resetPassword,
  signUp,
  uniqueEmail,
  verifyOtp,
  type Tokens,
} from './helpers/flows';
import { startTestProvider, type TestProvider } from './helpers/oidc-provider';
import { acmeEnv, fixtureClient } from './helpers/social';
import { errorCode, startTestApp, type GraphQLResponse, type TestApp } from './helpers/test-server';

let provider: TestProvider;
let app: TestApp;

beforeAll(async () => {
  provider = await startTestProvider([fixtureClient('acme')]);
  app = await startTestApp({
    env: { ...acmeEnv(provider) },
  });
});
afterAll(async () => {
  await app?.stop();
  await provider?.stop();
});

/** A verified account, freshly signed in (so recently authenticated). */
async function signedIn(): Promise<{ user: TestUser; tokens: Tokens }> {
  const user = await createUser(app, { email: uniqueEmail('change') });
  return { user, tokens: await signIn(app, user) };
}

/** requestEmailChange that must be accepted; the code, read from the mail to `newEmail` sent after the request. */
async function codeSentTo(token: string, newEmail: string): Promise<string> {
  const before = app.smtp.messages.length;
  const res = await requestEmailChange(app, token, newEmail);
  expect(res.errors).toBeUndefined();
  return app.smtp.codeFor(newEmail, CHANGE_CODE_SUBJECT, before);
}

async function emailOf(userId: string): Promise<string> {
  const [row] = await app.sql<{ email: string }>('select email from users where id = ?', [userId]);
  return row!.email;
}

const auditCount = async (userId: string, type: string): Promise<number> =>
  (
    await app.sql<{ n: number }>(
      'select count(*)::int as n from audit_events where subject_user_id = ? and actor_user_id = ? and type = ?',
      [userId, userId, type],
    )
  )[0]!.n;

const outboxTotal = async (): Promise<number> =>
  (await app.sql<{ n: number }>('select count(*)::int as n from mail_outbox'))[0]!.n;

const field = (res: GraphQLResponse<unknown>): unknown => res.errors?.[0]?.extensions?.field;

describe('requestEmailChange then confirmEmailChange', () => {
  it('sends the code to the new address only; the code moves the account there, verified; the old address gets a notice; EMAIL_CHANGED is audited', async () => {
    const { user, tokens } = await signedIn();
    const newEmail = uniqueEmail('moved');
    const oldMailBefore = await outboxKinds(app, user.email);

    const before = app.smtp.messages.length;
    const asked = await requestEmailChange(app, tokens.accessToken, `  ${newEmail.toUpperCase()} `);
    expect(asked.body).toEqual({ data: { requestEmailChange: { expiresIn: 600, retryAfter: 60 } } });
    const code = await app.smtp.codeFor(newEmail, CHANGE_CODE_SUBJECT, before);
    // Nothing to the old address yet, and nothing has changed.
    expect(await outboxKinds(app, user.email)).toEqual(oldMailBefore);
    expect((await me(app, tokens.accessToken)).data?.me.email).toBe(user.email.toLowerCase());

    const confirmed = await confirmEmailChange(app, tokens.accessToken, code);
    expect(confirmed.body).toEqual({
      data: { confirmEmailChange: { id: user.id, email: newEmail.toLowerCase(), emailVerified: true } },
    });
    expect((await me(app, tokens.accessToken)).data?.me).toMatchObject({
      id: user.id,
      email: newEmail.toLowerCase(),
      emailVerified: true,
    });

    await app.smtp.waitFor(user.email, (m) => EMAIL_CHANGED_SUBJECT.test(m.subject));
    expect(await auditCount(user.id, 'EMAIL_CHANGED')).toBe(1);

    // The password now signs in with the new address only.
    expect(errorCode(await login(app, user.email, PASSWORD))).toBe('INVALID_CREDENTIALS');
    const again = await login(app, newEmail, PASSWORD);
    expect(again.data?.login.user.id).toBe(user.id);
  });

  it('ends every other session of the user; the session that confirmed stays', async () => {
    const email = uniqueEmail('sessions');
    const first = await signUp(app, email);
    const second = (await login(app, email)).data!.login;
    const third = (await login(app, email)).data!.login;
    expect((await me(app, first.accessToken)).errors).toBeUndefined();

    const code = await codeSentTo(third.accessToken, uniqueEmail('sessions-new'));
    expect((await confirmEmailChange(app, third.accessToken, code)).errors).toBeUndefined();

    for (const other of [first, second]) {
      expect(errorCode(await me(app, other.accessToken))).toBe('UNAUTHENTICATED');
      expect(errorCode(await refresh(app, other.refreshToken))).toBe('UNAUTHENTICATED');
    }
    expect((await me(app, third.accessToken)).data?.me.id).toBe(first.user.id);
    expect((await refresh(app, third.refreshToken)).data?.refresh.user.id).toBe(first.user.id);
  });

  it('leaves provider identities alone: still linked, with the provider’s email, and still signing in to the account', async () => {
    const { user, tokens } = await signedIn();
    const linked = await linkIdentity(app, provider, 'acme', user.email);
    expect(linked.res.data?.signInWithIdToken.user.id).toBe(user.id);

    const newEmail = uniqueEmail('fed-moved');
    expect(
      (await confirmEmailChange(app, tokens.accessToken, await codeSentTo(tokens.accessToken, newEmail))).errors,
    ).toBeUndefined();

    const identities = await app.gql<{ me: { identities: Array<{ provider: string; email: string }> } }>(
      '{ me { identities { provider email } } }',
      {},
      { token: tokens.accessToken },
    );
    expect(identities.data?.me.identities).toEqual([{ provider: 'acme', email: user.email.toLowerCase() }]);
    const back = await linkIdentity(app, provider, 'acme', user.email, linked.sub);
    expect(back.res.data?.signInWithIdToken.user).toMatchObject({ id: user.id, email: newEmail.toLowerCase() });
  });

  it('ends the codes emailed to the old address: a reset or sign-in code sent there before the change is INVALID_OTP after it', async () => {
    const { user, tokens } = await signedIn();
    const before = app.smtp.messages.length;
    expect((await requestOtp(app, user.email, 'RESET_PASSWORD')).errors).toBeUndefined();
    const resetCode = await app.smtp.codeFor(user.email, /reset/i, before);
    expect((await requestOtp(app, user.email, 'LOGIN')).errors).toBeUndefined();
    const loginCode = await app.smtp.codeFor(user.email, /sign-in code/i, before);

    const newEmail = uniqueEmail('away');
    const code = await codeSentTo(tokens.accessToken, newEmail);
    expect((await confirmEmailChange(app, tokens.accessToken, code)).errors).toBeUndefined();

    // Whoever still reads the old mailbox gets no way into the account that left it.
    const reset = await resetPassword(app, user.email, resetCode, 'Taken-Over-Pass-42');
    expect(errorCode(reset)).toBe('INVALID_OTP');
    const signedInByCode = await verifyOtp(app, user.email, loginCode, 'LOGIN');
    expect(errorCode(signedInByCode)).toBe('INVALID_OTP');
    expect(signedInByCode.data ?? null).toBeNull();
    expect(errorCode(await login(app, newEmail, 'Taken-Over-Pass-42'))).toBe('INVALID_CREDENTIALS');
    expect((await login(app, newEmail, PASSWORD)).data?.login.user.id).toBe(user.id);
  });

  it('frees the old address: it registers a new account of its own', async () => {
    const { user, tokens } = await signedIn();
    expect(
      (await confirmEmailChange(app, tokens.accessToken, await codeSentTo(tokens.accessToken, uniqueEmail('left'))))
        .errors,
    ).toBeUndefined();
    app.clock.advance(61); // past the resend interval of the address's own sign-up code
    const fresh = await signUp(app, user.email);
    expect(fresh.user.id).not.toBe(user.id);
    expect(fresh.user.email).toBe(user.email.toLowerCase());
  });
});

describe('attacks on the code', () => {
  it('a replayed code is INVALID_OTP and changes nothing', async () => {
    const { user, tokens } = await signedIn();
    const newEmail = uniqueEmail('replay');
    const code = await codeSentTo(tokens.accessToken, newEmail);
    expect((await confirmEmailChange(app, tokens.accessToken, code)).errors).toBeUndefined();

    const replay = await confirmEmailChange(app, tokens.accessToken, code);
    expect(errorCode(replay)).toBe('INVALID_OTP');
    expect(replay.data ?? null).toBeNull();
    expect(await emailOf(user.id)).toBe(newEmail.toLowerCase());
    expect(await auditCount(user.id, 'EMAIL_CHANGED')).toBe(1);
  });

  it('another user’s code is INVALID_OTP for whoever holds it, with or without a change of their own pending; its owner can still use it', async () => {
    const owner = await signedIn();
    const ownerTarget = uniqueEmail('owner-target');
    const code = await codeSentTo(owner.tokens.accessToken, ownerTarget);

    const idle = await signedIn();
    const busy = await signedIn();
    const busyCode = await codeSentTo(busy.tokens.accessToken, uniqueEmail('busy-target'));
    expect(busyCode).not.toBe(code); // else the attempt below would prove nothing (one chance in a million)

    for (const thief of [idle, busy]) {
      const res = await confirmEmailChange(app, thief.tokens.accessToken, code);
      expect(errorCode(res)).toBe('INVALID_OTP');
      expect(res.data ?? null).toBeNull();
      expect(await emailOf(thief.user.id)).toBe(thief.user.email.toLowerCase());
    }

    const mine = await confirmEmailChange(app, owner.tokens.accessToken, code);
    expect(mine.data?.confirmEmailChange).toMatchObject({ id: owner.user.id, email: ownerTarget.toLowerCase() });
  });

  it('three wrong codes kill it: the right one is INVALID_OTP after them', async () => {
    const { user, tokens } = await signedIn();
    const code = await codeSentTo(tokens.accessToken, uniqueEmail('guessed'));
    for (let i = 0; i < 3; i += 1) {
      expect(errorCode(await confirmEmailChange(app, tokens.accessToken, otherCode(code)))).toBe('INVALID_OTP');
    }
    expect(errorCode(await confirmEmailChange(app, tokens.accessToken, code))).toBe('INVALID_OTP');
    expect(await emailOf(user.id)).toBe(user.email.toLowerCase());
  });

  it('a code past OTP_TTL (600 s) is INVALID_OTP', async () => {
    const { user, tokens } = await signedIn();
    const code = await codeSentTo(tokens.accessToken, uniqueEmail('late'));
    app.clock.advance(601);
    expect(errorCode(await confirmEmailChange(app, tokens.accessToken, code))).toBe('INVALID_OTP');
    expect(await emailOf(user.id)).toBe(user.email.toLowerCase());
  });

  it('two confirmEmailChange at once with the same code: one success, one INVALID_OTP, one EMAIL_CHANGED, one notice', async () => {
    const { user, tokens } = await signedIn();
    const newEmail = uniqueEmail('race');
    const code = await codeSentTo(tokens.accessToken, newEmail);
    const oldMail = (await outboxKinds(app, user.email)).length;

    const answers = await Promise.all([1, 2].map(() => confirmEmailChange(app, tokens.accessToken, code)));
    expect(answers.map((a) => errorCode(a) ?? 'ok').sort()).toEqual(['INVALID_OTP', 'ok']);
    expect(await emailOf(user.id)).toBe(newEmail.toLowerCase());
    expect(await auditCount(user.id, 'EMAIL_CHANGED')).toBe(1);
    expect((await outboxKinds(app, user.email)).length).toBe(oldMail + 1);
  });

  it('another account asking for the same address from the same network neither waits on nor retires the first code', async () => {
    const first = await signedIn();
    const second = await signedIn();
    const newEmail = uniqueEmail('wanted');
    const code = await codeSentTo(first.tokens.accessToken, newEmail);
    // Within the resend interval, from the same address: not RATE_LIMITED (that would tell of the pending change).
    const again = await requestEmailChange(app, second.tokens.accessToken, newEmail);
    expect(again.errors).toBeUndefined();
    // The first account's code still moves it.
    const confirmed = await confirmEmailChange(app, first.tokens.accessToken, code);
    expect(confirmed.errors).toBeUndefined();
    expect(await emailOf(first.user.id)).toBe(newEmail.toLowerCase());
  });
});

describe('a taken address', () => {
  it('gets the same answer as a free one, and no mail to anyone; no code can then move the account there', async () => {
    const victim = await createUser(app, { email: uniqueEmail('victim') });
    const { user, tokens } = await signedIn();
    const victimMail = await outboxKinds(app, victim.email);
    const total = await outboxTotal();

    const freeEmail = uniqueEmail('free');
    const free = await requestEmailChange(app, tokens.accessToken, freeEmail);
    const taken = await requestEmailChange(app, tokens.accessToken, victim.email);
    expect(free.errors).toBeUndefined();
    expect(taken.body).toEqual(free.body);
    expect(await outboxKinds(app, victim.email)).toEqual(victimMail);
    expect(await outboxTotal()).toBe(total + 1); // the free address's code only

    // Asking again within the resend interval is refused alike for both.
    const freeAgain = await requestEmailChange(app, tokens.accessToken, freeEmail);
    const takenAgain = await requestEmailChange(app, tokens.accessToken, victim.email);
    expect(errorCode(freeAgain)).toBe('RATE_LIMITED');
    expect(takenAgain.body).toEqual(freeAgain.body);
    expect(await outboxKinds(app, victim.email)).toEqual(victimMail);

    for (const guess of ['000000', '123456', '999999']) {
      expect(errorCode(await confirmEmailChange(app, tokens.accessToken, guess))).toBe('INVALID_OTP');
    }
    expect(await emailOf(user.id)).toBe(user.email.toLowerCase());
    expect(await emailOf(victim.id)).toBe(victim.email.toLowerCase());
  });

  it('taken between request and confirm: BAD_USER_INPUT on newEmail, the account and the new owner untouched, no notice', async () => {
    const { user, tokens } = await signedIn();
    const contested = uniqueEmail('contested');
    const code = await codeSentTo(tokens.accessToken, contested);
    const other = await signUp(app, contested);
    const oldMail = await outboxKinds(app, user.email);

    const res = await confirmEmailChange(app, tokens.accessToken, code);
    expect(errorCode(res)).toBe('BAD_USER_INPUT');
    expect(field(res)).toBe('newEmail');
    expect(await emailOf(user.id)).toBe(user.email.toLowerCase());
    expect(await emailOf(other.user.id)).toBe(contested.toLowerCase());
    expect(await outboxKinds(app, user.email)).toEqual(oldMail);
    expect(await auditCount(user.id, 'EMAIL_CHANGED')).toBe(0);
  });
});

describe('who may ask, and for what', () => {
  it('checks newEmail: bad syntax, or the current address in any case or spacing, is BAD_USER_INPUT on newEmail and sends nothing', async () => {
    const { user, tokens } = await signedIn();
    const total = await outboxTotal();
    for (const bad of ['not-an-email', 'a@', '', user.email, ` ${user.email.toUpperCase()} `]) {
      const res = await requestEmailChange(app, tokens.accessToken, bad);
      expect({ bad, code: errorCode(res), field: field(res), data: res.data ?? null }).toEqual({
        bad,
        code: 'BAD_USER_INPUT',
        field: 'newEmail',
        data: null,
      });
    }
    expect(await outboxTotal()).toBe(total);
  });

  it('a second request for the same address within the resend interval is RATE_LIMITED; after it, a new code is sent', async () => {
    const { tokens } = await signedIn();
    const newEmail = uniqueEmail('resend');
    await codeSentTo(tokens.accessToken, newEmail);
    app.clock.advance(30);
    const soon = await requestEmailChange(app, tokens.accessToken, newEmail);
    expect(errorCode(soon)).toBe('RATE_LIMITED');
    app.clock.advance(31);
    const code = await codeSentTo(tokens.accessToken, newEmail);
    expect((await confirmEmailChange(app, tokens.accessToken, code)).data?.confirmEmailChange.email).toBe(
      newEmail.toLowerCase(),
    );
  });

  it('needs a recent sign-in: 301 s after it, STEP_UP_REQUIRED and no mail; after reauthenticate, the code is sent', async () => {
    const { tokens } = await signedIn();
    const newEmail = uniqueEmail('stale');
    app.clock.advance(301);
    const total = await outboxTotal();
    const stale = await requestEmailChange(app, tokens.accessToken, newEmail);
    expect(errorCode(stale)).toBe('STEP_UP_REQUIRED');
    expect(stale.data ?? null).toBeNull();
    expect(await outboxTotal()).toBe(total);

    const again = (await reauthenticate(app, tokens.accessToken, { password: PASSWORD })).data!.reauthenticate;
    await codeSentTo(again.accessToken, newEmail);
  });

  it('an API key, even with self:write, is never recent: STEP_UP_REQUIRED, nothing sent', async () => {
    const { user, tokens } = await signedIn();
    const { secret } = await newApiKey(app, tokens.accessToken, ['self:read', 'self:write']);
    const total = await outboxTotal();
    const res = await requestEmailChange(app, secret, uniqueEmail('by-key'));
    expect(errorCode(res)).toBe('STEP_UP_REQUIRED');
    expect(res.data ?? null).toBeNull();
    expect(await outboxTotal()).toBe(total);
    expect(await emailOf(user.id)).toBe(user.email.toLowerCase());
  });

  it('without a token both are UNAUTHENTICATED', async () => {
    const total = await outboxTotal();
    expect(errorCode(await app.gql('mutation { requestEmailChange(newEmail: "x@example.com") { expiresIn } }'))).toBe(
      'UNAUTHENTICATED',
    );
    expect(errorCode(await app.gql('mutation { confirmEmailChange(code: "123456") { id } }'))).toBe('UNAUTHENTICATED');
    expect(await outboxTotal()).toBe(total);
  });

  it('requestOtp will not issue a CHANGE_EMAIL code: BAD_USER_INPUT, for a free or a taken address, and nothing is sent', async () => {
    const { user } = await signedIn();
    const total = await outboxTotal();
    for (const email of [uniqueEmail('otp-change'), user.email]) {
      const res = await requestOtp(app, email, 'CHANGE_EMAIL');
      expect(errorCode(res)).toBe('BAD_USER_INPUT');
      expect(res.data ?? null).toBeNull();
    }
    expect(await outboxTotal()).toBe(total);
  });
});
