// One-time codes through the HTTP API: expiry, attempt limits, the hourly failure budget, the resend
// interval, unknown emails, retirement, purposes, single use under concurrency, password reset, the emails.
import * as flows from './helpers/flows';
import { login, me, PASSWORD, refresh, requestOtp, signUp, uniqueEmail, verifyOtp } from './helpers/flows';
import { errorCode, startTestApp, type GraphQLResponse, type TestApp } from './helpers/test-server';

let app: TestApp;
beforeAll(async () => {
  // The per-IP request limit is not what this file is about; keep it out of the way.
  app = await startTestApp({ env: { RATE_LIMIT_PER_MINUTE: '1000000' } });
});
afterAll(async () => {
  await app.stop();
});

const NEW_PASSWORD = 'Battery-Staple-7';
const SUBJECT: Record<string, RegExp> = {
  VERIFY_EMAIL: /confirm/i,
  LOGIN: /sign-in code/i,
  RESET_PASSWORD: /reset/i,
};

/** A code that differs from `code` in its last digit. */
const wrong = (code: string): string => code.slice(0, 5) + String((Number(code[5]) + 1) % 10);

function registerRaw(email: string, password = PASSWORD) {
  return app.gql<{ register: { expiresIn: number; retryAfter: number } }>(
    'mutation($input: RegisterInput!) { register(input: $input) { expiresIn retryAfter } }',
    { input: { email, password } },
  );
}

const resetPassword = (email: string, code: string, newPassword: string) =>
  flows.resetPassword(app, email, code, newPassword);

/** register, then the VERIFY_EMAIL code from the email it sent. */
async function registerForCode(email: string, password = PASSWORD): Promise<string> {
  const before = app.smtp.messages.length;
  const res = await registerRaw(email, password);
  expect(res.errors).toBeUndefined();
  return app.smtp.codeFor(email, SUBJECT.VERIFY_EMAIL!, before);
}

/** requestOtp, then the code from the email it sent. */
async function requestCode(email: string, purpose: string): Promise<string> {
  const before = app.smtp.messages.length;
  const res = await requestOtp(app, email, purpose);
  expect(res.errors).toBeUndefined();
  return app.smtp.codeFor(email, SUBJECT[purpose]!, before);
}

function retryAfterOf(res: GraphQLResponse): unknown {
  return res.errors?.[0]?.extensions?.retryAfter;
}

/** Spends the whole hourly budget (10 wrong codes) over four codes; returns the last, still-live code. */
async function spendFailureBudget(email: string): Promise<string> {
  let code = await registerForCode(email);
  for (let round = 0; round < 3; round += 1) {
    for (let i = 0; i < 3; i += 1) expect(errorCode(await verifyOtp(app, email, wrong(code)))).toBe('INVALID_OTP');
    app.clock.advance(61);
    code = await requestCode(email, 'VERIFY_EMAIL');
  }
  expect(errorCode(await verifyOtp(app, email, wrong(code)))).toBe('INVALID_OTP'); // the 10th wrong code
  return code;
}

describe('code lifetime', () => {
  it('rejects a VERIFY_EMAIL code with INVALID_OTP once its 600 s have passed', async () => {
    const email = uniqueEmail('expired');
    const code = await registerForCode(email);
    app.clock.advance(601);
    expect(errorCode(await verifyOtp(app, email, code))).toBe('INVALID_OTP');
  });

  it('accepts a VERIFY_EMAIL code just before it expires', async () => {
    const email = uniqueEmail('fresh');
    const code = await registerForCode(email);
    app.clock.advance(599);
    const res = await verifyOtp(app, email, code);
    expect(res.errors).toBeUndefined();
    expect(res.data?.verifyOtp.user.email).toBe(email);
  });
});

describe('wrong tries per code', () => {
  it('kills a code after 3 wrong tries: the right code then gets INVALID_OTP', async () => {
    const email = uniqueEmail('killed');
    const code = await registerForCode(email);
    for (let i = 0; i < 3; i += 1) expect(errorCode(await verifyOtp(app, email, wrong(code)))).toBe('INVALID_OTP');
    expect(errorCode(await verifyOtp(app, email, code))).toBe('INVALID_OTP');
  });

  it('still accepts the right code after 2 wrong tries', async () => {
    const email = uniqueEmail('twice');
    const code = await registerForCode(email);
    for (let i = 0; i < 2; i += 1) expect(errorCode(await verifyOtp(app, email, wrong(code)))).toBe('INVALID_OTP');
    expect((await verifyOtp(app, email, code)).data?.verifyOtp.user.email).toBe(email);
  });
});

