// TOTP second factors through the HTTP API: enrolment (otpauth URI, secret, QR code), confirmation and recovery
// codes, RFC 6238 codes and their ±1 step window, replay refusal, what turning MFA on and off does (sessions, notice
// emails, audit), step-up for removal, nothing secret in clear in the database, and who may read a user's factors.
import { Secret, TOTP } from 'otpauth';
import { createUser, signIn } from './helpers/factories';
import { AUTH_FIELDS, login, me, PASSWORD, refresh, signUp, type Tokens } from './helpers/flows';
import { base32Decode, enableTotp, mfaTicketOf, nextTotpCode, totpCode, verifyMfa } from './helpers/mfa';
import { TEST_DATA_KEYS } from './helpers/server-env';
import { errorCode, startTestApp, type TestApp } from './helpers/test-server';
import { claimsOf } from './helpers/client';

const APP_NAME = 'Acme Auth';
const DATA_KEY_ID = 'test'; // TEST_DATA_KEYS seals with the key of this id

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp({ env: { APP_NAME } });
  expect(TEST_DATA_KEYS.startsWith(`${DATA_KEY_ID}:`)).toBe(true);
});
afterAll(async () => {
  await app?.stop();
});

const ADDED_SUBJECT = `${APP_NAME}: A second factor was added to your account`;
const REMOVED_SUBJECT = `${APP_NAME}: A second factor was removed from your account`;
const RECOVERY_CODE = /^[a-z2-7]{5}-[a-z2-7]{5}$/;

const now = () => app.clock.now().getTime();

interface MfaState {
  mfaEnabled: boolean;
  mfaFactors: Array<{ id: string; type: string; name: string | null }>;
  recoveryCodesLeft: number;
}

async function mfaStateOf(token: string): Promise<MfaState> {
  const res = await app.gql<{ me: MfaState }>(
    '{ me { mfaEnabled mfaFactors { id type name } recoveryCodesLeft } }',
    {},
    { token },
  );
  if (!res.data?.me) throw new Error(JSON.stringify(res.errors));
  return res.data.me;
}

function enroll(token: string, name: string | null = null) {
  return app.gql<{ enrollTotp: { factorId: string; otpauthUri: string; secret: string; qrCodeSvg: string } }>(
    'mutation($n: String) { enrollTotp(name: $n) { factorId otpauthUri secret qrCodeSvg } }',
    { n: name },
    { token },
  );
}

function confirm(token: string, factorId: string, code: string) {
  return app.gql<{ confirmTotp: string[] }>(
    'mutation($f: ID!, $c: String!) { confirmTotp(factorId: $f, code: $c) }',
    {
      f: factorId,
      c: code,
    },
    { token },
  );
}

function removeFactor(token: string, id: string) {
  return app.gql<{ removeMfaFactor: boolean }>('mutation($id: ID!) { removeMfaFactor(id: $id) }', { id }, { token });
}

async function auditTrail(token: string): Promise<Array<{ type: string; actorId: string | null; detail: string }>> {
  const res = await app.gql<{
    myAuditEvents: { edges: Array<{ node: { type: string; actorId: string; detail: string } }> };
  }>('{ myAuditEvents(first: 100) { edges { node { type actorId detail } } } }', {}, { token });
  if (!res.data) throw new Error(JSON.stringify(res.errors));
  return res.data.myAuditEvents.edges.map((e) => e.node);
}

/** A password sign-in answered MFA_REQUIRED: its ticket. */
async function ticketFor(email: string): Promise<string> {
  return mfaTicketOf(await login(app, email));
}

/** A signed-in user with TOTP on, and a level-2 session from password + TOTP. */
async function userWithTotp() {
  const first = await signUp(app);
  const totp = await enableTotp(app, first);
  const res = await verifyMfa(app, await ticketFor(first.user.email), { code: nextTotpCode(app, totp.secret) });
  if (!res.data?.verifyMfa) throw new Error(JSON.stringify(res.errors));
  return { email: first.user.email, id: first.user.id, first, level2: res.data.verifyMfa, ...totp };
}

