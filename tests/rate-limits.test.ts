// The request limits, played from the attacker's side over HTTP. The limits count in real time (Date.now), not the
// test clock: the one window a test waits out is kept small (2 s), the others last a minute or more, so that a slow
// machine does not see a window end in the middle of a test. Each test starts its own app with the limits under test
// set explicitly (startTestApp relaxes every limit by default); apps run one after another (PGlite is shared).
import { sha256 } from '../src/common/crypto';
import { loadConfig } from '../src/config/config';
import { ConfigError } from '../src/config/config-helpers';
import { clientKey } from '../src/rate-limit/ip-limit';
import { eventually } from './helpers/eventually';
import * as flows from './helpers/flows';
import { PASSWORD, login, refresh, register, requestOtp, signUp, uniqueEmail, verifyOtp } from './helpers/flows';
import { errorCode, startTestApp, TEST_JWT_SECRET, type GraphQLResponse, type TestApp } from './helpers/test-server';

const WRONG = 'Wrong-Horse-42';
const NEW_PASSWORD = 'Brand-New-Pass-7';

async function withApp(env: Record<string, string>, body: (app: TestApp) => Promise<void>): Promise<void> {
  const app = await startTestApp({ env });
  try {
    await body(app);
  } finally {
    await app.stop();
  }
}

async function count(app: TestApp, sql: string, params: unknown[]): Promise<number> {
  const rows = await app.sql<{ n: number }>(`select count(*)::int as n from ${sql}`, params);
  return Number(rows[0]!.n);
}

const failedLogins = (app: TestApp, email: string) =>
  count(app, "audit_events where type = 'LOGIN_FAILED' and email = ?", [email]);

/** The RATE_LIMITED error of `res`, checked for an integer retryAfter within [min, max]. */
function expectRateLimited(res: GraphQLResponse, min: number, max: number): void {
  expect(errorCode(res)).toBe('RATE_LIMITED');
  const retryAfter = res.errors![0]!.extensions!.retryAfter as number;
  expect(Number.isInteger(retryAfter)).toBe(true);
  expect(retryAfter).toBeGreaterThanOrEqual(min);
  expect(retryAfter).toBeLessThanOrEqual(max);
}

/** A 6-digit code that is not `code`. */
const wrongCode = (code: string) => String((Number(code) + 1) % 1_000_000).padStart(6, '0');

const resetPassword = (app: TestApp, email: string, code: string) =>
  flows.resetPassword(app, email, code, NEW_PASSWORD);

const aliasedLogins = (n: number) =>
  `mutation($e: String!, $p: String!) { ${Array.from({ length: n }, (_, i) => `a${i}: login(email: $e, password: $p) { accessToken }`).join(' ')} }`;