describe('the per-email budget of 10 wrong codes per hour', () => {
  it('answers the next attempt, even with the right code, RATE_LIMITED with an integer retryAfter, until the hour has passed', async () => {
    const email = uniqueEmail('budget');
    const code = await spendFailureBudget(email);

    const limited = await verifyOtp(app, email, code);
    expect(errorCode(limited)).toBe('RATE_LIMITED');
    const retryAfter = retryAfterOf(limited);
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(3600);

    app.clock.advance(3600);
    const later = await requestCode(email, 'VERIFY_EMAIL');
    const res = await verifyOtp(app, email, later);
    expect(res.errors).toBeUndefined();
    expect(res.data?.verifyOtp.user.email).toBe(email);
  });

  it('is not reset by requesting a new code: the right code of a fresh code is RATE_LIMITED', async () => {
    const email = uniqueEmail('noreset');
    await spendFailureBudget(email);
    app.clock.advance(61);
    const fresh = await requestCode(email, 'VERIFY_EMAIL');
    const res = await verifyOtp(app, email, fresh);
    expect(errorCode(res)).toBe('RATE_LIMITED');
    expect(retryAfterOf(res)).toBeGreaterThanOrEqual(1);
  });
});

describe('the resend interval', () => {
  it('refuses a second requestOtp for the same email and purpose within 60 s with RATE_LIMITED and a retryAfter of 1–60', async () => {
    const email = uniqueEmail('resend');
    await signUp(app, email);
    expect((await requestOtp(app, email, 'LOGIN')).errors).toBeUndefined();
    app.clock.advance(20);
    const again = await requestOtp(app, email, 'LOGIN');
    expect(errorCode(again)).toBe('RATE_LIMITED');
    const retryAfter = retryAfterOf(again);
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
  });

  it('sends a new code once 60 s have passed', async () => {
    const email = uniqueEmail('resend-ok');
    await signUp(app, email);
    await requestCode(email, 'LOGIN');
    app.clock.advance(60);
    const before = app.smtp.messages.length;
    const second = await requestOtp(app, email, 'LOGIN');
    expect(second.errors).toBeUndefined();
    expect(second.data?.requestOtp).toEqual({ expiresIn: 600, retryAfter: 60 });
    expect(await app.smtp.codeFor(email, SUBJECT.LOGIN!, before)).toMatch(/^\d{6}$/);
  });

  it('does not hold back a code for a different purpose', async () => {
    const email = uniqueEmail('purposes');
    await signUp(app, email);
    expect((await requestOtp(app, email, 'LOGIN')).errors).toBeUndefined();
    const reset = await requestOtp(app, email, 'RESET_PASSWORD');
    expect(reset.errors).toBeUndefined();
    expect(reset.data?.requestOtp.expiresIn).toBe(600);
  });

  it('is shared by register and requestOtp(VERIFY_EMAIL)', async () => {
    const email = uniqueEmail('shared');
    expect((await registerRaw(email)).errors).toBeUndefined();
    const request = await requestOtp(app, email, 'VERIFY_EMAIL');
    expect(errorCode(request)).toBe('RATE_LIMITED');
    expect(retryAfterOf(request)).toBeGreaterThanOrEqual(1);
    expect(errorCode(await registerRaw(email))).toBe('RATE_LIMITED');
  });
});

describe('unknown emails', () => {
  it('answers requestOtp exactly as for a known email, sends nothing, and applies the resend interval alike', async () => {
    const known = uniqueEmail('known');
    const unknown = uniqueEmail('nobody');
    await signUp(app, known);

    const unknownRes = await requestOtp(app, unknown, 'LOGIN');
    const before = app.smtp.messages.length;
    const knownRes = await requestOtp(app, known, 'LOGIN');
    expect(unknownRes.errors).toBeUndefined();
    expect(unknownRes).toEqual(knownRes);

    const unknownAgain = await requestOtp(app, unknown, 'LOGIN');
    const knownAgain = await requestOtp(app, known, 'LOGIN');
    expect(errorCode(knownAgain)).toBe('RATE_LIMITED');
    expect(errorCode(unknownAgain)).toBe('RATE_LIMITED');
    expect(retryAfterOf(unknownAgain)).toBe(retryAfterOf(knownAgain));

    // The known email's code was queued after the unknown request: once it has arrived, so would have any mail to `unknown`.
    await app.smtp.codeFor(known, SUBJECT.LOGIN!, before);
    expect(app.smtp.messages.filter((m) => m.to === unknown)).toEqual([]);
  });
});

