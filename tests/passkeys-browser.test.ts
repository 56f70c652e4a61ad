// Passkeys end to end: real WebAuthn ceremonies in headless Chromium (a CDP virtual authenticator, see
// tests/helpers/webauthn.ts) against Portcullis over GraphQL. The GraphQL calls go from here; only the ceremonies run
// in the page, which is one the app serves (/healthz) at http://localhost:PORT — the origin of PUBLIC_URL, so the
// RP ID is `localhost` and the origin the one the server expects.
//
// The app listens on a port it picks, and PUBLIC_URL must name it before the app starts: a front door (a TCP
// pass-through, as a load balancer would be) listens first, its origin becomes PUBLIC_URL, and it forwards every
// connection to the app once that listens.
import { Secret, TOTP } from 'otpauth';
import type { Browser } from 'playwright-core';
import { silentLogger } from '../src/common/logger';
import { loadConfig } from '../src/config/config';
import { createServer } from '../src/server/create-server';
import { startFrontDoor, type FrontDoor } from './helpers/front-door';
import { hasChromium, launchChromium } from './helpers/browser';
import { claimsOf, graphqlClient, type GraphQLClient } from './helpers/client';
import { AUTH_FIELDS, login, signUp, uniqueEmail, type Tokens } from './helpers/flows';
import { serverEnv } from './helpers/server-env';
import { errorCode, startTestApp, type GraphQLResponse, type TestApp } from './helpers/test-server';
import {
  authenticatorDataOf,
  clientDataOf,
  openPasskeyDevice,
  withClientData,
  type PasskeyDevice,
} from './helpers/webauthn';

const withChromium = hasChromium('tests/passkeys-browser.test.ts');
const inBrowser = withChromium ? describe : describe.skip;

// ---------------------------------------------------------------------------------------------------------------
// The GraphQL operations.

const CHALLENGE_FIELDS = 'challengeId options expiresIn';
const START_REGISTRATION = `mutation { startPasskeyRegistration { ${CHALLENGE_FIELDS} } }`;
const FINISH_REGISTRATION = `mutation($id: ID!, $response: JSON!, $name: String) {
  finishPasskeyRegistration(challengeId: $id, response: $response, name: $name) }`;
const START_SIGN_IN = `mutation($email: String) { startPasskeySignIn(email: $email) { ${CHALLENGE_FIELDS} } }`;
const FINISH_SIGN_IN = `mutation($id: ID!, $response: JSON!) {
  finishPasskeySignIn(challengeId: $id, response: $response) { ${AUTH_FIELDS} } }`;
const VERIFY_MFA = `mutation($ticket: String!, $code: String, $recoveryCode: String, $passkey: JSON) {
  verifyMfa(ticket: $ticket, code: $code, recoveryCode: $recoveryCode, passkey: $passkey) { ${AUTH_FIELDS} } }`;
const START_REAUTHENTICATION = `mutation { startPasskeyReauthentication { ${CHALLENGE_FIELDS} } }`;
const REAUTHENTICATE = `mutation($passkey: JSON) { reauthenticate(passkey: $passkey) { accessToken refreshToken } }`;
const ENROLL_TOTP = 'mutation { enrollTotp(name: "Phone") { factorId secret } }';
const CONFIRM_TOTP = 'mutation($id: ID!, $code: String!) { confirmTotp(factorId: $id, code: $code) }';
const MY_FACTORS = '{ me { id mfaEnabled recoveryCodesLeft mfaFactors { id type name lastUsedAt } } }';

interface Challenge {
  challengeId: string;
  options: Record<string, any>;
  expiresIn: number;
}

interface MfaRequired {
  mfaTicket: string;
  factors: string[];
  passkeyChallenge?: Challenge;
}

// ---------------------------------------------------------------------------------------------------------------
// The app behind its front door, the browser, and the devices each test opens.

let app: TestApp;
let front: FrontDoor;
let browser: Browser;
/** The app's page at PUBLIC_URL: http://localhost:PORT/healthz. */
let pageUrl: string;
/** PUBLIC_URL's origin, which the ceremonies' client data name. */
let origin: string;
const devices: PasskeyDevice[] = [];

