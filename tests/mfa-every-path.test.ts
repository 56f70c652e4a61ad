// One rule for every path that creates a session: once a user has MFA on, a first factor below level 2 — a password,
// an emailed LOGIN or VERIFY_EMAIL code, a provider (redirect or ID token), a passkey without user verification —
// answers MFA_REQUIRED with a ticket and no tokens, and only verifyMfa turns that ticket into a session at aal2.
// The root fields that return AuthPayload are read from schema.graphql, not listed by hand: each must have an entry
// in PATHS below, either scenarios that drive it as a first factor or a justified exemption, so a sign-in mutation
// added later fails here until someone says how it meets the rule.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { buildSchema, getNamedType, type GraphQLObjectType } from 'graphql';
import { Secret, TOTP } from 'otpauth';
import type { Browser } from 'playwright-core';
import { hasChromium, launchChromium } from './helpers/browser';
import { AUTH_FIELDS, login, refresh, requestOtp, signUp, uniqueEmail, verifyOtp, type Tokens } from './helpers/flows';
import { startTestProvider, type TestProvider } from './helpers/oidc-provider';
import { acmeEnv, complete, fixtureClient, idTokenSignIn, nonceClaim, roundTrip, socialSignIn } from './helpers/social';
import { errorCode, type GraphQLResponse, ok, startTestApp, type TestApp } from './helpers/test-server';
import { authenticatorDataOf, openPasskeyDevice, type PasskeyDevice } from './helpers/webauthn';
import { claimsOf } from './helpers/client';

const withChromium = hasChromium('tests/mfa-every-path.test.ts');

/** Every field of the schema's root types whose type is AuthPayload (however wrapped), as `login`, `refresh`, …. */
function authPayloadFields(): string[] {
  const schema = buildSchema(readFileSync(join(__dirname, '..', 'schema.graphql'), 'utf8'));
  const roots = [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()].filter(
    (t): t is GraphQLObjectType => t != null,
  );
  return roots.flatMap((root) =>
    Object.values(root.getFields())
      .filter((field) => getNamedType(field.type).name === 'AuthPayload')
      .map((field) => (root === schema.getMutationType() ? field.name : `${root.name}.${field.name}`)),
  );
}

let app: TestApp;
let provider: TestProvider;
/** Serves a blank page at http://localhost:PORT/ for the passkey ceremonies (RP ID localhost, listed as an origin). */
let pages: Server;
let pageOrigin: string;
let browser: Browser | undefined;

beforeAll(async () => {
  pages = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><html><head><meta charset="utf-8"><title>Passkeys</title></head><body></body></html>');
  });
  await new Promise<void>((resolve) => pages.listen(0, '127.0.0.1', resolve));
  pageOrigin = `http://localhost:${(pages.address() as AddressInfo).port}`;
  provider = await startTestProvider([fixtureClient('acme')]);
  app = await startTestApp({
    env: {
      ...acmeEnv(provider),
      WEBAUTHN_RP_ID: 'localhost',
      WEBAUTHN_ORIGINS: pageOrigin,
    },
  });
  if (withChromium) browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await app?.stop();
  await provider?.stop();
  pages?.closeAllConnections();
  await new Promise((resolve) => pages?.close(resolve));
});

// ---------------------------------------------------------------------------------------------------------------
// Helpers: TOTP codes computed here with otpauth, independently of the server; claims read from the tokens.

type Claims = {
  sub: string;
  sid: string;
  acr: string;
  amr: string[];
  auth_time: number;
};
const tokenClaims = (accessToken: string) => claimsOf<Claims>(accessToken);

/** The code an authenticator app shows for `secret` at the app's clock. */
const totpCode = (secret: string) =>
  new TOTP({ secret: Secret.fromBase32(secret) }).generate({ timestamp: app.clock.now().getTime() });

/** Every session row of the user, ended ones too: a refused sign-in must not add one. */
async function sessionRows(userId: string): Promise<number> {
  const rows = await app.sql<{ n: number }>('select count(*)::int as n from sessions where user_id = ?', [userId]);
  return rows[0]!.n;
}

