// Step-up through HTTP: operations marked @requiresAssurance need a recent authentication (auth_time within
// STEP_UP_MAX_AGE, 300 s by default) and, at level 2, a second factor when the user has MFA on; otherwise
// STEP_UP_REQUIRED { maxAge, level }. reauthenticate proves the user again inside the same session: a new access token
// authenticated now, no new session, no new refresh token — the one kept refreshes into the new authentication.
// Time is the app's fake clock; TOTP codes are computed here with otpauth, independently of the server.
import { Secret, TOTP } from 'otpauth';
import { AUTH_FIELDS, login, PASSWORD, refresh, signUp, uniqueEmail, type Tokens } from './helpers/flows';
import { errorCode, type GraphQLResponse, ok, startTestApp, type TestApp } from './helpers/test-server';
import { claimsOf } from './helpers/client';

let app: TestApp;

interface Claims {
  sub: string;
  sid: string;
  acr: string;
  amr: string[];
  auth_time: number;
  iat: number;
}

const tokenClaims = (accessToken: string) => claimsOf<Claims>(accessToken);

const nowSeconds = () => Math.floor(app.clock.now().getTime() / 1000);

/** The code an authenticator app shows for `secret` at the app's clock, `steps` time steps away. */
function totpCode(secret: string, steps = 0): string {
  const totp = new TOTP({ secret: Secret.fromBase32(secret) });
  return totp.generate({ timestamp: app.clock.now().getTime() + steps * 30_000 });
}

/** A 6-digit code that none of the steps the server accepts now (±1) shows: certainly wrong. */
function wrongCode(secret: string): string {
  const live = new Set([-1, 0, 1].map((s) => totpCode(secret, s)));
  for (let n = 0; ; n += 1) {
    const candidate = String(n).padStart(6, '0');
    if (!live.has(candidate)) return candidate;
  }
}

function expectStepUp(res: GraphQLResponse, maxAge: number, level: number): void {
  expect(errorCode(res)).toBe('STEP_UP_REQUIRED');
  expect(res.errors![0]!.extensions).toMatchObject({ maxAge, level });
  expect(res.data ?? null).toBeNull();
}

const enrollTotp = (token: string) =>
  app.gql<{ enrollTotp: { factorId: string; secret: string } }>(
    'mutation { enrollTotp(name: "Phone") { factorId secret } }',
    {},
    { token },
  );

const removeMfaFactor = (token: string, id: string) =>
  app.gql<{ removeMfaFactor: boolean }>('mutation($id: ID!) { removeMfaFactor(id: $id) }', { id }, { token });

function reauthenticate(
  token: string,
  proof: { password?: string; code?: string; recoveryCode?: string; passkey?: unknown },
) {
  return app.gql<{ reauthenticate: Tokens & { refreshToken: string | null } }>(
    `mutation($p: String, $c: String, $r: String, $k: JSON) {
       reauthenticate(password: $p, code: $c, recoveryCode: $r, passkey: $k) { ${AUTH_FIELDS} } }`,
    { p: proof.password, c: proof.code, r: proof.recoveryCode, k: proof.passkey },
    { token },
  );
}

function verifyMfa(ticket: string, code: string) {
  return app.gql<{ verifyMfa: Tokens }>(
    `mutation($t: String!, $c: String) { verifyMfa(ticket: $t, code: $c) { ${AUTH_FIELDS} } }`,
    { t: ticket, c: code },
  );
}

/** Every session row of the user, ended ones too. */
async function sessionRows(userId: string): Promise<number> {
  const rows = await app.sql<{ n: number }>('select count(*)::int as n from sessions where user_id = ?', [userId]);
  return rows[0]!.n;
}

async function sessionsSeen(token: string): Promise<Array<{ id: string; current: boolean }>> {
  return ok(
    await app.gql<{ sessions: Array<{ id: string; current: boolean }> }>('{ sessions { id current } }', {}, { token }),
  ).sessions;
}

/** A verified account signed in with its password: amr ["pwd"], authenticated now. */
async function passwordUser(): Promise<{ email: string; id: string; tokens: Tokens }> {
  const email = uniqueEmail('step-up');
  const { user } = await signUp(app, email);
  const tokens = ok(await login(app, email)).login;
  return { email, id: user.id, tokens };
}

/** The ticket of a password sign-in that answered MFA_REQUIRED. */
async function mfaTicket(email: string): Promise<string> {
  const res = await login(app, email);
  expect(errorCode(res)).toBe('MFA_REQUIRED');
  return res.errors![0]!.extensions!.mfaTicket as string;
}

/**
 * A user with TOTP confirmed (from their sign-up session), then signed in with password + TOTP: `tokens` is that
 * aal2 session, authenticated now; the TOTP step of its sign-in is the newest the server has accepted.
 */