describe('enrollTotp', () => {
  it('returns an otpauth URI (issuer APP_NAME, SHA1, 6 digits, 30 s, labelled with the email), the base32 secret and an SVG QR code', async () => {
    const user = await signUp(app);
    const res = await enroll(user.accessToken, 'Phone');
    expect(res.errors).toBeUndefined();
    const { factorId, otpauthUri, secret, qrCodeSvg } = res.data!.enrollTotp;

    expect(factorId).toMatch(/^[0-9a-f-]{36}$/);
    expect(secret).toMatch(/^[A-Z2-7]+=*$/);
    expect(base32Decode(secret).length).toBeGreaterThanOrEqual(16);
    const uri = new URL(otpauthUri);
    expect(uri.protocol).toBe('otpauth:');
    expect(uri.host).toBe('totp');
    expect(decodeURIComponent(uri.pathname.slice(1))).toBe(`${APP_NAME}:${user.user.email}`);
    expect(uri.searchParams.get('issuer')).toBe(APP_NAME);
    expect(uri.searchParams.get('secret')).toBe(secret);
    expect(uri.searchParams.get('algorithm')).toBe('SHA1');
    expect(uri.searchParams.get('digits')).toBe('6');
    expect(uri.searchParams.get('period')).toBe('30');
    expect(qrCodeSvg.trimStart()).toMatch(/^(<svg|<\?xml)/);
    expect(qrCodeSvg).toContain('</svg>');
  });

  it('does not count before confirmTotp: sign-in still gives tokens and mfaEnabled stays false', async () => {
    const user = await signUp(app);
    expect(errorCode(await enroll(user.accessToken))).toBeUndefined();

    const signedIn = await login(app, user.user.email);
    expect(signedIn.errors).toBeUndefined();
    expect(signedIn.data!.login.accessToken).toEqual(expect.any(String));
    expect(await mfaStateOf(signedIn.data!.login.accessToken)).toEqual({
      mfaEnabled: false,
      mfaFactors: [],
      recoveryCodesLeft: 0,
    });
  });
});

describe('confirmTotp', () => {
  it('refuses a wrong code with INVALID_OTP and leaves MFA off', async () => {
    const user = await signUp(app);
    const { factorId, secret } = (await enroll(user.accessToken)).data!.enrollTotp;
    const right = totpCode(secret, now());
    const wrong = right.slice(0, 5) + String((Number(right[5]) + 1) % 10);

    expect(errorCode(await confirm(user.accessToken, factorId, wrong))).toBe('INVALID_OTP');
    expect((await mfaStateOf(user.accessToken)).mfaEnabled).toBe(false);
    expect((await login(app, user.user.email)).data?.login).toBeTruthy();
  });

  it('accepts the current code: MFA on, 10 distinct recovery codes xxxxx-xxxxx', async () => {
    const user = await signUp(app);
    const { factorId, secret } = (await enroll(user.accessToken, 'Phone')).data!.enrollTotp;

    const res = await confirm(user.accessToken, factorId, totpCode(secret, now()));
    expect(res.errors).toBeUndefined();
    const codes = res.data!.confirmTotp;
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);
    for (const code of codes) expect(code).toMatch(RECOVERY_CODE);

    expect(await mfaStateOf(user.accessToken)).toEqual({
      mfaEnabled: true,
      mfaFactors: [{ id: factorId, type: 'TOTP', name: 'Phone' }],
      recoveryCodesLeft: 10,
    });
  });

  it("a second TOTP factor's confirmation returns no recovery codes and keeps the first ones", async () => {
    const user = await signUp(app);
    const first = await enableTotp(app, user, 'Phone');
    expect(first.recoveryCodes).toHaveLength(10);

    const second = await enableTotp(app, user, 'Tablet');
    expect(second.recoveryCodes).toEqual([]);
    const state = await mfaStateOf(user.accessToken);
    expect(state.mfaFactors.map((f) => f.id)).toEqual([first.factorId, second.factorId]);
    expect(state.recoveryCodesLeft).toBe(10);
  });
});

