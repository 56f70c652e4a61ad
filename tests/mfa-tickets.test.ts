// The MFA_REQUIRED rule and verifyMfa through the HTTP API: a right first factor of an MFA user gives a ticket and no
// session; the ticket with a TOTP or recovery code gives a level-2 session once; tickets expire, are single use and
// unforgeable; wrong second factors are limited per ticket and per user per hour; two tries at once make one session;
// the audit trail; an admin's resetUserMfa and its step-up.
import { randomBytes } from 'node:crypto';
import { createUser, signIn } from './helpers/factories';
import { login, requestOtp, signUp, verifyOtp, type Tokens } from './helpers/flows';
import { enableTotp, mfaTicketOf, nextTotpCode, totpCode, verifyMfa } from './helpers/mfa';
import { errorCode, startTestApp, type TestApp } from './helpers/test-server';
import { claimsOf } from './helpers/client';

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(async () => {
  await app?.stop();
});

const REMOVED_SUBJECT = 'Portcullis: A second factor was removed from your account'; // APP_NAME: subject

const now = () => app.clock.now().getTime();

/** A 6-digit code that is none of `secret`'s codes in the accepted window (previous, current, next step). */
function wrongCode(secret: string): string {
  const near = new Set([-1, 0, 1].map((step) => totpCode(secret, now() + step * 30_000)));
  for (let i = 0; ; i += 1) {
    const code = String(i).padStart(6, '0');
    if (!near.has(code)) return code;
  }
}

async function sessionCount(userId: string): Promise<number> {
  const [row] = await app.sql<{ n: number }>('select count(*)::int as n from sessions where user_id = ?', [userId]);
  return row!.n;
}

async function factorRows(userId: string): Promise<{ factors: number; codes: number }> {
  const [row] = await app.sql<{ factors: number; codes: number }>(
    `select (select count(*)::int from mfa_factors where user_id = ?) as factors,
            (select count(*)::int from recovery_codes where user_id = ?) as codes`,
    [userId, userId],
  );
  return row!;
}

async function auditTypes(token: string): Promise<Array<{ type: string; actorId: string | null; detail: string }>> {
  const res = await app.gql<{
    myAuditEvents: { edges: Array<{ node: { type: string; actorId: string | null; detail: string } }> };
  }>('{ myAuditEvents(first: 100) { edges { node { type actorId detail } } } }', {}, { token });
  if (!res.data) throw new Error(JSON.stringify(res.errors));
  return res.data.myAuditEvents.edges.map((e) => e.node);
}

async function recoveryCodesLeft(token: string): Promise<number> {
  const res = await app.gql<{ me: { recoveryCodesLeft: number } }>('{ me { recoveryCodesLeft } }', {}, { token });
  if (!res.data?.me) throw new Error(JSON.stringify(res.errors));
  return res.data.me.recoveryCodesLeft;
}

/** A verified user with TOTP on; `first` is the session that turned it on (still live). */
async function mfaUser() {
  const first = await signUp(app);
  const totp = await enableTotp(app, first);
  return { email: first.user.email, id: first.user.id, first, ...totp };
}

async function ticketFor(email: string): Promise<string> {
  return mfaTicketOf(await login(app, email));
}

function tokensOf(res: { data?: { verifyMfa: Tokens } | null; errors?: unknown }): Tokens {
  if (!res.data?.verifyMfa) throw new Error(`verifyMfa failed: ${JSON.stringify(res.errors)}`);
  return res.data.verifyMfa;
}