/** Turns MFA on for the user of `token`: enrollTotp + confirmTotp with the current code. */
async function enableTotp(token: string): Promise<{ secret: string; recoveryCodes: string[] }> {
  const { enrollTotp } = ok(
    await app.gql<{ enrollTotp: { factorId: string; secret: string } }>(
      'mutation { enrollTotp(name: "Phone") { factorId secret } }',
      {},
      { token },
    ),
  );
  const { confirmTotp } = ok(
    await app.gql<{ confirmTotp: string[] }>(
      'mutation($f: ID!, $c: String!) { confirmTotp(factorId: $f, code: $c) }',
      { f: enrollTotp.factorId, c: totpCode(enrollTotp.secret) },
      { token },
    ),
  );
  expect(confirmTotp).toHaveLength(10); // the first factor: MFA is on
  return { secret: enrollTotp.secret, recoveryCodes: confirmTotp };
}

/** A verified password account with TOTP confirmed; `tokens` is its sign-up session (the one that enabled MFA). */
async function mfaUser(): Promise<{ email: string; id: string; secret: string; tokens: Tokens }> {
  const email = uniqueEmail('every-path');
  const tokens = await signUp(app, email);
  const { secret } = await enableTotp(tokens.accessToken);
  return { email, id: tokens.user.id, secret, tokens };
}

/**
 * `res` is the MFA_REQUIRED answer of a right first factor: a ticket and the factors to finish with, no data, no
 * token anywhere in the answer, and no session row added for `userId` (`rowsBefore`). Returns the ticket.
 */
async function expectMfaRequired(
  res: GraphQLResponse,
  userId: string,
  rowsBefore: number,
  factors: string[] = ['TOTP', 'RECOVERY_CODE'],
): Promise<string> {
  expect(res.errors).toHaveLength(1);
  expect(errorCode(res)).toBe('MFA_REQUIRED');
  const extensions = res.errors![0]!.extensions!;
  expect(extensions.mfaTicket).toEqual(expect.any(String));
  expect(extensions.factors).toEqual(factors);
  expect(res.data ?? null).toBeNull();
  expect(JSON.stringify(res.body)).not.toMatch(/accessToken|refreshToken|eyJ/);
  expect(res.headers.get('set-cookie')).toBeNull();
  expect(await sessionRows(userId)).toBe(rowsBefore);
  return extensions.mfaTicket as string;
}

function verifyMfa(args: { ticket: string; code?: string; recoveryCode?: string }) {
  return app.gql<{ verifyMfa: Tokens }>(
    `mutation($t: String!, $c: String, $r: String) { verifyMfa(ticket: $t, code: $c, recoveryCode: $r) { ${AUTH_FIELDS} } }`,
    { t: args.ticket, c: args.code, r: args.recoveryCode },
  );
}

/** Finishes `ticket` with the authenticator's next code: a session for `userId` at aal2 with `amr`, one more row. */
async function finishWithTotp(ticket: string, secret: string, userId: string, amr: string[]): Promise<Tokens> {
  const rowsBefore = await sessionRows(userId);
  app.clock.advance(30); // the next time step: the one confirmTotp accepted is never accepted again
  const tokens = ok(await verifyMfa({ ticket, code: totpCode(secret) })).verifyMfa;
  expect(tokens.user.id).toBe(userId);
  expect(tokens.refreshToken).toEqual(expect.any(String));
  expect(tokenClaims(tokens.accessToken)).toMatchObject({ sub: userId, acr: 'aal2', amr });
  expect(await sessionRows(userId)).toBe(rowsBefore + 1);
  return tokens;
}

let subs = 0;
const uniqueSub = (prefix: string) => `${prefix}-${(subs += 1)}-${randomBytes(4).toString('hex')}`;

function reauthenticate(token: string | undefined, password: string) {
  return app.gql<{ reauthenticate: Tokens }>(
    `mutation($p: String) { reauthenticate(password: $p) { ${AUTH_FIELDS} } }`,
    { p: password },
    { token },
  );
}