describe('RFC 6238 codes', () => {
  // RFC 6238 Appendix B, SHA-1: the ASCII secret "12345678901234567890".
  const rfcBase32 = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';

  it("the tests' TOTP helper reproduces the RFC 6238 Appendix B vectors and otpauth's codes", () => {
    expect(base32Decode(rfcBase32).toString()).toBe('12345678901234567890');
    expect(totpCode(rfcBase32, 59_000, 8)).toBe('94287082');
    expect(totpCode(rfcBase32, 59_000)).toBe('287082');
    expect(totpCode(rfcBase32, 1_111_111_109_000, 8)).toBe('07081804');
    expect(totpCode(rfcBase32, 1_234_567_890_000, 8)).toBe('89005924');
    expect(totpCode(rfcBase32, 20_000_000_000_000, 8)).toBe('65353130');

    const secret = new Secret({ size: 20 }).base32;
    const reference = new TOTP({ secret: Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30 });
    for (const at of [0, 29_999, 30_000, now(), now() + 90_000]) {
      expect(totpCode(secret, at)).toBe(reference.generate({ timestamp: at }));
    }
  });

  it("the server accepts the helper's codes, for confirmTotp and for a sign-in", async () => {
    const user = await signUp(app);
    const { factorId, secret } = (await enroll(user.accessToken)).data!.enrollTotp;
    expect((await confirm(user.accessToken, factorId, totpCode(secret, now()))).data?.confirmTotp).toHaveLength(10);

    const res = await verifyMfa(app, await ticketFor(user.user.email), { code: nextTotpCode(app, secret) });
    expect(res.errors).toBeUndefined();
    expect(res.data!.verifyMfa.accessToken).toEqual(expect.any(String));
  });
});

describe('the time window', () => {
  it('accepts the code of the previous step and of the next step', async () => {
    const user = await userWithTotp();
    app.clock.advance(120);

    const previous = await verifyMfa(app, await ticketFor(user.email), { code: totpCode(user.secret, now() - 30_000) });
    expect(previous.errors).toBeUndefined();
    expect(previous.data!.verifyMfa.accessToken).toEqual(expect.any(String));

    const next = await verifyMfa(app, await ticketFor(user.email), { code: totpCode(user.secret, now() + 30_000) });
    expect(next.errors).toBeUndefined();
    expect(next.data!.verifyMfa.accessToken).toEqual(expect.any(String));
  });

  it('refuses a code two steps away, before or after', async () => {
    const user = await userWithTotp();
    app.clock.advance(120);
    const ticket = await ticketFor(user.email);

    expect(errorCode(await verifyMfa(app, ticket, { code: totpCode(user.secret, now() - 60_000) }))).toBe(
      'INVALID_OTP',
    );
    expect(errorCode(await verifyMfa(app, ticket, { code: totpCode(user.secret, now() + 60_000) }))).toBe(
      'INVALID_OTP',
    );
    // The window did not move: the current code still works on the same ticket.
    expect((await verifyMfa(app, ticket, { code: totpCode(user.secret, now()) })).data?.verifyMfa).toBeTruthy();
  });

  it('refuses a code once accepted when it is replayed (new ticket, same code, same time)', async () => {
    const user = await userWithTotp();
    const code = nextTotpCode(app, user.secret);
    expect((await verifyMfa(app, await ticketFor(user.email), { code })).data?.verifyMfa).toBeTruthy();

    expect(errorCode(await verifyMfa(app, await ticketFor(user.email), { code }))).toBe('INVALID_OTP');
  });

  it('refuses an older step after a newer one was accepted', async () => {
    const user = await userWithTotp();
    app.clock.advance(120);
    const newer = totpCode(user.secret, now() + 30_000);
    expect((await verifyMfa(app, await ticketFor(user.email), { code: newer })).data?.verifyMfa).toBeTruthy();

    const ticket = await ticketFor(user.email);
    expect(errorCode(await verifyMfa(app, ticket, { code: totpCode(user.secret, now()) }))).toBe('INVALID_OTP');
    expect(errorCode(await verifyMfa(app, ticket, { code: totpCode(user.secret, now() - 30_000) }))).toBe(
      'INVALID_OTP',
    );
  });
});