/**
 * Another instance of the server on the app's database (its users, tokens and SMTP server), configured with `env`
 * on top of the app's: a second startTestApp would empty the worker's PGlite database under the first.
 */
async function startInstance(env: Record<string, string>): Promise<GraphQLClient & { stop(): Promise<void> }> {
  const config = loadConfig(
    serverEnv(app.db, { NODE_ENV: 'test', SMTP_URL: app.smtp.url, PUBLIC_URL: origin, ...env }),
  );
  const server = await createServer(config, { clock: app.clock, logger: silentLogger });
  const port = await server.listen(0);
  return { ...graphqlClient(`http://127.0.0.1:${port}/graphql`), stop: () => server.stop() };
}

async function openDevice(url = pageUrl): Promise<PasskeyDevice> {
  const device = await openPasskeyDevice(browser, url);
  devices.push(device);
  return device;
}

// ---------------------------------------------------------------------------------------------------------------
// Steps.

/** The field's value; fails with the errors when there is none. */
function dataOf<T>(res: GraphQLResponse, field: string): T {
  const value = res.data?.[field];
  if (value == null) throw new Error(`${field} failed: ${JSON.stringify(res.errors)}`);
  return value as T;
}

/** The MFA_REQUIRED error's extensions; fails when the answer is anything else. */
function mfaRequiredOf(res: GraphQLResponse): MfaRequired {
  if (errorCode(res) !== 'MFA_REQUIRED') throw new Error(`expected MFA_REQUIRED, got ${JSON.stringify(res.body)}`);
  return res.errors![0]!.extensions as unknown as MfaRequired;
}

const nowSeconds = () => Math.floor(app.clock.now().getTime() / 1000);

/** A verified user, signed in just now (by the emailed code, with the password PASSWORD). */
async function newUser(): Promise<Tokens & { email: string; id: string; token: string }> {
  const tokens = await signUp(app, uniqueEmail('passkey'));
  return { ...tokens, email: tokens.user.email, id: tokens.user.id, token: tokens.accessToken };
}

async function startRegistration(token: string): Promise<Challenge> {
  return dataOf<Challenge>(await app.gql(START_REGISTRATION, {}, { token }), 'startPasskeyRegistration');
}

function finishRegistration(token: string, challengeId: string, response: unknown, name: string | null = null) {
  return app.gql<{ finishPasskeyRegistration: string[] }>(
    FINISH_REGISTRATION,
    { id: challengeId, response, name },
    { token },
  );
}

/** Registers a passkey of `device` on the signed-in account: its credential id and the recovery codes answered. */
async function addPasskey(device: PasskeyDevice, token: string, name = 'Laptop') {
  const { challengeId, options } = await startRegistration(token);
  const response = await device.register(options);
  const codes = dataOf<string[]>(
    await finishRegistration(token, challengeId, response, name),
    'finishPasskeyRegistration',
  );
  return { credentialId: response.id, codes };
}

/** A new user with a passkey on a new device (and so MFA on). */
async function userWithPasskey() {
  const user = await newUser();
  const device = await openDevice();
  const { credentialId, codes } = await addPasskey(device, user.token);
  return { user, device, credentialId, recoveryCodes: codes };
}

async function startSignIn(email?: string | null): Promise<Challenge> {
  return dataOf<Challenge>(await app.gql(START_SIGN_IN, { email }), 'startPasskeySignIn');
}

function finishSignIn(challengeId: string, response: unknown) {
  return app.gql<{ finishPasskeySignIn: Tokens }>(FINISH_SIGN_IN, { id: challengeId, response });
}

function verifyMfa(ticket: string, proof: { code?: string; recoveryCode?: string; passkey?: unknown }) {
  return app.gql<{ verifyMfa: Tokens }>(VERIFY_MFA, { ticket, ...proof });
}

async function myFactors(token: string) {
  return dataOf<{
    id: string;
    mfaEnabled: boolean;
    recoveryCodesLeft: number;
    mfaFactors: Array<{ id: string; type: string; name: string | null; lastUsedAt: string | null }>;
  }>(await app.gql(MY_FACTORS, {}, { token }), 'me');
}