/** Registers a passkey on `device` for the user of `token` (a recent sign-in); MFA was already on, so no codes. */
async function registerPasskey(device: PasskeyDevice, token: string): Promise<void> {
  const { startPasskeyRegistration: ceremony } = ok(
    await app.gql<{ startPasskeyRegistration: { challengeId: string; options: unknown } }>(
      'mutation { startPasskeyRegistration { challengeId options } }',
      {},
      { token },
    ),
  );
  const response = await device.register(ceremony.options);
  const { finishPasskeyRegistration } = ok(
    await app.gql<{ finishPasskeyRegistration: string[] }>(
      'mutation($id: ID!, $r: JSON!) { finishPasskeyRegistration(challengeId: $id, response: $r, name: "Laptop") }',
      { id: ceremony.challengeId, r: response },
      { token },
    ),
  );
  expect(finishPasskeyRegistration).toEqual([]);
}

/** startPasskeySignIn(email), the device's answer, finishPasskeySignIn; and whether the answer carried UV. */
async function passkeySignIn(device: PasskeyDevice, email: string) {
  const { startPasskeySignIn: ceremony } = ok(
    await app.gql<{ startPasskeySignIn: { challengeId: string; options: unknown } }>(
      'mutation($e: String) { startPasskeySignIn(email: $e) { challengeId options } }',
      { e: email },
    ),
  );
  const response = await device.authenticate(ceremony.options);
  const res = await app.gql<{ finishPasskeySignIn: Tokens }>(
    `mutation($id: ID!, $r: JSON!) { finishPasskeySignIn(challengeId: $id, response: $r) { ${AUTH_FIELDS} } }`,
    { id: ceremony.challengeId, r: response },
  );
  return { res, userVerified: authenticatorDataOf(response).flags.userVerified };
}

/** A user with TOTP and a passkey on a device of their own (closed by the caller). */
async function mfaUserWithPasskey() {
  const user = await mfaUser();
  const device = await openPasskeyDevice(browser!, `${pageOrigin}/`);
  await registerPasskey(device, user.tokens.accessToken);
  return { ...user, device };
}

// ---------------------------------------------------------------------------------------------------------------
// The table: every root field that returns AuthPayload, and how it meets the rule.

interface Scenario {
  readonly name: string;
  readonly run: () => Promise<void>;
  /** Needs Chromium's virtual authenticator. */
  readonly browser?: boolean;
}

type Path =
  | { readonly kind: 'first factor'; readonly scenarios: readonly Scenario[] }
  | { readonly kind: 'exempt'; readonly why: string; readonly check: () => Promise<void> };