describe('turning MFA on', () => {
  it("ends the user's other sessions, not the one that confirmed", async () => {
    const confirming = await signUp(app);
    const other: Tokens = (await login(app, confirming.user.email)).data!.login;
    expect(errorCode(await me(app, other.accessToken))).toBeUndefined();

    await enableTotp(app, confirming);

    expect(errorCode(await me(app, other.accessToken))).toBe('UNAUTHENTICATED');
    expect(errorCode(await refresh(app, other.refreshToken))).toBe('UNAUTHENTICATED');
    expect(errorCode(await me(app, confirming.accessToken))).toBeUndefined();
    expect((await refresh(app, confirming.refreshToken)).data?.refresh.accessToken).toEqual(expect.any(String));
    const revoked = await app.sql<{ revoked_reason: string | null }>(
      'select revoked_reason from sessions where user_id = ? and revoked_at is not null',
      [confirming.user.id],
    );
    expect(revoked.map((r) => r.revoked_reason)).toEqual(['mfa_enabled']);
  });

  it('sends a notice email and audits MFA_FACTOR_ADDED', async () => {
    const user = await signUp(app);
    const { factorId } = await enableTotp(app, user);

    const mail = await app.smtp.waitFor(user.user.email, (m) => m.subject === ADDED_SUBJECT);
    expect(mail.text.length).toBeGreaterThan(0);
    expect(await auditTrail(user.accessToken)).toContainEqual({
      type: 'MFA_FACTOR_ADDED',
      actorId: user.user.id,
      detail: `TOTP factor ${factorId}`,
    });
  });
});

describe('removeMfaFactor', () => {
  it('removing the last factor turns MFA off: sign-in gives tokens, no recovery codes left, a notice, an audit event', async () => {
    const user = await userWithTotp();
    const res = await removeFactor(user.level2.accessToken, user.factorId);
    expect(res.errors).toBeUndefined();
    expect(res.data!.removeMfaFactor).toBe(true);

    const signedIn = await login(app, user.email);
    expect(signedIn.errors).toBeUndefined();
    expect(await mfaStateOf(signedIn.data!.login.accessToken)).toEqual({
      mfaEnabled: false,
      mfaFactors: [],
      recoveryCodesLeft: 0,
    });
    await app.smtp.waitFor(user.email, (m) => m.subject === REMOVED_SUBJECT);
    expect(await auditTrail(signedIn.data!.login.accessToken)).toContainEqual({
      type: 'MFA_FACTOR_REMOVED',
      actorId: user.id,
      detail: `TOTP factor ${user.factorId}`,
    });
  });

  it('removing one of two factors keeps MFA on with the other', async () => {
    const user = await userWithTotp();
    const second = await enableTotp(app, user.level2);
    expect((await removeFactor(user.level2.accessToken, user.factorId)).data?.removeMfaFactor).toBe(true);

    const state = await mfaStateOf(user.level2.accessToken);
    expect(state.mfaFactors.map((f) => f.id)).toEqual([second.factorId]);
    expect(state.mfaEnabled).toBe(true);
    expect(state.recoveryCodesLeft).toBe(10);
    expect(errorCode(await login(app, user.email))).toBe('MFA_REQUIRED');
  });

  it('needs level 2: a session of an MFA user reauthenticated with a password alone gets STEP_UP_REQUIRED', async () => {
    const user = await userWithTotp();
    const reauth = await app.gql<{ reauthenticate: Tokens }>(
      `mutation($p: String) { reauthenticate(password: $p) { ${AUTH_FIELDS} } }`,
      { p: PASSWORD },
      { token: user.level2.accessToken },
    );
    const levelOne = reauth.data!.reauthenticate.accessToken;
    expect(claimsOf(levelOne)).toMatchObject({ acr: 'aal1', amr: ['pwd'] });

    const res = await removeFactor(levelOne, user.factorId);
    expect(errorCode(res)).toBe('STEP_UP_REQUIRED');
    expect(res.errors![0]!.extensions).toMatchObject({ level: 2, maxAge: 300 });
    expect((await mfaStateOf(levelOne)).mfaFactors.map((f) => f.id)).toEqual([user.factorId]);
  });

  it('needs a recent level 2: the same session 301 s later gets STEP_UP_REQUIRED', async () => {
    const user = await userWithTotp();
    app.clock.advance(301);

    const res = await removeFactor(user.level2.accessToken, user.factorId);
    expect(errorCode(res)).toBe('STEP_UP_REQUIRED');
    expect((await mfaStateOf(user.level2.accessToken)).mfaEnabled).toBe(true);
  });
});