describe('a new code for the same email and purpose', () => {
  it('retires the older code: the first gets INVALID_OTP, the second signs in', async () => {
    const email = uniqueEmail('retire');
    const first = await registerForCode(email);
    app.clock.advance(61);
    const second = await requestCode(email, 'VERIFY_EMAIL');
    expect(errorCode(await verifyOtp(app, email, first))).toBe('INVALID_OTP');
    const res = await verifyOtp(app, email, second);
    expect(res.errors).toBeUndefined();
    expect(res.data?.verifyOtp.user.email).toBe(email);
  });
});

describe('purposes and input', () => {
  it('rejects a LOGIN code submitted as VERIFY_EMAIL with INVALID_OTP (it still works as LOGIN)', async () => {
    const email = uniqueEmail('mismatch');
    await signUp(app, email);
    const code = await requestCode(email, 'LOGIN');
    expect(errorCode(await verifyOtp(app, email, code, 'VERIFY_EMAIL'))).toBe('INVALID_OTP');
    expect((await verifyOtp(app, email, code, 'LOGIN')).data?.verifyOtp.user.email).toBe(email);
  });

  it('answers verifyOtp with purpose RESET_PASSWORD with BAD_USER_INPUT', async () => {
    const email = uniqueEmail('reset-verify');
    await signUp(app, email);
    const code = await requestCode(email, 'RESET_PASSWORD');
    expect(errorCode(await verifyOtp(app, email, code, 'RESET_PASSWORD'))).toBe('BAD_USER_INPUT');
  });

  it.each(['12345', '1234567', 'abcdef', ''])(
    'answers a code that is not 6 digits (%p) with BAD_USER_INPUT',
    async (bad) => {
      const email = uniqueEmail('format');
      await registerForCode(email);
      expect(errorCode(await verifyOtp(app, email, bad))).toBe('BAD_USER_INPUT');
    },
  );
});

describe('single use under concurrency', () => {
  it('signs in exactly once when the right code is submitted 10 times at once', async () => {
    const email = uniqueEmail('race');
    const code = await registerForCode(email);
    const results = await Promise.all(Array.from({ length: 10 }, () => verifyOtp(app, email, code)));
    expect(results.filter((r) => r.data?.verifyOtp?.accessToken)).toHaveLength(1);
    expect(results.filter((r) => errorCode(r) === 'INVALID_OTP')).toHaveLength(9);
  });

  it('resets the password exactly once when the right code is submitted 10 times at once', async () => {
    const email = uniqueEmail('race-reset');
    await signUp(app, email);
    const code = await requestCode(email, 'RESET_PASSWORD');
    const results = await Promise.all(Array.from({ length: 10 }, () => resetPassword(email, code, NEW_PASSWORD)));
    expect(results.filter((r) => r.data?.resetPassword === true)).toHaveLength(1);
    expect(results.filter((r) => errorCode(r) === 'INVALID_OTP')).toHaveLength(9);
  });
});

describe('LOGIN codes', () => {
  it('sign a verified user in: requestOtp LOGIN → verifyOtp LOGIN → me', async () => {
    const email = uniqueEmail('otp-login');
    const { user } = await signUp(app, email);
    const code = await requestCode(email, 'LOGIN');
    const res = await verifyOtp(app, email, code, 'LOGIN');
    expect(res.errors).toBeUndefined();
    const who = await me(app, res.data!.verifyOtp.accessToken);
    expect(who.data?.me).toMatchObject({ id: user.id, email, emailVerified: true });
  });

  it('answers the right code of a deactivated account with ACCOUNT_DISABLED', async () => {
    const email = uniqueEmail('disabled');
    await signUp(app, email);
    const before = app.smtp.messages.length;
    expect((await requestOtp(app, email, 'LOGIN')).errors).toBeUndefined();
    await app.sql('update users set active = false where email = ?', [email]); // after the code was issued
    const code = await app.smtp.codeFor(email, SUBJECT.LOGIN!, before);
    expect(errorCode(await verifyOtp(app, email, code, 'LOGIN'))).toBe('ACCOUNT_DISABLED');
  });
});