/** The TOTP code of `secret` at the app's time (RFC 6238, SHA1, 6 digits, 30 s), computed here. */
function totpCode(secret: string): string {
  return new TOTP({ secret: Secret.fromBase32(secret) }).generate({ timestamp: app.clock.now().getTime() });
}

async function signCountOf(credentialId: string): Promise<number> {
  const rows = await app.sql<{ sign_count: string | number }>(
    'select sign_count from mfa_factors where credential_id = ?',
    [credentialId],
  );
  return Number(rows[0]!.sign_count);
}

async function passkeyLoginFailures(): Promise<number> {
  const rows = await app.sql<{ n: string | number }>(
    "select count(*) as n from audit_events where type = 'LOGIN_FAILED' and method = 'PASSKEY'",
  );
  return Number(rows[0]!.n);
}

// ---------------------------------------------------------------------------------------------------------------

inBrowser('passkeys in Chromium against Portcullis', () => {
  beforeAll(async () => {
    front = await startFrontDoor('localhost');
    [app, browser] = await Promise.all([startTestApp({ env: { PUBLIC_URL: front.origin } }), launchChromium()]);
    front.target.port = Number(new URL(app.url).port);
    origin = front.origin;
    pageUrl = `${front.origin}/healthz`;
  }, 60_000);

  afterEach(async () => {
    await Promise.all(devices.splice(0).map((device) => device.close()));
  });

  afterAll(async () => {
    await browser?.close();
    await front?.close();
    await app?.stop();
  });

  describe('registration', () => {
    it('adds a passkey: the first turns MFA on with 10 recovery codes, is listed, and the user gets a notice', async () => {
      const user = await newUser();
      const device = await openDevice();
      const { challengeId, options, expiresIn } = await startRegistration(user.token);
      expect(expiresIn).toBeGreaterThan(0);
      expect(options).toMatchObject({
        rp: { id: 'localhost' },
        user: { name: user.email, id: Buffer.from(user.id, 'utf8').toString('base64url') },
        attestation: 'none',
        authenticatorSelection: { residentKey: 'preferred', userVerification: 'preferred' },
        excludeCredentials: [],
      });

      const response = await device.register(options);
      expect(clientDataOf(response)).toMatchObject({ type: 'webauthn.create', origin, challenge: options.challenge });
      const res = await finishRegistration(user.token, challengeId, response, 'Laptop');
      const codes = dataOf<string[]>(res, 'finishPasskeyRegistration');
      expect(codes).toHaveLength(10);
      expect(new Set(codes).size).toBe(10);
      for (const code of codes) expect(code).toMatch(/^[a-z2-7]{5}-[a-z2-7]{5}$/);

      const mine = await myFactors(user.token); // the session that registered it stays
      expect(mine).toMatchObject({ mfaEnabled: true, recoveryCodesLeft: 10 });
      expect(mine.mfaFactors).toEqual([expect.objectContaining({ type: 'PASSKEY', name: 'Laptop' })]);
      const [held] = await device.credentials();
      expect(held).toMatchObject({ credentialId: response.id, rpId: 'localhost', isResidentCredential: true });

      const notice = await app.smtp.waitFor(user.email, (m) => /second factor was added/.test(m.subject));
      expect(notice.subject).toBe('Portcullis: A second factor was added to your account');
      expect(notice.text).toContain('A passkey (Laptop)');
    });

    it('excludes the passkeys the user has; a second passkey, on a second device, returns no recovery codes', async () => {
      const { user, device, credentialId } = await userWithPasskey();

      const again = await startRegistration(user.token);
      expect(again.options.excludeCredentials).toEqual([expect.objectContaining({ id: credentialId })]);
      // The same authenticator will not make a second credential for this account.
      await expect(device.register(again.options)).rejects.toThrow(/^startRegistration failed: InvalidStateError/);

      const second = await openDevice();
      const { codes } = await addPasskey(second, user.token, 'Phone');
      expect(codes).toEqual([]);
      const mine = await myFactors(user.token);
      expect(mine.recoveryCodesLeft).toBe(10);
      expect(mine.mfaFactors.map((f) => [f.type, f.name])).toEqual([
        ['PASSKEY', 'Laptop'],
        ['PASSKEY', 'Phone'],
      ]);
    });

    it('accepts a registration response once: the same response again is BAD_USER_INPUT', async () => {
      const user = await newUser();
      const device = await openDevice();
      const { challengeId, options } = await startRegistration(user.token);
      const response = await device.register(options);
      expect(
        dataOf<string[]>(await finishRegistration(user.token, challengeId, response), 'finishPasskeyRegistration'),
      ).toHaveLength(10);

      const replayed = await finishRegistration(user.token, challengeId, response);
      expect(errorCode(replayed)).toBe('BAD_USER_INPUT');
      expect(replayed.errors![0]!.extensions).toMatchObject({ field: 'response' });
      expect((await myFactors(user.token)).mfaFactors).toHaveLength(1);
    });

    it("refuses a response to another registration's challenge (BAD_USER_INPUT); it still answers its own", async () => {
      const user = await newUser();
      const device = await openDevice();
      const first = await startRegistration(user.token);
      const second = await startRegistration(user.token);
      const response = await device.register(first.options);

      expect(errorCode(await finishRegistration(user.token, second.challengeId, response))).toBe('BAD_USER_INPUT');
      expect((await myFactors(user.token)).mfaEnabled).toBe(false);
      // The refusal was about the challenge: the ceremony the response answers is untouched.
      expect(
        dataOf<string[]>(
          await finishRegistration(user.token, first.challengeId, response),
          'finishPasskeyRegistration',
        ),
      ).toHaveLength(10);
    });

    it("refuses a response to another user's registration ceremony (BAD_USER_INPUT)", async () => {
      const ada = await newUser();
      const bob = await newUser();
      const device = await openDevice();
      const { challengeId, options } = await startRegistration(ada.token);
      const response = await device.register(options);
      expect(errorCode(await finishRegistration(bob.token, challengeId, response))).toBe('BAD_USER_INPUT');
      expect((await myFactors(bob.token)).mfaFactors).toEqual([]);
    });

    it('refuses a registration whose client data names another origin, and stores nothing', async () => {
      const user = await newUser();
      const device = await openDevice();
      const { challengeId, options } = await startRegistration(user.token);
      const forged = withClientData(await device.register(options), (clientData) => {
        clientData.origin = 'https://evil.example';
      });
      expect(errorCode(await finishRegistration(user.token, challengeId, forged))).toBe('BAD_USER_INPUT');
      expect(await myFactors(user.token)).toMatchObject({ mfaEnabled: false, mfaFactors: [] });
    });

    it('needs a recent authentication: 301 s after signing in, STEP_UP_REQUIRED', async () => {
      const user = await newUser();
      app.clock.advance(301);
      const res = await app.gql(START_REGISTRATION, {}, { token: user.token });
      expect(errorCode(res)).toBe('STEP_UP_REQUIRED');
      expect(res.errors![0]!.extensions).toMatchObject({ maxAge: 300, level: 1 });
    });
  });

  describe('signing in with a passkey', () => {
    it('signs in with a discoverable passkey and user verification: level 2, no MFA_REQUIRED, audited', async () => {
      const { user, device, credentialId } = await userWithPasskey();
      const { challengeId, options, expiresIn } = await startSignIn();
      expect(options.allowCredentials ?? []).toEqual([]);
      expect(options).toMatchObject({ rpId: 'localhost', userVerification: 'preferred' });
      expect(expiresIn).toBeGreaterThan(0);

      const response = await device.authenticate(options);
      expect(response.id).toBe(credentialId);
      expect(authenticatorDataOf(response).flags).toMatchObject({ userPresent: true, userVerified: true });
      const signedIn = dataOf<Tokens>(await finishSignIn(challengeId, response), 'finishPasskeySignIn');

      expect(signedIn.user).toMatchObject({ id: user.id, email: user.email });
      expect(signedIn.refreshToken).toEqual(expect.any(String));
      expect(claimsOf(signedIn.accessToken)).toMatchObject({
        sub: user.id,
        acr: 'aal2',
        amr: ['hwk', 'user'],
        auth_time: nowSeconds(),
      });
      expect((await myFactors(signedIn.accessToken)).mfaEnabled).toBe(true);
      const audited = await app.sql<{ method: string; detail: string }>(
        "select method, detail from audit_events where subject_user_id = ? and type = 'LOGIN_SUCCEEDED' and method = 'PASSKEY'",
        [user.id],
      );
      expect(audited).toHaveLength(1);
    });

    it("narrows a sign-in by email to that user's passkeys", async () => {
      const { user, device, credentialId } = await userWithPasskey();
      const second = await openDevice();
      const { credentialId: secondId } = await addPasskey(second, user.token, 'Phone');

      const { challengeId, options } = await startSignIn(user.email);
      expect(options.allowCredentials.map((c: { id: string }) => c.id)).toEqual([credentialId, secondId]);
      expect(options.allowCredentials[0]).toMatchObject({ type: 'public-key', transports: ['internal'] });
      const signedIn = dataOf<Tokens>(
        await finishSignIn(challengeId, await device.authenticate(options)),
        'finishPasskeySignIn',
      );
      expect(signedIn.user.id).toBe(user.id);
    });

    it('answers an unknown email in the same shape: one stand-in credential, stable for that email', async () => {
      const { user } = await userWithPasskey();
      const known = await startSignIn(user.email);
      const unknownEmail = uniqueEmail('nobody');
      const unknown = await startSignIn(unknownEmail);
      const again = await startSignIn(unknownEmail.toUpperCase());
      const other = await startSignIn(uniqueEmail('nobody-else'));

      expect(Object.keys(unknown).sort()).toEqual(Object.keys(known).sort());
      expect(Object.keys(unknown.options).sort()).toEqual(Object.keys(known.options).sort());
      for (const answer of [unknown, again, other]) {
        expect(answer).toEqual({
          challengeId: expect.any(String),
          expiresIn: known.expiresIn,
          options: expect.any(Object),
        });
        expect(answer.options.allowCredentials).toEqual([
          { id: expect.any(String), type: 'public-key', transports: ['internal'] },
        ]);
      }
      expect(again.options.allowCredentials[0].id).toBe(unknown.options.allowCredentials[0].id);
      expect(again.challengeId).not.toBe(unknown.challengeId);
      expect(again.options.challenge).not.toBe(unknown.options.challenge);
      expect(other.options.allowCredentials[0].id).not.toBe(unknown.options.allowCredentials[0].id);

      // A verified user without a passkey gets a stand-in as well.
      const plain = await newUser();
      expect((await startSignIn(plain.email)).options.allowCredentials).toEqual([
        { id: expect.any(String), type: 'public-key', transports: ['internal'] },
      ]);
    });

    it('without user verification, asks an MFA user for a second factor (not a passkey); a recovery code finishes', async () => {
      const { user, device, recoveryCodes } = await userWithPasskey();
      await device.setResponseOverrides({ badUV: true });
      const { challengeId, options } = await startSignIn();
      const response = await device.authenticate(options);
      expect(authenticatorDataOf(response).flags).toMatchObject({ userPresent: true, userVerified: false });

      const required = mfaRequiredOf(await finishSignIn(challengeId, response));
      expect(required.factors).toEqual(['RECOVERY_CODE']);
      expect(required).not.toHaveProperty('passkeyChallenge');
      expect(required.mfaTicket).toEqual(expect.any(String));

      const signedIn = dataOf<Tokens>(
        await verifyMfa(required.mfaTicket, { recoveryCode: recoveryCodes[0]! }),
        'verifyMfa',
      );
      expect(signedIn.user.id).toBe(user.id);
      expect(claimsOf(signedIn.accessToken)).toMatchObject({ acr: 'aal2', amr: ['hwk', 'otp', 'mfa'] });
      expect((await myFactors(signedIn.accessToken)).recoveryCodesLeft).toBe(9);
    });

    it('without user verification, a TOTP code finishes the sign-in of a user who has one', async () => {
      const { user, device } = await userWithPasskey();
      const { factorId, secret } = dataOf<{ factorId: string; secret: string }>(
        await app.gql(ENROLL_TOTP, {}, { token: user.token }),
        'enrollTotp',
      );
      expect(
        dataOf<string[]>(
          await app.gql(CONFIRM_TOTP, { id: factorId, code: totpCode(secret) }, { token: user.token }),
          'confirmTotp',
        ),
      ).toEqual([]);
      app.clock.advance(30); // the confirming code's time step is spent

      await device.setResponseOverrides({ badUV: true });
      const { challengeId, options } = await startSignIn();
      const required = mfaRequiredOf(await finishSignIn(challengeId, await device.authenticate(options)));
      expect(required.factors).toEqual(['TOTP', 'RECOVERY_CODE']);
      expect(required).not.toHaveProperty('passkeyChallenge');

      const signedIn = dataOf<Tokens>(await verifyMfa(required.mfaTicket, { code: totpCode(secret) }), 'verifyMfa');
      expect(claimsOf(signedIn.accessToken)).toMatchObject({ sub: user.id, acr: 'aal2', amr: ['hwk', 'otp', 'mfa'] });
    });

    it('is a second factor after a password: MFA_REQUIRED carries a passkey challenge the device answers', async () => {
      const { user, device, credentialId } = await userWithPasskey();
      const required = mfaRequiredOf(await login(app, user.email));
      expect(required.factors).toEqual(['PASSKEY', 'RECOVERY_CODE']);
      const challenge = required.passkeyChallenge!;
      expect(challenge).toEqual({
        challengeId: expect.any(String),
        options: expect.any(Object),
        expiresIn: expect.any(Number),
      });
      expect(challenge.options.rpId).toBe('localhost');
      expect(challenge.options.allowCredentials.map((c: { id: string }) => c.id)).toEqual([credentialId]);

      const passkey = await device.authenticate(challenge.options);
      const signedIn = dataOf<Tokens>(await verifyMfa(required.mfaTicket, { passkey }), 'verifyMfa');
      expect(signedIn.user.id).toBe(user.id);
      const claims = claimsOf(signedIn.accessToken);
      expect(claims.acr).toBe('aal2');
      expect(claims.amr).toEqual(['pwd', 'hwk', 'user', 'mfa']);
    });
  });

  describe('forged and replayed responses', () => {
    it('refuses a response to another sign-in challenge (INVALID_CREDENTIALS); its own challenge still accepts it', async () => {
      const { user, device } = await userWithPasskey();
      const a = await startSignIn();
      const b = await startSignIn();
      const response = await device.authenticate(a.options);

      const failures = await passkeyLoginFailures();
      expect(errorCode(await finishSignIn(b.challengeId, response))).toBe('INVALID_CREDENTIALS');
      expect(await passkeyLoginFailures()).toBe(failures + 1);
      expect(dataOf<Tokens>(await finishSignIn(a.challengeId, response), 'finishPasskeySignIn').user.id).toBe(user.id);
    });

    it('accepts a sign-in response once: replayed, it is INVALID_CREDENTIALS, at its challenge or a new one', async () => {
      const { device } = await userWithPasskey();
      const { challengeId, options } = await startSignIn();
      const response = await device.authenticate(options);
      dataOf(await finishSignIn(challengeId, response), 'finishPasskeySignIn');

      expect(errorCode(await finishSignIn(challengeId, response))).toBe('INVALID_CREDENTIALS');
      const fresh = await startSignIn();
      expect(errorCode(await finishSignIn(fresh.challengeId, response))).toBe('INVALID_CREDENTIALS');
    });

    it('refuses a response whose client data names another origin, and spends the ceremony', async () => {
      const { device } = await userWithPasskey();
      const { challengeId, options } = await startSignIn();
      const response = await device.authenticate(options);
      const forged = withClientData(response, (clientData) => {
        clientData.origin = 'https://evil.example';
      });
      expect(errorCode(await finishSignIn(challengeId, forged))).toBe('INVALID_CREDENTIALS');
      // Every ceremony is single use, spent even by a response that fails.
      expect(errorCode(await finishSignIn(challengeId, response))).toBe('INVALID_CREDENTIALS');
    });

    it('refuses a response whose client data was moved to another challenge: the signature covers it', async () => {
      const { device } = await userWithPasskey();
      const a = await startSignIn();
      const b = await startSignIn();
      const forged = withClientData(await device.authenticate(a.options), (clientData) => {
        clientData.challenge = b.options.challenge;
      });
      expect(errorCode(await finishSignIn(b.challengeId, forged))).toBe('INVALID_CREDENTIALS');
    });

    it('refuses a bogus signature and a response without user presence', async () => {
      const { device } = await userWithPasskey();
      for (const override of [{ bogusSignature: true }, { badUP: true }]) {
        await device.setResponseOverrides(override);
        const { challengeId, options } = await startSignIn();
        expect(errorCode(await finishSignIn(challengeId, await device.authenticate(options)))).toBe(
          'INVALID_CREDENTIALS',
        );
      }
    });

    it("refuses, in verifyMfa, user A's passkey answering user B's challenge (INVALID_OTP); B's ticket stays usable", async () => {
      const a = await userWithPasskey();
      const b = await userWithPasskey();
      const required = mfaRequiredOf(await login(app, b.user.email));
      const challenge = required.passkeyChallenge!;
      // A's device, told to pick any of its passkeys, signs B's challenge.
      const passkey = await a.device.authenticate({ ...challenge.options, allowCredentials: [] });
      expect(passkey.id).toBe(a.credentialId);

      expect(errorCode(await verifyMfa(required.mfaTicket, { passkey }))).toBe('INVALID_OTP');
      const failed = await app.sql(
        "select detail from audit_events where subject_user_id = ? and type = 'MFA_CHALLENGE_FAILED'",
        [b.user.id],
      );
      expect(failed).toHaveLength(1);
      const signedIn = dataOf<Tokens>(
        await verifyMfa(required.mfaTicket, { recoveryCode: b.recoveryCodes[0]! }),
        'verifyMfa',
      );
      expect(signedIn.user.id).toBe(b.user.id);
    });

    it('refuses, in verifyMfa, a passkey response replayed on a later ticket', async () => {
      const { user, device } = await userWithPasskey();
      const first = mfaRequiredOf(await login(app, user.email));
      const passkey = await device.authenticate(first.passkeyChallenge!.options);
      dataOf(await verifyMfa(first.mfaTicket, { passkey }), 'verifyMfa');

      expect(errorCode(await verifyMfa(first.mfaTicket, { passkey }))).toBe('UNAUTHENTICATED'); // a used ticket
      const second = mfaRequiredOf(await login(app, user.email));
      expect(errorCode(await verifyMfa(second.mfaTicket, { passkey }))).toBe('INVALID_OTP');
    });

    it('keeps the signature counter: 1 at registration, then one more per accepted assertion', async () => {
      const { user, device, credentialId } = await userWithPasskey();
      expect(await signCountOf(credentialId)).toBe(1);
      for (const expected of [2, 3]) {
        const { challengeId, options } = await startSignIn();
        dataOf(await finishSignIn(challengeId, await device.authenticate(options)), 'finishPasskeySignIn');
        expect(await signCountOf(credentialId)).toBe(expected);
      }
      const required = mfaRequiredOf(await login(app, user.email));
      dataOf(
        await verifyMfa(required.mfaTicket, { passkey: await device.authenticate(required.passkeyChallenge!.options) }),
        'verifyMfa',
      );
      expect(await signCountOf(credentialId)).toBe(4);
      expect((await device.credentials()).map((c) => c.signCount)).toEqual([4]);
      const [factor] = (await myFactors(user.token)).mfaFactors;
      expect(factor!.lastUsedAt).toEqual(expect.any(String));
    });

    it('refuses a response with a counter below the stored one (a cloned authenticator)', async () => {
      const { device, credentialId } = await userWithPasskey();
      const older = await startSignIn();
      const olderResponse = await device.authenticate(older.options); // counter 2
      const newer = await startSignIn();
      dataOf(await finishSignIn(newer.challengeId, await device.authenticate(newer.options)), 'finishPasskeySignIn'); // 3
      expect(await signCountOf(credentialId)).toBe(3);
      expect(errorCode(await finishSignIn(older.challengeId, olderResponse))).toBe('INVALID_CREDENTIALS');
      expect(await signCountOf(credentialId)).toBe(3);
    });

    it('cannot be answered on localhost for an instance whose RP ID is example.com', async () => {
      // A second instance on the same database, its relying party example.com: the users and tokens are the same.
      const elsewhere = await startInstance({ WEBAUTHN_RP_ID: 'example.com', WEBAUTHN_ORIGINS: 'https://example.com' });
      try {
        const { user, device } = await userWithPasskey();
        const res = await elsewhere.gql(START_REGISTRATION, {}, { token: user.token });
        const { challengeId, options } = dataOf<Challenge>(res, 'startPasskeyRegistration');
        expect(options.rp.id).toBe('example.com');
        await expect(device.register(options)).rejects.toThrow(
          /^startRegistration failed: SecurityError .*The RP ID "example\.com" is invalid for this domain/,
        );
        const signIn = dataOf<Challenge>(
          await elsewhere.gql(START_SIGN_IN, { email: user.email }),
          'startPasskeySignIn',
        );
        expect(signIn.options.rpId).toBe('example.com');
        await expect(device.authenticate(signIn.options)).rejects.toThrow(
          /^startAuthentication failed: SecurityError .*The RP ID "example\.com" is invalid for this domain/,
        );
        expect(await device.credentials()).toHaveLength(1);

        // A credential made on localhost for the same user, its client data rewritten to the other instance's
        // challenge and origin (the "none" attestation of a registration signs nothing): its RP ID hash gives it away.
        const newDevice = await openDevice();
        const local = await startRegistration(user.token);
        const forged = withClientData(await newDevice.register(local.options), (clientData) => {
          clientData.challenge = options.challenge;
          clientData.origin = 'https://example.com';
        });
        const refused = await elsewhere.gql(
          FINISH_REGISTRATION,
          { id: challengeId, response: forged, name: null },
          { token: user.token },
        );
        expect(errorCode(refused)).toBe('BAD_USER_INPUT');
        expect((await myFactors(user.token)).mfaFactors).toHaveLength(1);
      } finally {
        await elsewhere.stop();
      }
    });
  });

  describe('reauthenticating with a passkey', () => {
    it('proves the user again in the same session: auth_time now, amr ["hwk","user"], step-up satisfied', async () => {
      const { user, device, credentialId } = await userWithPasskey();
      app.clock.advance(301);
      expect(errorCode(await app.gql(START_REGISTRATION, {}, { token: user.token }))).toBe('STEP_UP_REQUIRED');

      const { options } = dataOf<Challenge>(
        await app.gql(START_REAUTHENTICATION, {}, { token: user.token }),
        'startPasskeyReauthentication',
      );
      expect(options.allowCredentials.map((c: { id: string }) => c.id)).toEqual([credentialId]);
      const passkey = await device.authenticate(options);
      const res = await app.gql<{ reauthenticate: { accessToken: string; refreshToken: string | null } }>(
        REAUTHENTICATE,
        { passkey },
        { token: user.token },
      );
      const { accessToken, refreshToken } = dataOf<{ accessToken: string; refreshToken: string | null }>(
        res,
        'reauthenticate',
      );
      expect(refreshToken).toBeNull();
      const before = claimsOf(user.token);
      expect(claimsOf(accessToken)).toMatchObject({
        sub: user.id,
        sid: before.sid,
        acr: 'aal2',
        amr: ['hwk', 'user'],
        auth_time: nowSeconds(),
      });
      dataOf(await app.gql(START_REGISTRATION, {}, { token: accessToken }), 'startPasskeyRegistration');
    });

    it('refuses a sign-in response as a reauthentication (INVALID_OTP)', async () => {
      const { user, device } = await userWithPasskey();
      const { options } = await startSignIn();
      const passkey = await device.authenticate(options);
      expect(errorCode(await app.gql(REAUTHENTICATE, { passkey }, { token: user.token }))).toBe('INVALID_OTP');
    });

    it('is BAD_USER_INPUT for a user without passkeys', async () => {
      const user = await newUser();
      const res = await app.gql(START_REAUTHENTICATION, {}, { token: user.token });
      expect(errorCode(res)).toBe('BAD_USER_INPUT');
    });
  });
});