describe('login: per IP and email (RATE_LIMIT_LOGIN_IP_EMAIL=5/1m)', () => {
  const env = { RATE_LIMIT_LOGIN_IP_EMAIL: '5/1m' };

  it('counts every alias of one document separately, and refuses a 50-alias document before any login runs', () =>
    withApp(env, async (app) => {
      // 50 aliases: refused by the document limit (15 aliases) before execution.
      const other = uniqueEmail('aliases');
      const huge = await app.gql(aliasedLogins(50), { e: other, p: WRONG });
      expect(huge.status).toBeGreaterThanOrEqual(400);
      expect(huge.status).toBeLessThan(500);
      expect(errorCode(huge)).toBe('GRAPHQL_VALIDATION_FAILED');
      expect(huge.errors![0]!.message).toMatch(/alias/i);
      expect(await failedLogins(app, other)).toBe(0);

      // 10 aliases with the right password. Mutation fields run one after another, and the first error of a
      // non-null field (login: AuthPayload!) ends the document with data null, so the answer holds a single
      // RATE_LIMITED error at the 6th alias; the audit shows that exactly 5 logins ran.
      const { user } = await signUp(app, uniqueEmail('victim'));
      const res = await app.gql(aliasedLogins(10), { e: user.email, p: PASSWORD });
      expect(res.data).toBeNull();
      expect(res.errors).toHaveLength(1);
      expect(res.errors![0]!.path).toEqual(['a5']);
      expectRateLimited(res, 1, 60);
      expect(
        await count(app, "audit_events where type = 'LOGIN_SUCCEEDED' and detail = 'password' and email = ?", [
          user.email,
        ]),
      ).toBe(5);
      expect(await count(app, 'sessions where user_id = ?', [user.id])).toBe(1 + 5); // signUp's own + 5

      // The bucket is full: a wrong-password guess is refused without running.
      expectRateLimited(await login(app, user.email, WRONG), 1, 60);
      expect(await failedLogins(app, user.email)).toBe(0);
    }));

  it('counts case and surrounding-space variants of one email against the same bucket', () =>
    withApp(env, async (app) => {
      const email = (await signUp(app, uniqueEmail('victim'))).user.email; // stored lower-case
      const [local, domain] = email.split('@') as [string, string];
      const variants = [
        `${local[0]!.toUpperCase()}${local.slice(1)}@${domain[0]!.toUpperCase()}${domain.slice(1)}`,
        ` ${email}`,
        email.toUpperCase(),
        `${email} `,
        `  ${email.toUpperCase()}\t`,
      ];
      for (const v of variants) expect(errorCode(await login(app, v, WRONG))).toBe('INVALID_CREDENTIALS');
      expectRateLimited(await login(app, email, WRONG), 1, 60);
      expectRateLimited(await login(app, ` ${email.toUpperCase()}`, WRONG), 1, 60);
      expect(await failedLogins(app, email)).toBe(5);
    }));

  it('answers an email without an account exactly like one with an account', () =>
    withApp(env, async (app) => {
      const known = (await signUp(app, uniqueEmail('known'))).user.email;
      const unknown = uniqueEmail('nobody');
      const answers = async (email: string) => {
        const out: Array<[string | undefined, string | undefined]> = [];
        for (let i = 0; i < 7; i++) {
          const res = await login(app, email, WRONG);
          if (errorCode(res) === 'RATE_LIMITED') expectRateLimited(res, 1, 60);
          out.push([errorCode(res), res.errors?.[0]?.message.replace(/\d+/g, 'N')]);
        }
        return out;
      };
      const forKnown = await answers(known);
      const forUnknown = await answers(unknown);
      expect(forKnown.map(([code]) => code)).toEqual([
        ...Array(5).fill('INVALID_CREDENTIALS'),
        'RATE_LIMITED',
        'RATE_LIMITED',
      ]);
      expect(forUnknown).toEqual(forKnown);
      expect(await failedLogins(app, known)).toBe(5);
      expect(await failedLogins(app, unknown)).toBe(5);
    }));

  it('ignores X-Forwarded-For without TRUST_PROXY: rotating it does not reset the per-IP+email bucket', () =>
    withApp(env, async (app) => {
      const email = (await signUp(app, uniqueEmail('victim'))).user.email;
      const spoofed = Array.from({ length: 7 }, (_, i) => `198.51.100.${i + 1}`);
      const codes = [];
      for (const ip of spoofed) codes.push(errorCode(await login(app, email, WRONG, { 'x-forwarded-for': ip })));
      expect(codes).toEqual([...Array(5).fill('INVALID_CREDENTIALS'), 'RATE_LIMITED', 'RATE_LIMITED']);
      const ips = await app.sql<{ ip: string }>(
        "select distinct ip from audit_events where type = 'LOGIN_FAILED' and email = ?",
        [email],
      );
      expect(ips).toHaveLength(1);
      expect(spoofed).not.toContain(ips[0]!.ip);
    }));
});

describe('login behind a trusted proxy (TRUST_PROXY=loopback)', () => {
  it('lets X-Forwarded-For rotate the IP bucket, but the per-email limit still trips after 8 attempts from any IP', () =>
    withApp(
      { TRUST_PROXY: 'loopback', RATE_LIMIT_LOGIN_IP_EMAIL: '5/1m', RATE_LIMIT_LOGIN_EMAIL: '8/1h' },
      async (app) => {
        const email = (await signUp(app, uniqueEmail('victim'))).user.email;
        const codes = [];
        for (let i = 1; i <= 11; i++) {
          const res = await login(app, email, WRONG, { 'x-forwarded-for': `203.0.113.${i}` });
          codes.push(errorCode(res));
          // Past 8 the refusal comes from the hour-long per-email window, not the minute-long per-IP one.
          if (i > 8) expectRateLimited(res, 3000, 3600);
        }
        // 8 > 5 answered from one socket: only possible because each forwarded IP has its own IP+email bucket.
        expect(codes).toEqual([...Array(8).fill('INVALID_CREDENTIALS'), ...Array(3).fill('RATE_LIMITED')]);
        expect(await failedLogins(app, email)).toBe(8);
        const ips = await app.sql<{ ip: string }>(
          "select ip from audit_events where type = 'LOGIN_FAILED' and email = ? order by id",
          [email],
        );
        expect(ips.map((r) => r.ip)).toEqual(Array.from({ length: 8 }, (_, i) => `203.0.113.${i + 1}`));
      },
    ));
});