describe('at rest', () => {
  it('the database holds no TOTP secret, recovery code or MFA ticket in clear; the secret is sealed', async () => {
    const user = await signUp(app);
    const { secret, recoveryCodes } = await enableTotp(app, user);
    const ticket = await ticketFor(user.user.email);

    const factors = await app.sql<{ secret: string }>('select * from mfa_factors where user_id = ?', [user.user.id]);
    const codes = await app.sql<{ code_hash: string }>('select * from recovery_codes where user_id = ?', [
      user.user.id,
    ]);
    const tickets = await app.sql<{ ticket_hash: string }>('select * from mfa_tickets where user_id = ?', [
      user.user.id,
    ]);
    expect(factors).toHaveLength(1);
    expect(codes).toHaveLength(10);
    expect(tickets).toHaveLength(1);

    const secretBytes = base32Decode(secret);
    const forms = [
      secret,
      secret.toLowerCase(),
      secretBytes.toString('hex'),
      secretBytes.toString('base64'),
      secretBytes.toString('base64url'),
    ];
    expect(factors[0]!.secret).toMatch(new RegExp(`^${DATA_KEY_ID}:\\S+$`));
    const factorRow = JSON.stringify(factors);
    for (const form of forms) expect(factorRow).not.toContain(form);

    const codeRows = JSON.stringify(codes).toLowerCase();
    for (const code of recoveryCodes) {
      expect(codeRows).not.toContain(code);
      expect(codeRows).not.toContain(code.replace('-', ''));
    }
    expect(JSON.stringify(tickets)).not.toContain(ticket);
    expect(tickets[0]!.ticket_hash).not.toBe(ticket);
  });
});

describe("reading a user's factors", () => {
  const USER_FIELDS = 'id mfaEnabled mfaFactors { id type } recoveryCodesLeft';

  it("SUPPORT (users:read) reads another user's factors and recovery codes left", async () => {
    const target = await userWithTotp();
    const support = await signIn(app, await createUser(app, { roles: ['SUPPORT'] }));

    const res = await app.gql(
      'query($id: ID!) { user(id: $id) { ' + USER_FIELDS + ' } }',
      { id: target.id },
      {
        token: support.accessToken,
      },
    );
    expect(res.errors).toBeUndefined();
    expect(res.data!.user).toEqual({
      id: target.id,
      mfaEnabled: true,
      mfaFactors: [{ id: target.factorId, type: 'TOTP' }],
      recoveryCodesLeft: 10,
    });
  });

  it('a plain USER cannot reach user(id) at all', async () => {
    const target = await userWithTotp();
    const other = await signUp(app);
    const res = await app.gql(
      'query($id: ID!) { user(id: $id) { ' + USER_FIELDS + ' } }',
      { id: target.id },
      {
        token: other.accessToken,
      },
    );
    expect(errorCode(res)).toBe('FORBIDDEN');
    expect(JSON.stringify(res.data ?? null)).not.toContain(target.factorId);
  });

  it("a sign-in payload's user answers its own factors without a token", async () => {
    const user = await userWithTotp();
    const ticket = await ticketFor(user.email);
    const res = await app.gql(
      `mutation($t: String!, $r: String) {
         verifyMfa(ticket: $t, recoveryCode: $r) { accessToken user { mfaEnabled mfaFactors { type } recoveryCodesLeft } } }`,
      { t: ticket, r: user.recoveryCodes[0] },
    );
    expect(res.errors).toBeUndefined();
    expect(res.data!.verifyMfa.user).toEqual({
      mfaEnabled: true,
      mfaFactors: [{ type: 'TOTP' }],
      recoveryCodesLeft: 9,
    });
  });
});