describe('register for an email that already has an account', () => {
  it('answers as for a new email, leaves the account untouched and sends the owner a notice without a code', async () => {
    const email = uniqueEmail('taken');
    await signUp(app, email);
    app.clock.advance(61);

    const before = app.smtp.messages.length;
    const taken = await registerRaw(email, NEW_PASSWORD);
    const fresh = await registerRaw(uniqueEmail('new'), NEW_PASSWORD);
    expect(taken.errors).toBeUndefined();
    expect(taken).toEqual(fresh);

    expect((await login(app, email, PASSWORD)).data?.login.user.email).toBe(email);
    expect(errorCode(await login(app, email, NEW_PASSWORD))).toBe('INVALID_CREDENTIALS');

    const notice = await app.smtp.waitFor(
      email,
      (m) => /already have an account/i.test(m.subject) && !app.smtp.messages.slice(0, before).includes(m),
    );
    expect(notice.text).not.toMatch(/\d{6}/);
    expect(notice.html).not.toMatch(/\d{6}/);
  });

  it('a re-registration while an earlier code is live sets no password: its code verifies and signs in only', async () => {
    const email = uniqueEmail('pending');
    await registerForCode(email, PASSWORD);
    app.clock.advance(61);
    const newest = await registerForCode(email, NEW_PASSWORD);
    expect((await verifyOtp(app, email, newest)).errors).toBeUndefined();

    // Whoever registered second cannot put a password behind the code the owner types (issue 11, takeover).
    expect(errorCode(await login(app, email, NEW_PASSWORD))).toBe('INVALID_CREDENTIALS');
    expect(errorCode(await login(app, email, PASSWORD))).toBe('INVALID_CREDENTIALS');
  });
});

describe('resetPassword', () => {
  it('sets the new password and ends every earlier session', async () => {
    const email = uniqueEmail('reset');
    const first = await signUp(app, email);
    const second = (await login(app, email, PASSWORD)).data!.login;
    const code = await requestCode(email, 'RESET_PASSWORD');

    const res = await resetPassword(email, code, NEW_PASSWORD);
    expect(res.errors).toBeUndefined();
    expect(res.data).toEqual({ resetPassword: true });

    for (const old of [first, second]) {
      expect(errorCode(await me(app, old.accessToken))).toBe('UNAUTHENTICATED');
      expect(errorCode(await refresh(app, old.refreshToken))).toBe('UNAUTHENTICATED');
    }
    expect((await login(app, email, NEW_PASSWORD)).data?.login.user.email).toBe(email);
    expect(errorCode(await login(app, email, PASSWORD))).toBe('INVALID_CREDENTIALS');
  });

  it('refuses a password that breaks the policy on field newPassword without consuming the code', async () => {
    const email = uniqueEmail('reset-weak');
    await signUp(app, email);
    const code = await requestCode(email, 'RESET_PASSWORD');

    const weak = await resetPassword(email, code, 'weakpass');
    expect(errorCode(weak)).toBe('BAD_USER_INPUT');
    expect(weak.errors?.[0]?.extensions?.field).toBe('newPassword');

    expect((await resetPassword(email, code, NEW_PASSWORD)).data).toEqual({ resetPassword: true });
    expect((await login(app, email, NEW_PASSWORD)).data?.login.user.email).toBe(email);
  });
});

describe('code emails', () => {
  it.each(['VERIFY_EMAIL', 'LOGIN', 'RESET_PASSWORD'])(
    'a %s email holds exactly one run of 6+ digits in its text, and its HTML shows the same code',
    async (purpose) => {
      const email = uniqueEmail('mail');
      await signUp(app, email);
      app.clock.advance(61);
      const before = app.smtp.messages.length;
      expect((await requestOtp(app, email, purpose)).errors).toBeUndefined();
      const mail = await app.smtp.waitFor(
        email,
        (m) => SUBJECT[purpose]!.test(m.subject) && !app.smtp.messages.slice(0, before).includes(m),
      );

      const runs = mail.text.match(/\d{6,}/g) ?? [];
      expect(runs).toHaveLength(1);
      expect(runs[0]).toMatch(/^\d{6}$/);
      const htmlText = mail.html.replace(/<[^>]*>/g, ' ');
      expect(htmlText.match(/\d{6,}/g)).toEqual(runs);
      // And it is the live code: it is accepted for its purpose.
      if (purpose === 'RESET_PASSWORD') {
        expect((await resetPassword(email, runs[0]!, NEW_PASSWORD)).data).toEqual({ resetPassword: true });
      } else {
        expect((await verifyOtp(app, email, runs[0]!, purpose)).errors).toBeUndefined();
      }
    },
  );
});