describe('requests per client IP (RATE_LIMIT_PER_MINUTE=30)', () => {
  it('answers credential stuffing from one IP with HTTP 429 + Retry-After, and a spoofed X-Forwarded-For does not reset it', () =>
    withApp({ RATE_LIMIT_PER_MINUTE: '30' }, async (app) => {
      // One password tried against many emails: 30 emails here (not hundreds) to keep the file fast;
      // the limit is the same at any size.
      const post = (email: string, headers: Record<string, string> = {}) =>
        app.gql(
          'mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }',
          { e: email, p: 'Summer2024!' },
          { headers },
        );
      const emails = Array.from({ length: 32 }, (_, i) => uniqueEmail(`stuffed${i}-`));
      for (const email of emails.slice(0, 30)) {
        const res = await post(email);
        expect(res.status).toBe(200);
        expect(res.errors?.[0]?.extensions?.code).toBe('INVALID_CREDENTIALS');
      }
      const over = [await post(emails[30]!), await post(emails[31]!, { 'x-forwarded-for': '192.0.2.77' })];
      for (const res of over) {
        expect(res.status).toBe(429);
        const header = res.headers.get('retry-after');
        expect(header).toMatch(/^\d+$/);
        expect(Number(header)).toBeGreaterThanOrEqual(1);
        expect(Number(header)).toBeLessThanOrEqual(60);
        const body = res.body;
        expect(body.errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
        expect(body.errors?.[0]?.extensions?.retryAfter).toBe(Number(header));
      }
      expect(await count(app, "audit_events where type = 'LOGIN_FAILED'", [])).toBe(30);
      expect(await failedLogins(app, emails[30]!)).toBe(0);
      expect(await failedLogins(app, emails[31]!)).toBe(0);
    }));
});

describe('the other operation limits', () => {
  it('register per IP (RATE_LIMIT_REGISTER_IP=2/1h): the third register from the IP is refused and creates nothing', () =>
    withApp({ RATE_LIMIT_REGISTER_IP: '2/1h' }, async (app) => {
      const [a, b, c] = [uniqueEmail('reg'), uniqueEmail('reg'), uniqueEmail('reg')];
      await register(app, a);
      await register(app, b);
      const res = await app.gql('mutation($i: RegisterInput!) { register(input: $i) { expiresIn retryAfter } }', {
        i: { email: c, password: PASSWORD },
      });
      expectRateLimited(res, 3000, 3600);
      expect(await count(app, 'users where email in (?, ?, ?)', [a, b, c])).toBe(2);
      expect(await count(app, "audit_events where type = 'REGISTER' and email = ?", [c])).toBe(0);
      expect(await count(app, 'otp_codes where email = ?', [c])).toBe(0);
    }));

  it('requestOtp per IP and email (RATE_LIMIT_REQUEST_OTP_IP_EMAIL=2/15m), across purposes and spellings; another IP is not limited', () =>
    withApp({ RATE_LIMIT_REQUEST_OTP_IP_EMAIL: '2/15m', TRUST_PROXY: 'loopback' }, async (app) => {
      // Each purpose has its own 60 s resend interval, so a third purpose is refused only by the limit.
      const email = uniqueEmail('otp');
      expect((await requestOtp(app, email, 'LOGIN')).errors).toBeUndefined();
      expect((await requestOtp(app, email.toUpperCase(), 'VERIFY_EMAIL')).errors).toBeUndefined();
      const res = await requestOtp(app, ` ${email}`, 'RESET_PASSWORD');
      expectRateLimited(res, 61, 900); // more than the resend interval: the 15 min window answered
      expect(await count(app, "otp_codes where email = ? and purpose = 'RESET_PASSWORD'", [email])).toBe(0);
      expect(await count(app, "audit_events where type = 'OTP_REQUESTED' and email = ?", [email])).toBe(2);
      // The owner elsewhere is not refused because of what this address did (issue 11: no lockout by strangers).
      const elsewhere = await app.gql(
        'mutation($e: String!) { requestOtp(email: $e, purpose: RESET_PASSWORD) { expiresIn } }',
        { e: email },
        { headers: { 'x-forwarded-for': '198.51.100.23' } },
      );
      expect(elsewhere.errors).toBeUndefined();
    }));

  it('verifyOtp per IP and email (3/10m): the right code is refused once the limit is hit, and stays unused', () =>
    withApp({ RATE_LIMIT_VERIFY_OTP_IP_EMAIL: '3/10m', OTP_MAX_ATTEMPTS: '10' }, async (app) => {
      const email = uniqueEmail('verify');
      await register(app, email);
      const code = await app.smtp.codeFor(email, /confirm/i);
      for (let i = 0; i < 3; i++) expect(errorCode(await verifyOtp(app, email, wrongCode(code)))).toBe('INVALID_OTP');
      expectRateLimited(await verifyOtp(app, email, code), 500, 600);
      expect(await count(app, "audit_events where type = 'OTP_REJECTED' and email = ?", [email])).toBe(3);
      expect(await count(app, 'otp_codes where email = ? and consumed_at is null', [email])).toBe(1);
      expect(await count(app, 'users where email = ? and email_verified', [email])).toBe(0);
    }));

  it('resetPassword per IP and email (3/10m): the right code is refused once the limit is hit; the password stays', () =>
    withApp({ RATE_LIMIT_RESET_PASSWORD_IP_EMAIL: '3/10m', OTP_MAX_ATTEMPTS: '10' }, async (app) => {
      const email = (await signUp(app, uniqueEmail('reset'))).user.email;
      const before = app.smtp.messages.length;
      expect((await requestOtp(app, email, 'RESET_PASSWORD')).errors).toBeUndefined();
      const code = await app.smtp.codeFor(email, /reset/i, before);
      for (let i = 0; i < 3; i++)
        expect(errorCode(await resetPassword(app, email, wrongCode(code)))).toBe('INVALID_OTP');
      expectRateLimited(await resetPassword(app, email, code), 500, 600);
      expect(await count(app, "audit_events where type = 'PASSWORD_RESET' and email = ?", [email])).toBe(0);
      expect(
        await count(app, "otp_codes where email = ? and purpose = 'RESET_PASSWORD' and consumed_at is null", [email]),
      ).toBe(1);
      expect((await login(app, email, PASSWORD)).errors).toBeUndefined(); // old password still works
    }));

  it('refresh per IP (RATE_LIMIT_REFRESH_IP=3/1m): the fourth refresh is refused and rotates nothing', () =>
    withApp({ RATE_LIMIT_REFRESH_IP: '3/1m' }, async (app) => {
      let token = (await signUp(app, uniqueEmail('refresh'))).refreshToken;
      for (let i = 0; i < 3; i++) {
        const res = await refresh(app, token);
        expect(res.errors).toBeUndefined();
        token = res.data!.refresh.refreshToken;
      }
      expectRateLimited(await refresh(app, token), 1, 60);
      // The token presented last is still the session's current one: the refused call rotated nothing.
      expect(await count(app, 'sessions where current_token_hash = ? and revoked_at is null', [sha256(token)])).toBe(1);
    }));
});

describe('after the window', () => {
  it('lets the same caller through again once a 2 s window has passed', () =>
    withApp({ RATE_LIMIT_LOGIN_IP_EMAIL: '3/2s' }, async (app) => {
      const email = uniqueEmail('patient');
      for (let i = 0; i < 3; i++) expect(errorCode(await login(app, email, WRONG))).toBe('INVALID_CREDENTIALS');
      expectRateLimited(await login(app, email, WRONG), 1, 2);
      const lastCounted = Date.now(); // the server saw every attempt before answering it
      // Until every attempt is out of the 2 s window: a time computed from what happened, not a guess.
      await eventually(() => Date.now() > lastCounted + 2000, Boolean, { intervalMs: 50 });
      expect(errorCode(await login(app, email, WRONG))).toBe('INVALID_CREDENTIALS');
      expect(await failedLogins(app, email)).toBe(4);
    }));
});

describe('limit configuration', () => {
  const base = { NODE_ENV: 'test', JWT_SECRET: TEST_JWT_SECRET };

  it('stops start-up with a ConfigError naming the variable for a bad limit value', () => {
    let thrown: unknown;
    try {
      loadConfig({ ...base, RATE_LIMIT_LOGIN_IP_EMAIL: 'lots' });
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    expect((thrown as ConfigError).variable).toBe('RATE_LIMIT_LOGIN_IP_EMAIL');
    expect((thrown as ConfigError).message).toContain('RATE_LIMIT_LOGIN_IP_EMAIL');
    expect((thrown as ConfigError).message).not.toContain('\n');
    // A good value is read as written.
    const rule = loadConfig({ ...base, RATE_LIMIT_LOGIN_IP_EMAIL: '7/30s' }).limits.find(
      (l) => l.name === 'login-ip-email',
    );
    expect(rule).toMatchObject({ max: 7, windowMs: 30_000, by: 'ip+email' });
  });
});

describe('the per-IP counter key', () => {
  it.each([
    ['127.0.0.1', '127.0.0.1'],
    ['::ffff:127.0.0.1', '127.0.0.1'], // a dual-stack socket's IPv4 client counts as that IPv4 address
    ['2001:db8:abcd:1234::1', '2001:db8:abcd:1234::/64'], // one IPv6 client rotating addresses in its /64 is one key
    ['2001:db8:abcd:1234:1:2:3:4', '2001:db8:abcd:1234::/64'],
    ['2001:db8:abcd:12ff:1:2:3:4', '2001:db8:abcd:12ff::/64'],
    ['2001:db8:abcd:1300::1', '2001:db8:abcd:1300::/64'],
  ])('%s counts as %s', (ip, key) => {
    expect(clientKey(ip)).toBe(key);
  });
});