async function mfaUser() {
  const email = uniqueEmail('step-up-mfa');
  const signedUp = await signUp(app, email);
  const { factorId, secret } = ok(await enrollTotp(signedUp.accessToken)).enrollTotp;
  const recoveryCodes = ok(
    await app.gql<{ confirmTotp: string[] }>(
      'mutation($f: ID!, $c: String!) { confirmTotp(factorId: $f, code: $c) }',
      { f: factorId, c: totpCode(secret) },
      { token: signedUp.accessToken },
    ),
  ).confirmTotp;
  expect(recoveryCodes).toHaveLength(10);
  const ticket = await mfaTicket(email);
  app.clock.advance(30); // a time step after the one confirmTotp used
  const signInCode = totpCode(secret);
  const tokens = ok(await verifyMfa(ticket, signInCode)).verifyMfa;
  expect(tokenClaims(tokens.accessToken)).toMatchObject({ acr: 'aal2', amr: ['pwd', 'otp', 'mfa'] });
  return { email, id: signedUp.user.id, factorId, secret, recoveryCodes, signInCode, tokens };
}

describe('with STEP_UP_MAX_AGE at its default, 300 s', () => {
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(async () => {
    await app?.stop();
  });

  describe('level 1 (enrollTotp)', () => {
    it('is allowed within 300 s of the sign-in, then STEP_UP_REQUIRED { maxAge: 300, level: 1 }', async () => {
      const { tokens } = await passwordUser();
      app.clock.advance(299);
      expect(ok(await enrollTotp(tokens.accessToken)).enrollTotp.factorId).toEqual(expect.any(String));
      app.clock.advance(2);
      expectStepUp(await enrollTotp(tokens.accessToken), 300, 1);
    });

    it('reauthenticate(password) returns an access token authenticated now (aal1, ["pwd"]) in the same session, without a refresh token', async () => {
      const user = await passwordUser();
      const old = tokenClaims(user.tokens.accessToken);
      app.clock.advance(301);
      expectStepUp(await enrollTotp(user.tokens.accessToken), 300, 1);
      const rows = await sessionRows(user.id);
      const seen = await sessionsSeen(user.tokens.accessToken);

      const again = ok(await reauthenticate(user.tokens.accessToken, { password: PASSWORD })).reauthenticate;
      expect(again.refreshToken).toBeNull();
      expect(again.user.id).toBe(user.id);
      expect(tokenClaims(again.accessToken)).toMatchObject({
        sub: user.id,
        sid: old.sid,
        acr: 'aal1',
        amr: ['pwd'],
        auth_time: nowSeconds(),
      });
      expect(tokenClaims(again.accessToken).auth_time - old.auth_time).toBe(301);

      expect(ok(await enrollTotp(again.accessToken)).enrollTotp.factorId).toEqual(expect.any(String));
      expect(await sessionRows(user.id)).toBe(rows);
      expect(await sessionsSeen(again.accessToken)).toEqual(seen);
    });

    it('a wrong password: INVALID_CREDENTIALS, and the session stays as old as it was', async () => {
      const user = await passwordUser();
      app.clock.advance(301);
      const res = await reauthenticate(user.tokens.accessToken, { password: 'Not-The-Password-1' });
      expect(errorCode(res)).toBe('INVALID_CREDENTIALS');
      expect(res.data ?? null).toBeNull();
      expectStepUp(await enrollTotp(user.tokens.accessToken), 300, 1);
    });

    it('needs exactly one proof: none or two is BAD_USER_INPUT', async () => {
      const user = await passwordUser();
      const none = await reauthenticate(user.tokens.accessToken, {});
      expect(errorCode(none)).toBe('BAD_USER_INPUT');
      const two = await reauthenticate(user.tokens.accessToken, { password: PASSWORD, code: '123456' });
      expect(errorCode(two)).toBe('BAD_USER_INPUT');
      const alsoTwo = await reauthenticate(user.tokens.accessToken, { code: '123456', recoveryCode: 'abcde-fghij' });
      expect(errorCode(alsoTwo)).toBe('BAD_USER_INPUT');
    });

    it('a step-up lasts 300 s too: 301 s after reauthenticate, STEP_UP_REQUIRED again', async () => {
      const user = await passwordUser();
      app.clock.advance(301);
      const again = ok(await reauthenticate(user.tokens.accessToken, { password: PASSWORD })).reauthenticate;
      app.clock.advance(299);
      expect(errorCode(await enrollTotp(again.accessToken))).toBeUndefined();
      app.clock.advance(2);
      expectStepUp(await enrollTotp(again.accessToken), 300, 1);
    });

    it('the refresh token kept from before reauthenticate refreshes into the new auth_time and amr: the session was updated, not replaced', async () => {
      const email = uniqueEmail('step-up-refresh');
      const signedUp = await signUp(app, email); // an emailed code: amr ["email"]
      expect(tokenClaims(signedUp.accessToken)).toMatchObject({ acr: 'aal1', amr: ['email'] });
      app.clock.advance(400);
      const again = ok(await reauthenticate(signedUp.accessToken, { password: PASSWORD })).reauthenticate;
      const stepUpTime = nowSeconds();
      app.clock.advance(60);

      const refreshed = ok(await refresh(app, signedUp.refreshToken)).refresh;
      expect(tokenClaims(refreshed.accessToken)).toMatchObject({
        sid: tokenClaims(signedUp.accessToken).sid,
        acr: 'aal1',
        amr: ['pwd'],
        auth_time: stepUpTime,
      });
      expect(tokenClaims(refreshed.accessToken).auth_time).toBe(tokenClaims(again.accessToken).auth_time);
      expect(errorCode(await enrollTotp(refreshed.accessToken))).toBeUndefined();
    });
  });

  describe('level 2 (removeMfaFactor), for a user with MFA on', () => {
    it('an aal2 session older than 300 s: STEP_UP_REQUIRED level 2; a password alone is not enough; a TOTP code is', async () => {
      const user = await mfaUser();
      app.clock.advance(301);
      expectStepUp(await removeMfaFactor(user.tokens.accessToken, user.factorId), 300, 2);

      const byPassword = ok(await reauthenticate(user.tokens.accessToken, { password: PASSWORD })).reauthenticate;
      expect(tokenClaims(byPassword.accessToken)).toMatchObject({ acr: 'aal1', amr: ['pwd'], auth_time: nowSeconds() });
      expectStepUp(await removeMfaFactor(byPassword.accessToken, user.factorId), 300, 2);

      const byCode = ok(await reauthenticate(byPassword.accessToken, { code: totpCode(user.secret) })).reauthenticate;
      const claims = tokenClaims(byCode.accessToken);
      expect(claims.amr).toEqual(expect.arrayContaining(['otp', 'mfa']));
      expect(claims).toMatchObject({
        sid: tokenClaims(user.tokens.accessToken).sid,
        acr: 'aal2',
        amr: ['pwd', 'otp', 'mfa'],
        auth_time: nowSeconds(),
      });
      expect(byCode.refreshToken).toBeNull();
      expect(ok(await removeMfaFactor(byCode.accessToken, user.factorId)).removeMfaFactor).toBe(true);
    });

    it('the TOTP code of the sign-in is refused for reauthenticate in the same time step (INVALID_OTP); the next step’s is accepted', async () => {
      const user = await mfaUser();
      const replay = await reauthenticate(user.tokens.accessToken, { code: user.signInCode });
      expect(errorCode(replay)).toBe('INVALID_OTP');
      expect(replay.data ?? null).toBeNull();
      app.clock.advance(30);
      const next = ok(await reauthenticate(user.tokens.accessToken, { code: totpCode(user.secret) })).reauthenticate;
      expect(tokenClaims(next.accessToken)).toMatchObject({ acr: 'aal2', amr: ['pwd', 'otp', 'mfa'] });
    });

    it('a recovery code reauthenticates at level 2 once; the same code again is INVALID_OTP', async () => {
      const user = await mfaUser();
      app.clock.advance(301);
      const [code] = user.recoveryCodes;
      const again = ok(await reauthenticate(user.tokens.accessToken, { recoveryCode: code })).reauthenticate;
      expect(tokenClaims(again.accessToken)).toMatchObject({
        acr: 'aal2',
        amr: ['pwd', 'otp', 'mfa'],
        auth_time: nowSeconds(),
      });
      expect(ok(await removeMfaFactor(again.accessToken, user.factorId)).removeMfaFactor).toBe(true);

      const spent = await reauthenticate(again.accessToken, { recoveryCode: code });
      expect(errorCode(spent)).toBe('INVALID_OTP');
    });

    it('a level-2 step-up lasts 300 s: 301 s after reauthenticate with a code, STEP_UP_REQUIRED level 2 again', async () => {
      const user = await mfaUser();
      app.clock.advance(301);
      const again = ok(await reauthenticate(user.tokens.accessToken, { code: totpCode(user.secret) })).reauthenticate;
      app.clock.advance(301);
      expectStepUp(await removeMfaFactor(again.accessToken, user.factorId), 300, 2);
    });

    it('the refresh token kept from before a TOTP reauthenticate refreshes into aal2 with the new auth_time', async () => {
      const user = await mfaUser();
      app.clock.advance(301);
      const byPassword = ok(await reauthenticate(user.tokens.accessToken, { password: PASSWORD })).reauthenticate;
      const downgraded = ok(await refresh(app, user.tokens.refreshToken)).refresh;
      expect(tokenClaims(downgraded.accessToken)).toMatchObject({ acr: 'aal1', amr: ['pwd'] });

      app.clock.advance(30);
      const byCode = ok(await reauthenticate(byPassword.accessToken, { code: totpCode(user.secret) })).reauthenticate;
      app.clock.advance(30);
      const refreshed = ok(await refresh(app, downgraded.refreshToken)).refresh;
      expect(tokenClaims(refreshed.accessToken)).toMatchObject({
        sid: tokenClaims(user.tokens.accessToken).sid,
        acr: 'aal2',
        amr: ['pwd', 'otp', 'mfa'],
        auth_time: tokenClaims(byCode.accessToken).auth_time,
      });
      expect(ok(await removeMfaFactor(refreshed.accessToken, user.factorId)).removeMfaFactor).toBe(true);
    });

    it('wrong codes in reauthenticate count in the user’s hourly budget with verifyMfa’s: after 10, even the right code is RATE_LIMITED', async () => {
      const user = await mfaUser();
      app.clock.advance(30);
      const wrong = wrongCode(user.secret);
      const first = await mfaTicket(user.email);
      for (let i = 0; i < 4; i += 1) expect(errorCode(await verifyMfa(first, wrong))).toBe('INVALID_OTP');
      for (let i = 0; i < 3; i += 1) {
        expect(errorCode(await reauthenticate(user.tokens.accessToken, { code: wrong }))).toBe('INVALID_OTP');
      }
      const second = await mfaTicket(user.email);
      for (let i = 0; i < 3; i += 1) expect(errorCode(await verifyMfa(second, wrong))).toBe('INVALID_OTP');

      const right = await reauthenticate(user.tokens.accessToken, { code: totpCode(user.secret) });
      expect(errorCode(right)).toBe('RATE_LIMITED');
      expect(right.data ?? null).toBeNull();
      expect(errorCode(await verifyMfa(second, totpCode(user.secret)))).toBe('RATE_LIMITED');
      // A password reauthenticate is no second factor and spends nothing of that budget.
      expect(errorCode(await reauthenticate(user.tokens.accessToken, { password: PASSWORD }))).toBeUndefined();
    });
  });

  it('every reauthenticate is audited as STEP_UP of the user, by the user', async () => {
    const user = await mfaUser();
    app.clock.advance(30);
    const byPassword = ok(await reauthenticate(user.tokens.accessToken, { password: PASSWORD })).reauthenticate;
    app.clock.advance(30);
    ok(await reauthenticate(byPassword.accessToken, { code: totpCode(user.secret) }));
    const rows = await app.sql<{ actor: string | null; subject: string | null; n: number }>(
      `select actor_user_id::text as actor, subject_user_id::text as subject, count(*)::int as n
         from audit_events where type = 'STEP_UP' and subject_user_id = ? group by 1, 2`,
      [user.id],
    );
    expect(rows).toEqual([{ actor: user.id, subject: user.id, n: 2 }]);
    const mine = ok(
      await app.gql<{ myAuditEvents: { edges: Array<{ node: { type: string; actorId: string; userId: string } }> } }>(
        '{ myAuditEvents(first: 50) { edges { node { type actorId userId } } } }',
        {},
        { token: byPassword.accessToken },
      ),
    ).myAuditEvents.edges.map((e) => e.node);
    expect(mine.filter((e) => e.type === 'STEP_UP')).toEqual([
      { type: 'STEP_UP', actorId: user.id, userId: user.id },
      { type: 'STEP_UP', actorId: user.id, userId: user.id },
    ]);
  });
});

// Its own app, started once the one above has stopped: on PGlite both would share (and empty) one database.
describe('with STEP_UP_MAX_AGE=60', () => {
  beforeAll(async () => {
    app = await startTestApp({ env: { STEP_UP_MAX_AGE: '60' } });
  });
  afterAll(async () => {
    await app?.stop();
  });

  it('recent means 60 s: STEP_UP_REQUIRED { maxAge: 60 } 61 s after the sign-in, and 61 s after a step-up', async () => {
    const user = await passwordUser();
    app.clock.advance(59);
    expect(errorCode(await enrollTotp(user.tokens.accessToken))).toBeUndefined();
    app.clock.advance(2);
    expectStepUp(await enrollTotp(user.tokens.accessToken), 60, 1);

    const again = ok(await reauthenticate(user.tokens.accessToken, { password: PASSWORD })).reauthenticate;
    expect(errorCode(await enrollTotp(again.accessToken))).toBeUndefined();
    app.clock.advance(61);
    expectStepUp(await enrollTotp(again.accessToken), 60, 1);
  });
});