const PATHS: Record<string, Path> = {
  login: {
    kind: 'first factor',
    scenarios: [
      {
        name: 'a right password answers MFA_REQUIRED; verifyMfa then opens a session with ["pwd","otp","mfa"]',
        async run() {
          const user = await mfaUser();
          const rows = await sessionRows(user.id);
          const ticket = await expectMfaRequired(await login(app, user.email), user.id, rows);
          await finishWithTotp(ticket, user.secret, user.id, ['pwd', 'otp', 'mfa']);
        },
      },
    ],
  },

  verifyOtp: {
    kind: 'first factor',
    scenarios: [
      {
        name: 'a LOGIN code answers MFA_REQUIRED; verifyMfa then opens a session with ["email","otp","mfa"]',
        async run() {
          const user = await mfaUser();
          const before = app.smtp.messages.length;
          expect(ok(await requestOtp(app, user.email, 'LOGIN')).requestOtp.expiresIn).toBeGreaterThan(0);
          const code = await app.smtp.codeFor(user.email, /sign-in code/i, before);
          const rows = await sessionRows(user.id);
          const ticket = await expectMfaRequired(await verifyOtp(app, user.email, code, 'LOGIN'), user.id, rows);
          await finishWithTotp(ticket, user.secret, user.id, ['email', 'otp', 'mfa']);
        },
      },
      {
        // requestOtp(VERIFY_EMAIL) for an account already verified still emails a code (the answer never tells
        // which emails have accounts), and verifyOtp accepts it as a first factor: it must not bypass the rule.
        name: 'a VERIFY_EMAIL code of an already verified account answers MFA_REQUIRED as well; verifyMfa then opens ["email","otp","mfa"]',
        async run() {
          const user = await mfaUser();
          app.clock.advance(61); // past the resend interval of the sign-up's own VERIFY_EMAIL code
          const before = app.smtp.messages.length;
          expect(ok(await requestOtp(app, user.email, 'VERIFY_EMAIL')).requestOtp.expiresIn).toBeGreaterThan(0);
          const code = await app.smtp.codeFor(user.email, /confirm your email/i, before);
          const rows = await sessionRows(user.id);
          const res = await verifyOtp(app, user.email, code, 'VERIFY_EMAIL');
          const ticket = await expectMfaRequired(res, user.id, rows);
          await finishWithTotp(ticket, user.secret, user.id, ['email', 'otp', 'mfa']);
        },
      },
    ],
  },

  completeSocialSignIn: {
    kind: 'first factor',
    scenarios: [
      {
        name: 'a provider sign-in of an account with MFA answers MFA_REQUIRED; verifyMfa then opens ["fed","otp","mfa"]',
        async run() {
          const sub = uniqueSub('every-path-fed');
          await provider.setAccount({ sub, email: uniqueEmail('every-path-fed'), email_verified: true });
          const first = await socialSignIn(app, provider, 'acme', sub); // creates the account, amr ["fed"]
          expect(tokenClaims(first.accessToken)).toMatchObject({ acr: 'aal1', amr: ['fed'] });
          const { secret } = await enableTotp(first.accessToken);

          const trip = await roundTrip(app, provider, 'acme', sub);
          expect(trip.error).toBeNull();
          const rows = await sessionRows(first.user.id);
          const ticket = await expectMfaRequired(await complete(app, trip.code!, trip.verifier), first.user.id, rows);
          await finishWithTotp(ticket, secret, first.user.id, ['fed', 'otp', 'mfa']);
        },
      },
    ],
  },

  signInWithIdToken: {
    kind: 'first factor',
    scenarios: [
      {
        name: 'an ID token of an account with MFA answers MFA_REQUIRED; verifyMfa then opens ["fed","otp","mfa"]',
        async run() {
          const claims = {
            aud: 'client-acme',
            sub: uniqueSub('every-path-idt'),
            email: uniqueEmail('every-path-idt'),
            email_verified: true,
          };
          const signIn = async () => {
            const nonce = randomBytes(32).toString('base64url');
            const idToken = await provider.mintIdToken({ ...claims, nonce: nonceClaim(nonce) });
            return idTokenSignIn(app, 'acme', idToken, nonce);
          };
          const first = ok(await signIn()).signInWithIdToken; // creates the account, amr ["fed"]
          expect(tokenClaims(first.accessToken)).toMatchObject({ acr: 'aal1', amr: ['fed'] });
          const { secret } = await enableTotp(first.accessToken);

          const rows = await sessionRows(first.user.id);
          const ticket = await expectMfaRequired(await signIn(), first.user.id, rows);
          await finishWithTotp(ticket, secret, first.user.id, ['fed', 'otp', 'mfa']);
        },
      },
    ],
  },

  finishPasskeySignIn: {
    kind: 'first factor',
    scenarios: [
      {
        name: 'a passkey without user verification answers MFA_REQUIRED (factors without PASSKEY, no passkeyChallenge); verifyMfa then opens ["hwk","otp","mfa"]',
        browser: true,
        async run() {
          const user = await mfaUserWithPasskey();
          try {
            await user.device.setResponseOverrides({ badUV: true }); // UV=0, though the options prefer UV
            const rows = await sessionRows(user.id);
            const { res, userVerified } = await passkeySignIn(user.device, user.email);
            expect(userVerified).toBe(false);
            const ticket = await expectMfaRequired(res, user.id, rows, ['TOTP', 'RECOVERY_CODE']);
            expect(res.errors![0]!.extensions).not.toHaveProperty('passkeyChallenge');
            await finishWithTotp(ticket, user.secret, user.id, ['hwk', 'otp', 'mfa']);
          } finally {
            await user.device.close();
          }
        },
      },
      {
        name: 'a passkey with user verification is level 2 by itself: a session at once, aal2 with ["hwk","user"]',
        browser: true,
        async run() {
          const user = await mfaUserWithPasskey();
          try {
            const rows = await sessionRows(user.id);
            const { res, userVerified } = await passkeySignIn(user.device, user.email);
            expect(userVerified).toBe(true);
            const tokens = ok(res).finishPasskeySignIn;
            expect(tokens.user.id).toBe(user.id);
            expect(tokens.refreshToken).toEqual(expect.any(String));
            expect(tokenClaims(tokens.accessToken)).toMatchObject({ sub: user.id, acr: 'aal2', amr: ['hwk', 'user'] });
            expect(await sessionRows(user.id)).toBe(rows + 1);
          } finally {
            await user.device.close();
          }
        },
      },
    ],
  },

  verifyMfa: {
    kind: 'exempt',
    why: 'it is the second factor: it only finishes a ticket the rule itself issued, and without one it opens nothing',
    async check() {
      const user = await mfaUser();
      const rows = await sessionRows(user.id);
      app.clock.advance(30);
      const forged = await verifyMfa({ ticket: randomBytes(32).toString('base64url'), code: totpCode(user.secret) });
      expect(errorCode(forged)).toBe('UNAUTHENTICATED');
      expect(forged.data ?? null).toBeNull();
      // A ticket spent once is no way in either.
      const ticket = (await login(app, user.email)).errors![0]!.extensions!.mfaTicket as string;
      await finishWithTotp(ticket, user.secret, user.id, ['pwd', 'otp', 'mfa']);
      app.clock.advance(30);
      expect(errorCode(await verifyMfa({ ticket, code: totpCode(user.secret) }))).toBe('UNAUTHENTICATED');
      expect(await sessionRows(user.id)).toBe(rows + 1);
    },
  },

  refresh: {
    kind: 'exempt',
    why: 'it continues a session that already passed the rule, with that session’s methods; sessions opened before MFA went on (but the one that turned it on) are ended',
    async check() {
      const email = uniqueEmail('every-path-refresh');
      const enabling = await signUp(app, email);
      const other = ok(await login(app, email)).login; // a second session, opened before MFA
      const { secret } = await enableTotp(enabling.accessToken);
      expect(errorCode(await refresh(app, other.refreshToken))).toBe('UNAUTHENTICATED');

      const ticket = (await login(app, email)).errors![0]!.extensions!.mfaTicket as string;
      const signedIn = await finishWithTotp(ticket, secret, enabling.user.id, ['pwd', 'otp', 'mfa']);
      const rows = await sessionRows(enabling.user.id);
      app.clock.advance(60);
      const refreshed = ok(await refresh(app, signedIn.refreshToken)).refresh;
      const { sid, acr, amr, auth_time } = tokenClaims(signedIn.accessToken);
      expect(tokenClaims(refreshed.accessToken)).toMatchObject({ sid, acr, amr, auth_time });
      expect(await sessionRows(enabling.user.id)).toBe(rows);
    },
  },

  reauthenticate: {
    kind: 'exempt',
    why: 'it proves the user again inside an existing session (its access token required) and opens none',
    async check() {
      const user = await mfaUser();
      const anonymous = await reauthenticate(undefined, 'Correct-Horse-9');
      expect(errorCode(anonymous)).toBe('UNAUTHENTICATED');
      const rows = await sessionRows(user.id);
      const again = ok(await reauthenticate(user.tokens.accessToken, 'Correct-Horse-9')).reauthenticate;
      expect(again.refreshToken).toBeNull();
      expect(tokenClaims(again.accessToken).sid).toBe(tokenClaims(user.tokens.accessToken).sid);
      expect(await sessionRows(user.id)).toBe(rows);
    },
  },
};

// ---------------------------------------------------------------------------------------------------------------

it('has an entry for every root field that returns AuthPayload in schema.graphql, and for no other', () => {
  const fields = authPayloadFields();
  expect(fields).toContain('login'); // the schema was read
  const missing = fields.filter((f) => !(f in PATHS));
  const stale = Object.keys(PATHS).filter((f) => !fields.includes(f));
  // A new sign-in mutation: add scenarios that drive it as a first factor for a user with MFA on, or an exemption.
  expect({ missing, stale }).toEqual({ missing: [], stale: [] });
});

describe('a first factor below level 2, for a user with MFA on', () => {
  for (const [field, path] of Object.entries(PATHS)) {
    if (path.kind !== 'first factor') continue;
    describe(field, () => {
      for (const scenario of path.scenarios) {
        const test = scenario.browser && !withChromium ? it.skip : it;
        test(scenario.name, scenario.run, 60_000);
      }
    });
  }
});

describe('exempt from the rule', () => {
  for (const [field, path] of Object.entries(PATHS)) {
    if (path.kind === 'exempt') it(`${field}: ${path.why}`, path.check);
  }
});
