// The "New sign-in to your account" notice, through the real server and SMTP: a device is the browser family and OS
// family of the User-Agent plus the network prefix of the address (IPv4 /24, IPv6 /48); a session opened from a
// device the account has not used in 90 days tells its owner, once, naming the device and the network but not the
// address. Not for an account's first device, a refresh, a failed sign-in, a password that still needs its second
// factor, or an address nobody proved. Clients are told apart by User-Agent and X-Forwarded-For (TRUST_PROXY).
import { randomBytes } from 'node:crypto';
import { letterEmail, mailWhenSent } from './helpers/notices';
import { AUTH_FIELDS, login, PASSWORD, requestOtp, signUp, verifyOtp, type Tokens } from './helpers/flows';
import { enableTotp, mfaTicketOf, nextTotpCode, totpCode } from './helpers/mfa';
import { startTestProvider, type TestProvider } from './helpers/oidc-provider';
import type { ReceivedMail } from './helpers/smtp';
import { acmeEnv, fixtureClient, nonceClaim } from './helpers/social';
import { errorCode, ok, startTestApp, type TestApp } from './helpers/test-server';

/** The default APP_NAME: this file sets none. */
const SUBJECT = 'Portcullis: New sign-in to your account';
const DAY = 86_400;

const UA = {
  chromeLinux: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36',
  chromeLinuxLater:
    'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.85 Safari/537.36',
  firefoxLinux: 'Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0',
  chromeWindows:
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36',
};

/** A client as the server tells it: what it says it runs, and where it connects from. */
const client = (userAgent: string, ip: string): Record<string, string> => ({
  'user-agent': userAgent,
  'x-forwarded-for': ip,
});

/** The device every account here signs up from. */
const HOME = client(UA.chromeLinux, '203.0.113.7');

let provider: TestProvider;
let app: TestApp;

beforeAll(async () => {
  provider = await startTestProvider([fixtureClient('acme')]);
  app = await startTestApp({
    env: { TRUST_PROXY: 'loopback', ...acmeEnv(provider) },
  });
});
afterAll(async () => {
  await app?.stop();
  await provider?.stop();
});

/** The new-sign-in notices to `email`, once the outbox has sent all it holds for that address. */
async function notices(email: string): Promise<ReceivedMail[]> {
  return (await mailWhenSent(app, email)).filter((m) => m.subject === SUBJECT);
}

/** A verified account, signed up (its first session) from HOME. */
async function newAccount(prefix: string): Promise<{ email: string; tokens: Tokens }> {
  const email = letterEmail(prefix);
  return { email, tokens: await signUp(app, email, PASSWORD, HOME) };
}

/** A password sign-in from `headers`; fails the test unless it opens a session. */
async function signInFrom(email: string, headers: Record<string, string>): Promise<Tokens> {
  return ok(await login(app, email, PASSWORD, headers)).login;
}

function refreshFrom(refreshToken: string, headers: Record<string, string>) {
  return app.gql<{ refresh: Tokens }>(
    `mutation($t: String) { refresh(refreshToken: $t) { ${AUTH_FIELDS} } }`,
    { t: refreshToken },
    { headers },
  );
}

function verifyMfaFrom(ticket: string, code: string, headers: Record<string, string>) {
  return app.gql<{ verifyMfa: Tokens }>(
    `mutation($t: String!, $c: String) { verifyMfa(ticket: $t, code: $c) { ${AUTH_FIELDS} } }`,
    { t: ticket, c: code },
    { headers },
  );
}

/** A 6-digit code no step the server could accept now or after the next advance shows: certainly wrong. */
function wrongTotpCode(secret: string): string {
  const now = app.clock.now().getTime();
  const live = new Set([-1, 0, 1, 2].map((step) => totpCode(secret, now + step * 30_000)));
  for (let n = 0; ; n += 1) {
    const candidate = String(n).padStart(6, '0');
    if (!live.has(candidate)) return candidate;
  }
}

/** Checks the one notice to `email` names `device` and `network` and not the address `ip`; returns its text. */
async function expectOneNotice(email: string, device: string, network: string, ip: string): Promise<string> {
  const got = await notices(email);
  expect(got).toHaveLength(1);
  const { text, html } = got[0]!;
  for (const part of [text, html]) {
    expect(part).toContain(device);
    expect(part).toContain(network);
    expect(part).not.toContain(ip);
    expect(part).toContain('Portcullis');
  }
  return text;
}