describe('MFA_REQUIRED', () => {
  it('a right password of an MFA user gives a ticket and the factors, no tokens and no session', async () => {
    const user = await mfaUser();
    const before = await sessionCount(user.id);

    const res = await login(app, user.email);
    expect(errorCode(res)).toBe('MFA_REQUIRED');
    expect(res.data ?? null).toBeNull();
    const extensions = res.errors![0]!.extensions!;
    expect(extensions.factors).toEqual(['TOTP', 'RECOVERY_CODE']);
    expect(extensions.mfaTicket).toEqual(expect.any(String));
    expect(extensions.mfaTicket.length).toBeGreaterThanOrEqual(32);
    expect(extensions).not.toHaveProperty('passkeyChallenge');
    expect(JSON.stringify(res.body)).not.toMatch(/accessToken|refreshToken/);
    expect(await sessionCount(user.id)).toBe(before);
  });

  it('a wrong password of an MFA user is INVALID_CREDENTIALS, with no ticket', async () => {
    const user = await mfaUser();
    const res = await login(app, user.email, 'Wrong-Horse-9');
    expect(errorCode(res)).toBe('INVALID_CREDENTIALS');
    expect(res.errors![0]!.extensions).not.toHaveProperty('mfaTicket');
  });

  it('an emailed LOGIN code of an MFA user answers MFA_REQUIRED too, and is spent', async () => {
    const user = await mfaUser();
    const mails = app.smtp.messages.length;
    expect(errorCode(await requestOtp(app, user.email, 'LOGIN'))).toBeUndefined();
    const emailed = await app.smtp.codeFor(user.email, /sign-in code/i, mails);
    const before = await sessionCount(user.id);

    const res = await verifyOtp(app, user.email, emailed, 'LOGIN');
    expect(errorCode(res)).toBe('MFA_REQUIRED');
    expect(res.data ?? null).toBeNull();
    const ticket = mfaTicketOf(res);
    expect(errorCode(await verifyOtp(app, user.email, emailed, 'LOGIN'))).toBe('INVALID_OTP');
    expect(await sessionCount(user.id)).toBe(before);

    const tokens = tokensOf(await verifyMfa(app, ticket, { code: nextTotpCode(app, user.secret) }));
    expect(claimsOf(tokens.accessToken)).toMatchObject({ acr: 'aal2', amr: ['email', 'otp', 'mfa'] });
    expect(await sessionCount(user.id)).toBe(before + 1);
  });
});

describe('verifyMfa', () => {
  it('with the right TOTP code gives tokens at aal2 with amr pwd, otp, mfa, and one new session', async () => {
    const user = await mfaUser();
    const ticket = await ticketFor(user.email);
    const before = await sessionCount(user.id);

    const tokens = tokensOf(await verifyMfa(app, ticket, { code: nextTotpCode(app, user.secret) }));
    expect(tokens.refreshToken).toEqual(expect.any(String));
    expect(tokens.user.id).toBe(user.id);
    expect(claimsOf(tokens.accessToken)).toMatchObject({ acr: 'aal2', amr: ['pwd', 'otp', 'mfa'] });
    const assurance = await app.gql('{ assurance { level methods } }', {}, { token: tokens.accessToken });
    expect(assurance.data!.assurance).toEqual({ level: 2, methods: ['pwd', 'otp', 'mfa'] });
    expect(await sessionCount(user.id)).toBe(before + 1);
  });

  it('with a recovery code (upper case, without its dash) works once, and recoveryCodesLeft goes down', async () => {
    const user = await mfaUser();
    const recovery = user.recoveryCodes[0]!;

    const typed = recovery.toUpperCase().replace('-', '');
    const tokens = tokensOf(await verifyMfa(app, await ticketFor(user.email), { recoveryCode: typed }));
    expect(claimsOf(tokens.accessToken)).toMatchObject({ acr: 'aal2', amr: ['pwd', 'otp', 'mfa'] });
    expect(await recoveryCodesLeft(tokens.accessToken)).toBe(9);

    expect(errorCode(await verifyMfa(app, await ticketFor(user.email), { recoveryCode: recovery }))).toBe(
      'INVALID_OTP',
    );
    expect(errorCode(await verifyMfa(app, await ticketFor(user.email), { recoveryCode: typed }))).toBe('INVALID_OTP');

    const again = tokensOf(await verifyMfa(app, await ticketFor(user.email), { recoveryCode: user.recoveryCodes[1]! }));
    expect(await recoveryCodesLeft(again.accessToken)).toBe(8);
  });

  it('a ticket is single use: after a success it is UNAUTHENTICATED', async () => {
    const user = await mfaUser();
    const ticket = await ticketFor(user.email);
    tokensOf(await verifyMfa(app, ticket, { code: nextTotpCode(app, user.secret) }));

    expect(errorCode(await verifyMfa(app, ticket, { code: nextTotpCode(app, user.secret) }))).toBe('UNAUTHENTICATED');
    expect(errorCode(await verifyMfa(app, ticket, { recoveryCode: user.recoveryCodes[0]! }))).toBe('UNAUTHENTICATED');
  });

  it('a ticket lives 5 minutes: still good at 299 s, UNAUTHENTICATED at 301 s', async () => {
    const user = await mfaUser();
    const early = await ticketFor(user.email);
    const late = await ticketFor(user.email);

    app.clock.advance(299);
    tokensOf(await verifyMfa(app, early, { code: totpCode(user.secret, now()) }));
    app.clock.advance(2);
    // A recovery code is right whatever the time: only the expiry can refuse it.
    expect(errorCode(await verifyMfa(app, late, { recoveryCode: user.recoveryCodes[0]! }))).toBe('UNAUTHENTICATED');
    expect(
      tokensOf(await verifyMfa(app, await ticketFor(user.email), { recoveryCode: user.recoveryCodes[0]! })),
    ).toBeTruthy();
  });

  it('a forged or random ticket is UNAUTHENTICATED, and spends nothing', async () => {
    const user = await mfaUser();
    const real = await ticketFor(user.email);
    const code = nextTotpCode(app, user.secret);
    const flipped = real.slice(0, -1) + (real.endsWith('A') ? 'B' : 'A');

    for (const forged of [randomBytes(32).toString('base64url'), flipped, '', 'x'.repeat(500)]) {
      expect(errorCode(await verifyMfa(app, forged, { code }))).toBe('UNAUTHENTICATED');
    }
    tokensOf(await verifyMfa(app, real, { code }));
  });

  it('BAD_USER_INPUT unless exactly one of code, recoveryCode and passkey is given; the ticket stays good', async () => {
    const user = await mfaUser();
    const ticket = await ticketFor(user.email);
    const code = nextTotpCode(app, user.secret);
    const recoveryCode = user.recoveryCodes[0]!;

    expect(errorCode(await verifyMfa(app, ticket, {}))).toBe('BAD_USER_INPUT');
    expect(errorCode(await verifyMfa(app, ticket, { code, recoveryCode }))).toBe('BAD_USER_INPUT');
    expect(errorCode(await verifyMfa(app, ticket, { code, passkey: { id: 'x' } }))).toBe('BAD_USER_INPUT');
    expect(errorCode(await verifyMfa(app, ticket, { recoveryCode, passkey: { id: 'x' } }))).toBe('BAD_USER_INPUT');

    tokensOf(await verifyMfa(app, ticket, { code }));
  });
});