describe('which sign-ins are from a new device', () => {
  it("sends none for an account's first sign-in (sign-up), nor for the same device again", async () => {
    const { email } = await newAccount('first');
    await signInFrom(email, HOME);
    expect(await notices(email)).toEqual([]);
    // Control: the account does get notices, from another browser.
    await signInFrom(email, client(UA.firefoxLinux, '203.0.113.7'));
    expect(await notices(email)).toHaveLength(1);
  });

  it('sends none for a newer version of the same browser on the same OS, from another address in the same /24', async () => {
    const { email } = await newAccount('same');
    await signInFrom(email, client(UA.chromeLinuxLater, '203.0.113.200'));
    expect(await notices(email)).toEqual([]);
    await signInFrom(email, client(UA.chromeLinux, '203.0.113.0'));
    await signInFrom(email, client(UA.chromeLinux, '203.0.113.255'));
    expect(await notices(email)).toEqual([]);
    await signInFrom(email, client(UA.chromeLinux, '203.0.114.7')); // control: the next /24
    expect(await notices(email)).toHaveLength(1);
  });

  it.each([
    ['another browser family', client(UA.firefoxLinux, '203.0.113.7'), 'Firefox on Linux', '203.0.113.0/24'],
    ['another OS', client(UA.chromeWindows, '203.0.113.7'), 'Chrome on Windows', '203.0.113.0/24'],
    ['another IPv4 /24', client(UA.chromeLinux, '198.51.100.23'), 'Chrome on Linux', '198.51.100.0/24'],
  ])(
    'sends one for %s, naming the device and the network prefix, not the address',
    async (_what, from, device, net) => {
      const { email } = await newAccount('other');
      const at = app.clock.now();
      await signInFrom(email, from);

      const text = await expectOneNotice(email, device, net, from['x-forwarded-for']!);
      expect(text).toContain(`${at.toISOString().slice(0, 16).replace('T', ' ')} UTC`);
      expect(text).not.toContain(from['user-agent']!);
    },
  );

  it('takes IPv6 addresses by their /48', async () => {
    const email = letterEmail('ipv6');
    await signUp(app, email, PASSWORD, client(UA.chromeLinux, '2001:db8:1:2::5'));
    await signInFrom(email, client(UA.chromeLinux, '2001:db8:1:ffff::9'));
    expect(await notices(email)).toEqual([]);
    await signInFrom(email, client(UA.chromeLinux, '2001:db8:2:2::5'));
    await expectOneNotice(email, 'Chrome on Linux', '2001:db8:2::/48', '2001:db8:2:2::5');
  });

  it('tells once: the same new device again sends nothing more', async () => {
    const { email } = await newAccount('once');
    const laptop = client(UA.firefoxLinux, '198.51.100.23');
    await signInFrom(email, laptop);
    await signInFrom(email, laptop);
    await signInFrom(email, client(UA.firefoxLinux, '198.51.100.99'));
    await signInFrom(email, HOME);
    expect(await notices(email)).toHaveLength(1);
  });

  it('tells once for two sign-ins from one new device at the same moment', async () => {
    const { email } = await newAccount('together');
    const laptop = client(UA.firefoxLinux, '198.51.100.23');
    const both = await Promise.all([login(app, email, PASSWORD, laptop), login(app, email, PASSWORD, laptop)]);
    for (const res of both) ok(res);
    expect(await notices(email)).toHaveLength(1);
  });

  it('counts a device not used for 90 days as new again; one used within 90 days stays known', async () => {
    const { email } = await newAccount('ninety');
    const laptop = client(UA.firefoxLinux, '198.51.100.23');
    await signInFrom(email, laptop);
    expect(await notices(email)).toHaveLength(1);

    app.clock.advance(89 * DAY);
    await signInFrom(email, laptop);
    app.clock.advance(89 * DAY); // 178 days after the first, 89 after the last
    await signInFrom(email, laptop);
    expect(await notices(email)).toHaveLength(1);

    app.clock.advance(91 * DAY);
    await signInFrom(email, laptop);
    expect(await notices(email)).toHaveLength(2);
    // HOME was last used 269 days ago: new again too.
    await signInFrom(email, HOME);
    const got = await notices(email);
    expect(got).toHaveLength(3);
    expect(got[2]!.text).toContain('Chrome on Linux');
  });
});