describe('the attempt budget', () => {
  it('5 wrong codes on one ticket are INVALID_OTP; the 6th try is RATE_LIMITED even with the right code', async () => {
    const user = await mfaUser();
    const ticket = await ticketFor(user.email);
    app.clock.advance(30);

    for (let i = 0; i < 5; i += 1) {
      expect(errorCode(await verifyMfa(app, ticket, { code: wrongCode(user.secret) }))).toBe('INVALID_OTP');
    }
    const right = totpCode(user.secret, now());
    expect(errorCode(await verifyMfa(app, ticket, { code: right }))).toBe('RATE_LIMITED');
    expect(errorCode(await verifyMfa(app, ticket, { recoveryCode: user.recoveryCodes[0]! }))).toBe('RATE_LIMITED');

    // Five failures are within the user's hourly budget: a new ticket takes the same code.
    tokensOf(await verifyMfa(app, await ticketFor(user.email), { code: right }));
  });

  it('10 wrong for one user within an hour: RATE_LIMITED on a fresh ticket even with the right code, until the hour is past; others unaffected', async () => {
    const user = await mfaUser();
    const bystander = await mfaUser();
    app.clock.advance(30);

    for (let t = 0; t < 2; t += 1) {
      const ticket = await ticketFor(user.email);
      for (let i = 0; i < 5; i += 1) {
        expect(errorCode(await verifyMfa(app, ticket, { code: wrongCode(user.secret) }))).toBe('INVALID_OTP');
      }
    }
    const limited = await verifyMfa(app, await ticketFor(user.email), { code: totpCode(user.secret, now()) });
    expect(errorCode(limited)).toBe('RATE_LIMITED');
    expect(limited.errors![0]!.extensions!.retryAfter).toBeGreaterThan(0);
    expect(errorCode(await verifyMfa(app, await ticketFor(user.email), { recoveryCode: user.recoveryCodes[0]! }))).toBe(
      'RATE_LIMITED',
    );

    // Another user's budget is theirs: a wrong try is only INVALID_OTP, the right code signs in.
    const other = await ticketFor(bystander.email);
    expect(errorCode(await verifyMfa(app, other, { code: wrongCode(bystander.secret) }))).toBe('INVALID_OTP');
    tokensOf(await verifyMfa(app, other, { code: totpCode(bystander.secret, now()) }));

    app.clock.advance(3600);
    const after = tokensOf(await verifyMfa(app, await ticketFor(user.email), { code: totpCode(user.secret, now()) }));
    expect(claimsOf(after.accessToken)).toMatchObject({ acr: 'aal2' });
  });
});

describe('two tries at once on one ticket', () => {
  it('a TOTP code and a recovery code sent together make exactly one session', async () => {
    const user = await mfaUser();
    const ticket = await ticketFor(user.email);
    const before = await sessionCount(user.id);

    const results = await Promise.all([
      verifyMfa(app, ticket, { code: nextTotpCode(app, user.secret) }),
      verifyMfa(app, ticket, { recoveryCode: user.recoveryCodes[0]! }),
    ]);
    expect(results.filter((r) => r.data?.verifyMfa)).toHaveLength(1);
    const refused = results.filter((r) => !r.data?.verifyMfa);
    expect(refused).toHaveLength(1);
    expect(['UNAUTHENTICATED', 'INVALID_OTP']).toContain(errorCode(refused[0]!));
    expect(await sessionCount(user.id)).toBe(before + 1);
  });

  it('the same TOTP code sent twice together makes exactly one session', async () => {
    const user = await mfaUser();
    const ticket = await ticketFor(user.email);
    const code = nextTotpCode(app, user.secret);
    const before = await sessionCount(user.id);

    const results = await Promise.all([verifyMfa(app, ticket, { code }), verifyMfa(app, ticket, { code })]);
    expect(results.filter((r) => r.data?.verifyMfa)).toHaveLength(1);
    expect(['UNAUTHENTICATED', 'INVALID_OTP']).toContain(errorCode(results.find((r) => !r.data?.verifyMfa)!));
    expect(await sessionCount(user.id)).toBe(before + 1);
  });
});