describe('what sends none', () => {
  it('a refresh, from whatever device it comes, and it does not make the device known', async () => {
    const { email, tokens } = await newAccount('refresh');
    const laptop = client(UA.firefoxLinux, '198.51.100.23');
    ok(await refreshFrom(tokens.refreshToken, laptop));
    expect(await notices(email)).toEqual([]);
    await signInFrom(email, laptop); // control: the device is still new
    expect(await notices(email)).toHaveLength(1);
  });

  it('a failed sign-in, and it does not make the device known', async () => {
    const { email } = await newAccount('failed');
    const laptop = client(UA.firefoxLinux, '198.51.100.23');
    expect(errorCode(await login(app, email, 'Wrong-Password-1!', laptop))).toBe('INVALID_CREDENTIALS');
    expect(await notices(email)).toEqual([]);
    await signInFrom(email, laptop);
    expect(await notices(email)).toHaveLength(1);
  });

  it('a password of an account with MFA on: the notice comes when verifyMfa opens the session, not before', async () => {
    const { email, tokens } = await newAccount('mfa');
    const totp = await enableTotp(app, tokens);
    const laptop = client(UA.firefoxLinux, '198.51.100.23');

    const ticket = mfaTicketOf(await login(app, email, PASSWORD, laptop));
    expect(errorCode(await verifyMfaFrom(ticket, wrongTotpCode(totp.secret), laptop))).toBe('INVALID_OTP');
    expect(await notices(email)).toEqual([]);

    ok(await verifyMfaFrom(ticket, nextTotpCode(app, totp.secret), laptop));
    await expectOneNotice(email, 'Firefox on Linux', '198.51.100.0/24', '198.51.100.23');
  });

  it('an account whose address nobody proved (a provider that did not vouch for it)', async () => {
    const email = letterEmail('unproved');
    const sub = `unproved-${randomBytes(6).toString('hex')}`;
    const idTokenSignIn = async (headers: Record<string, string>) => {
      const raw = randomBytes(32).toString('base64url');
      const idToken = await provider.mintIdToken({
        aud: 'client-acme',
        sub,
        email,
        email_verified: false,
        nonce: nonceClaim(raw),
      });
      return ok(
        await app.gql<{ signInWithIdToken: Tokens & { user: { emailVerified: boolean } } }>(
          `mutation($t: String!, $n: String) { signInWithIdToken(provider: "acme", idToken: $t, nonce: $n) { ${AUTH_FIELDS} } }`,
          { t: idToken, n: raw },
          { headers },
        ),
      ).signInWithIdToken;
    };
    expect((await idTokenSignIn(HOME)).user.emailVerified).toBe(false);
    await idTokenSignIn(client(UA.firefoxLinux, '198.51.100.23'));
    expect(await notices(email)).toEqual([]);

    // Control: once the address is proved (an emailed code, which also drops the identity that did not vouch for
    // it), a new device is told about.
    const signInWithCode = async (headers: Record<string, string>) => {
      const before = app.smtp.messages.length;
      ok(await requestOtp(app, email, 'LOGIN', headers));
      const code = await app.smtp.codeFor(email, /sign-in code/i, before);
      return ok(await verifyOtp(app, email, code, 'LOGIN', headers)).verifyOtp;
    };
    expect((await signInWithCode(HOME)).user).toMatchObject({ email, emailVerified: true });
    expect(await notices(email)).toEqual([]);
    app.clock.advance(61); // OTP_RESEND_INTERVAL
    await signInWithCode(client(UA.chromeWindows, '192.0.2.44'));
    await expectOneNotice(email, 'Chrome on Windows', '192.0.2.0/24', '192.0.2.44');
  });
});

describe('every way in', () => {
  it('an emailed LOGIN code from a new device sends one too', async () => {
    const { email } = await newAccount('code');
    const laptop = client(UA.firefoxLinux, '198.51.100.23');
    const before = app.smtp.messages.length;
    ok(await requestOtp(app, email, 'LOGIN', laptop));
    const code = await app.smtp.codeFor(email, /sign-in code/i, before);
    ok(await verifyOtp(app, email, code, 'LOGIN', laptop));
    await expectOneNotice(email, 'Firefox on Linux', '198.51.100.0/24', '198.51.100.23');
  });
});