describe('the audit trail', () => {
  it('records MFA_CHALLENGE_FAILED for a wrong factor, then MFA_CHALLENGE_PASSED and LOGIN_SUCCEEDED only after verifyMfa', async () => {
    const user = await mfaUser();
    const count = async (type: string) =>
      (await auditTypes(user.first.accessToken)).filter((e) => e.type === type).length;
    const loginsBefore = await count('LOGIN_SUCCEEDED');

    const ticket = await ticketFor(user.email);
    expect(await count('LOGIN_SUCCEEDED')).toBe(loginsBefore);

    app.clock.advance(30);
    expect(errorCode(await verifyMfa(app, ticket, { code: wrongCode(user.secret) }))).toBe('INVALID_OTP');
    expect(await count('MFA_CHALLENGE_FAILED')).toBe(1);
    expect(await count('MFA_CHALLENGE_PASSED')).toBe(0);
    expect(await count('LOGIN_SUCCEEDED')).toBe(loginsBefore);

    tokensOf(await verifyMfa(app, ticket, { code: totpCode(user.secret, now()) }));
    const events = await auditTypes(user.first.accessToken);
    const passed = events.filter((e) => e.type === 'MFA_CHALLENGE_PASSED');
    expect(passed).toHaveLength(1);
    expect(passed[0]!.detail).toBe(`TOTP factor ${user.factorId}`);
    expect(events.filter((e) => e.type === 'LOGIN_SUCCEEDED')).toHaveLength(loginsBefore + 1);
    expect(events.filter((e) => e.type === 'MFA_CHALLENGE_FAILED')).toHaveLength(1);
  });
});

describe('resetUserMfa', () => {
  const RESET =
    'mutation($id: ID!) { resetUserMfa(userId: $id) { id mfaEnabled mfaFactors { id } recoveryCodesLeft } }';

  it("an admin signed in recently removes the user's factors and codes: sign-in gives tokens, a notice, an audit event by the admin", async () => {
    const user = await mfaUser();
    const second = await enableTotp(app, user.first);
    const adminUser = await createUser(app, { roles: ['ADMIN'] });
    const admin = await signIn(app, adminUser);
    expect(await factorRows(user.id)).toEqual({ factors: 2, codes: 10 });

    const res = await app.gql(RESET, { id: user.id }, { token: admin.accessToken });
    expect(res.errors).toBeUndefined();
    expect(res.data!.resetUserMfa).toEqual({ id: user.id, mfaEnabled: false, mfaFactors: [], recoveryCodesLeft: 0 });
    expect(await factorRows(user.id)).toEqual({ factors: 0, codes: 0 });

    const signedIn = await login(app, user.email);
    expect(signedIn.errors).toBeUndefined();
    expect(signedIn.data!.login.accessToken).toEqual(expect.any(String));
    await app.smtp.waitFor(user.email, (m) => m.subject === REMOVED_SUBJECT);
    const removed = (await auditTypes(signedIn.data!.login.accessToken)).filter((e) => e.type === 'MFA_FACTOR_REMOVED');
    expect(removed.map((e) => e.actorId)).toEqual([adminUser.id, adminUser.id]);
    expect(removed.map((e) => e.detail).join(' ')).toContain(user.factorId);
    expect(removed.map((e) => e.detail).join(' ')).toContain(second.factorId);
  });

  it('an admin whose sign-in is older than 300 s gets STEP_UP_REQUIRED, and nothing changes', async () => {
    const user = await mfaUser();
    const admin = await signIn(app, await createUser(app, { roles: ['ADMIN'] }));
    app.clock.advance(301);

    const res = await app.gql(RESET, { id: user.id }, { token: admin.accessToken });
    expect(errorCode(res)).toBe('STEP_UP_REQUIRED');
    expect(res.errors![0]!.extensions).toMatchObject({ level: 2, maxAge: 300 });
    expect(await factorRows(user.id)).toEqual({ factors: 1, codes: 10 });
    expect(errorCode(await login(app, user.email))).toBe('MFA_REQUIRED');
  });

  it('a plain user is FORBIDDEN', async () => {
    const user = await mfaUser();
    const other = await signUp(app);
    expect(errorCode(await app.gql(RESET, { id: user.id }, { token: other.accessToken }))).toBe('FORBIDDEN');
    expect(await factorRows(user.id)).toEqual({ factors: 1, codes: 10 });
  });
});
