// Social sign-in as an attacker plays it, through HTTP only: forged, replayed and expired states, codes carried to
// other flows or providers, tampered ID tokens, loose redirect URIs, races, a provider that is down, and what the
// callback and the logs give away. Every refusal is checked from the outside (the app's landing, the GraphQL code,
// the users table), against a real OpenID provider (helpers/oidc-provider.ts).
import { randomBytes } from 'node:crypto';
import { createServer as createNetServer } from 'node:net';
import { capture } from './helpers/log-capture';

import { createLogger } from '../src/common/logger';
import { httpRequest } from './helpers/client';
import { uniqueEmail } from './helpers/flows';
import { startTestProvider, type TestProvider } from './helpers/oidc-provider';
import {
  alterRedirect,
  APP_REDIRECT,
  complete,
  deliver,
  fixtureClient,
  landing,
  pkce,
  providerEnv,
  PUBLIC_URL,
  redirectParam,
  start,
  startUrl,
} from './helpers/social';
import { errorCode, startTestApp, type TestApp } from './helpers/test-server';

/** A local port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

let acme: TestProvider;
let beta: TestProvider;
/** Stopped by the "provider down between start and callback" test. */
let doomed: TestProvider;
let app: TestApp;
const log = capture();
/** Every secret a flow of this file handled: none may ever appear in a log line. */
const secrets = new Set<string>();

function remember(...values: Array<string | null | undefined>) {
  for (const v of values) if (v) secrets.add(v);
}

beforeAll(async () => {
  [acme, beta, doomed] = await Promise.all([
    startTestProvider([fixtureClient('acme')]),
    startTestProvider([fixtureClient('beta')]),
    startTestProvider([fixtureClient('doomed')]),
  ]);
});

afterAll(async () => {
  await Promise.all([acme?.stop(), beta?.stop(), doomed?.stop()]);
});

/** A provider account with a fresh verified email; answers the email. */
async function account(fixture: TestProvider, sub: string): Promise<string> {
  const email = uniqueEmail(sub);
  await fixture.setAccount({ sub, email, email_verified: true });
  return email;
}

/** Starts a flow and plays the provider's forms as `sub`: the provider's redirect, not yet delivered. */
async function begin(fixture: TestProvider, providerId: string, sub: string) {
  const keys = pkce();
  const url = await startUrl(app, providerId, keys.challenge);
  const state = new URL(url).searchParams.get('state')!;
  const redirect = await fixture.authorize(url, sub);
  remember(state, new URL(url).searchParams.get('nonce'), keys.verifier, redirectParam(redirect, 'code'));
  return { keys, url, state, redirect };
}

async function usersWith(email: string): Promise<number> {
  const rows = await app.sql<{ n: number }>('select count(*)::int as n from users where email = ?', [email]);
  return rows[0]!.n;
}

/** GET PUBLIC_URL/oauth/callback?… on the real server, not following redirects. */
function callbackGet(params: Record<string, string>) {
  const url = new URL('/oauth/callback', app.url);
  url.search = new URLSearchParams(params).toString();
  return httpRequest(url, { redirect: 'manual' });
}

// The app every flow below runs on. It stops before the last describe block starts an app of its own: on PGlite a
// worker holds one test database at a time (helpers/test-database.ts).
describe('with acme, beta, doomed and down configured', () => {
  beforeAll(async () => {
    const downPort = await closedPort();
    app = await startTestApp({
      env: {
        PUBLIC_URL,
        OAUTH_REDIRECT_URIS: APP_REDIRECT,
        ...providerEnv('acme', acme),
        ...providerEnv('beta', beta),
        ...providerEnv('doomed', doomed),
        OIDC_DOWN_ISSUER: `http://127.0.0.1:${downPort}`,
        OIDC_DOWN_CLIENT_ID: 'client-down',
        OIDC_DOWN_CLIENT_SECRET: 'secret-down-that-is-long-enough',
      },
      logger: createLogger('info', log.stream),
    });
  });

  afterAll(async () => {
    await app?.stop();
  });

  describe('the state', () => {
    it('is unknown (random, missing): a plain 400 page, no redirect anywhere', async () => {
      const forged = { state: randomBytes(32).toString('base64url'), code: 'anything', iss: acme.issuer };
      for (const answer of [
        await callbackGet(forged),
        await callbackGet({ code: 'anything', iss: acme.issuer }),
        await httpRequest(new URL('/oauth/callback', app.url), {
          method: 'POST',
          redirect: 'manual',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams(forged).toString(),
        }),
      ]) {
        expect(answer.status).toBe(400);
        expect(answer.headers.get('content-type')).toMatch(/^text\/plain/);
        expect(answer.headers.get('location')).toBeNull();
        expect(answer.text).not.toContain(APP_REDIRECT);
      }
    });

    it('is used once: the same provider redirect delivered again sends the app invalid_request, no second code', async () => {
      const email = await account(acme, 'replay-state');
      const { redirect } = await begin(acme, 'acme', 'replay-state');
      const first = landing(await deliver(app, redirect));
      expect(first.code).toEqual(expect.any(String));
      remember(first.code);
      const second = landing(await deliver(app, redirect));
      expect(second).toMatchObject({ code: null, error: 'invalid_request' });
      expect(second.location.startsWith(`${APP_REDIRECT}?`)).toBe(true);
      expect(await usersWith(email)).toBe(1);
    });

    it('expires after 10 minutes: the round trip after 11 sends the app invalid_request and creates no account', async () => {
      const email = await account(acme, 'late-state');
      const keys = pkce();
      const url = await startUrl(app, 'acme', keys.challenge);
      app.clock.advance(11 * 60);
      const redirect = await acme.authorize(url, 'late-state');
      remember(redirectParam(redirect, 'code'), redirectParam(redirect, 'state'));
      expect(landing(await deliver(app, redirect))).toMatchObject({ code: null, error: 'invalid_request' });
      expect(await usersWith(email)).toBe(0);
    });
  });

  describe('the provider code', () => {
    it("is bound to its own flow: A's code with B's state is refused (PKCE at the provider), and B never signs in", async () => {
      const emailA = await account(acme, 'inject-a');
      const emailB = await account(acme, 'inject-b');
      const a = await begin(acme, 'acme', 'inject-a');
      const b = await begin(acme, 'acme', 'inject-b');
      const injected = alterRedirect(b.redirect, { code: redirectParam(a.redirect, 'code') });
      expect(landing(await deliver(app, injected))).toMatchObject({ code: null, error: 'invalid_request' });
      // B's flow is spent: its own genuine redirect yields nothing either.
      expect(landing(await deliver(app, b.redirect))).toMatchObject({ code: null, error: 'invalid_request' });
      expect(await usersWith(emailA)).toBe(0);
      expect(await usersWith(emailB)).toBe(0);
    });

    it("is refused with the right state but another provider's iss (RFC 9207): invalid_request", async () => {
      const email = await account(acme, 'iss-forged');
      const { redirect } = await begin(acme, 'acme', 'iss-forged');
      expect(redirectParam(redirect, 'iss')).toBe(acme.issuer);
      const forged = alterRedirect(redirect, { iss: 'https://evil.example' });
      expect(landing(await deliver(app, forged))).toMatchObject({ code: null, error: 'invalid_request' });
      expect(await usersWith(email)).toBe(0);
    });

    it('is refused without the iss the provider advertises it sends (RFC 9207): invalid_request', async () => {
      const email = await account(acme, 'iss-missing');
      const { redirect } = await begin(acme, 'acme', 'iss-missing');
      const stripped = alterRedirect(redirect, { iss: null });
      expect(landing(await deliver(app, stripped))).toMatchObject({ code: null, error: 'invalid_request' });
      expect(await usersWith(email)).toBe(0);
    });

    it('is the same redirect delivered 5 times at once: exactly one landing carries a code', async () => {
      await account(acme, 'race-callback');
      const { redirect } = await begin(acme, 'acme', 'race-callback');
      const answers = await Promise.all(Array.from({ length: 5 }, () => deliver(app, redirect)));
      const landings = answers.map(landing);
      remember(...landings.map((l) => l.code));
      expect(landings.filter((l) => l.code !== null)).toHaveLength(1);
      expect(landings.filter((l) => l.error === 'invalid_request')).toHaveLength(4);
    });
  });

  describe('mix-up: a flow started for one provider', () => {
    it("cannot be completed with another provider's redirect (its code, its iss or ours)", async () => {
      const emailA = await account(acme, 'mixup-a');
      const emailB = await account(beta, 'mixup-b');
      const b = await begin(beta, 'beta', 'mixup-b');
      const bCode = redirectParam(b.redirect, 'code');

      // B's redirect as is, with A's state: B's iss is not A's.
      const a1 = await begin(acme, 'acme', 'mixup-a');
      const asIs = alterRedirect(b.redirect, { state: a1.state });
      expect(landing(await deliver(app, asIs))).toMatchObject({ code: null, error: 'invalid_request' });

      // B's code, A's state and A's iss: A's token endpoint does not know B's code.
      const a2 = await begin(acme, 'acme', 'mixup-a');
      const disguised = alterRedirect(a2.redirect, { code: bCode });
      expect(landing(await deliver(app, disguised))).toMatchObject({ code: null, error: 'invalid_request' });

      expect(await usersWith(emailA)).toBe(0);
      expect(await usersWith(emailB)).toBe(0);
    });
  });

  describe("the provider's ID token", () => {
    const now = () => Math.floor(Date.now() / 1000);
    const tampers: Array<[string, () => Parameters<TestProvider['tamperNextToken']>[0]]> = [
      ['a wrong nonce', () => ({ claims: { nonce: randomBytes(32).toString('base64url') } })],
      ['no nonce', () => ({ removeClaims: ['nonce'] })],
      ['another audience', () => ({ claims: { aud: 'client-someone-else' } })],
      ['another issuer', () => ({ claims: { iss: 'https://evil.example' } })],
      ['an exp in the past', () => ({ claims: { iat: now() - 7200, exp: now() - 3600 } })],
      ['no sub', () => ({ removeClaims: ['sub'] })],
      ['a signature by a key the provider never published', () => ({ foreignKey: true })],
    ];

    it.each(tampers)('with %s sends the app invalid_request and creates no account', async (_what, change) => {
      const sub = `tampered-${randomBytes(6).toString('hex')}`;
      const email = await account(acme, sub);
      const { redirect } = await begin(acme, 'acme', sub);
      await acme.tamperNextToken(change());
      const result = landing(await deliver(app, redirect));
      expect(result).toMatchObject({ code: null, error: 'invalid_request' });
      expect(await usersWith(email)).toBe(0);
    });
  });

  describe('the provider refusing', () => {
    it('error=access_denied (the user cancelled) reaches the app as access_denied', async () => {
      const email = await account(acme, 'denier');
      const keys = pkce();
      const url = await startUrl(app, 'acme', keys.challenge);
      const redirect = await acme.deny(url, 'denier');
      expect(redirectParam(redirect, 'error')).toBe('access_denied');
      expect(landing(await deliver(app, redirect))).toMatchObject({ code: null, error: 'access_denied' });
      expect(await usersWith(email)).toBe(0);
    });
  });

  describe('redirect URIs', () => {
    const uris = [
      ['a longer path', 'https://app.example.com/auth/done/evil'],
      ['a query', 'https://app.example.com/auth/done?x=1'],
      ['a fragment', 'https://app.example.com/auth/done#x'],
      ['a trailing slash', 'https://app.example.com/auth/done/'],
      ['a host that only starts the same', 'https://app.example.com.evil.com/auth/done'],
      ['a userinfo trick', 'https://app.example.com@evil.com/auth/done'],
      ['the host in another case', 'https://APP.example.com/auth/done'],
      ['the path in another case', 'https://app.example.com/Auth/done'],
      ['http instead of https', 'http://app.example.com/auth/done'],
      ['an encoded path', 'https://app.example.com/auth%2Fdone'],
      ['a dot segment', 'https://app.example.com/auth/../auth/done'],
      ['leading space', ' https://app.example.com/auth/done'],
    ];

    it.each(uris)('refuses %s (exact match only): BAD_USER_INPUT on redirectUri', async (_what, redirectUri) => {
      const res = await start(app, 'acme', { redirectUri });
      expect(res.status).toBe(200);
      expect(res.data?.start ?? null).toBeNull();
      expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'redirectUri' });
    });

    it('refuses an unknown provider and a malformed code challenge with BAD_USER_INPUT on the field', async () => {
      const unknown = await start(app, 'evil');
      expect(unknown.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'provider' });
      const good = pkce().challenge;
      for (const challenge of ['', 'short', `${good}x`, `${good.slice(0, 42)}=`, `${good.slice(0, 42)}+`]) {
        const res = await start(app, 'acme', { challenge });
        expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'codeChallenge' });
      }
    });
  });

  describe("the app's one-time code", () => {
    async function landed(sub: string) {
      await account(acme, sub);
      const { keys, redirect } = await begin(acme, 'acme', sub);
      const { code } = landing(await deliver(app, redirect));
      expect(code).toEqual(expect.any(String));
      remember(code);
      return { code: code!, verifier: keys.verifier };
    }

    it('is burned by a wrong PKCE verifier: INVALID_OTP, then the right verifier is refused too', async () => {
      const { code, verifier } = await landed('wrong-verifier');
      expect(errorCode(await complete(app, code, pkce().verifier))).toBe('INVALID_OTP');
      const after = await complete(app, code, verifier);
      expect(errorCode(after)).toBe('INVALID_OTP');
      expect(after.data?.completeSocialSignIn ?? null).toBeNull();
    });

    it('refuses a malformed verifier with BAD_USER_INPUT on codeVerifier', async () => {
      const { code } = await landed('malformed-verifier');
      for (const verifier of ['short', 'a'.repeat(129), `${'a'.repeat(42)} `, `${'a'.repeat(43)}+/`]) {
        const res = await complete(app, code, verifier);
        expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'codeVerifier' });
      }
    });

    it('refuses a code nobody was given: INVALID_OTP', async () => {
      const res = await complete(app, randomBytes(32).toString('base64url'), pkce().verifier);
      expect(errorCode(res)).toBe('INVALID_OTP');
    });

    it('is used once: replayed → INVALID_OTP', async () => {
      const { code, verifier } = await landed('replayed-code');
      const first = await complete(app, code, verifier);
      expect(first.data?.completeSocialSignIn.accessToken).toEqual(expect.any(String));
      remember(first.data?.completeSocialSignIn.accessToken, first.data?.completeSocialSignIn.refreshToken);
      expect(errorCode(await complete(app, code, verifier))).toBe('INVALID_OTP');
    });

    it('expires after 60 s: INVALID_OTP at 61 s', async () => {
      const { code, verifier } = await landed('late-code');
      app.clock.advance(61);
      const res = await complete(app, code, verifier);
      expect(errorCode(res)).toBe('INVALID_OTP');
      expect(res.data?.completeSocialSignIn ?? null).toBeNull();
    });

    it('redeemed 5 times at once with the right verifier: exactly one sign-in', async () => {
      const { code, verifier } = await landed('race-code');
      const answers = await Promise.all(Array.from({ length: 5 }, () => complete(app, code, verifier)));
      const won = answers.filter((a) => a.data?.completeSocialSignIn);
      remember(...won.map((a) => a.data!.completeSocialSignIn.accessToken));
      expect(won).toHaveLength(1);
      expect(answers.filter((a) => errorCode(a) === 'INVALID_OTP')).toHaveLength(4);
    });
  });

  describe('a provider that is down', () => {
    it('at start: INTERNAL_SERVER_ERROR naming the provider, HTTP 200, and the server keeps answering', async () => {
      for (let attempt = 0; attempt < 2; attempt++) {
        const res = await start(app, 'down');
        expect(res.status).toBe(200);
        expect(res.data?.start ?? null).toBeNull();
        expect(res.errors?.[0]?.extensions?.code).toBe('INTERNAL_SERVER_ERROR');
        expect(res.errors?.[0]?.message).toMatch(/"down"/);
      }
      const providers = await app.gql<{ identityProviders: Array<{ id: string }> }>('{ identityProviders { id } }');
      expect(providers.data?.identityProviders.map((p) => p.id)).toEqual(
        expect.arrayContaining(['acme', 'beta', 'doomed', 'down']),
      );
    });

    it('between start and callback: the app still gets its redirect, with error=server_error', async () => {
      const email = await account(doomed, 'orphan');
      const { redirect } = await begin(doomed, 'doomed', 'orphan');
      await doomed.stop();
      const answer = await deliver(app, redirect);
      expect(answer.status).toBe(303);
      expect(landing(answer)).toMatchObject({ code: null, error: 'server_error' });
      expect(await usersWith(email)).toBe(0);
    });
  });

  describe('the callback answer', () => {
    it('is never cached and sends no referrer, for a 303 and for a 400', async () => {
      await account(acme, 'headers');
      const { redirect } = await begin(acme, 'acme', 'headers');
      const redirected = await deliver(app, redirect);
      const refused = await callbackGet({ state: randomBytes(32).toString('base64url'), code: 'x' });
      expect(redirected.status).toBe(303);
      expect(refused.status).toBe(400);
      for (const answer of [redirected, refused]) {
        expect(answer.headers.get('cache-control')).toMatch(/\bno-store\b/);
        expect(answer.headers.get('referrer-policy')).toBe('no-referrer');
      }
      remember(landing(redirected).code);
    });
  });

  describe('the logs', () => {
    it('hold no code, state, nonce, verifier, ID token or session token, after a sign-in and refusals', async () => {
      // A successful sign-in, every secret of it kept.
      await account(acme, 'logged');
      const ok = await begin(acme, 'acme', 'logged');
      const { code } = landing(await deliver(app, ok.redirect));
      remember(code);
      const signedIn = await complete(app, code!, ok.keys.verifier);
      const tokens = signedIn.data!.completeSocialSignIn;
      remember(tokens.accessToken, tokens.refreshToken);
      // Refusals: a replayed redirect, a replayed app code, a foreign-signed ID token, a forged state.
      expect(landing(await deliver(app, ok.redirect)).error).toBe('invalid_request');
      expect(errorCode(await complete(app, code!, ok.keys.verifier))).toBe('INVALID_OTP');
      await account(acme, 'logged-2');
      const bad = await begin(acme, 'acme', 'logged-2');
      await acme.tamperNextToken({ foreignKey: true });
      expect(landing(await deliver(app, bad.redirect)).error).toBe('invalid_request');
      const forged = randomBytes(32).toString('base64url');
      remember(forged);
      expect((await callbackGet({ state: forged, code: 'forged-code-value-1234567890' })).status).toBe(400);

      // The capture works: the refusals were logged.
      expect(log.lines.some((l) => l.includes('social sign-in refused'))).toBe(true);
      expect(secrets.size).toBeGreaterThanOrEqual(10);
      const leaks = log.lines.flatMap((line) => [...secrets].filter((s) => line.includes(s)).map((s) => ({ s, line })));
      expect(leaks).toEqual([]);
      // No JWT at all (an ID token, an access token): base64url JSON header and payload.
      expect(log.lines.filter((l) => /eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+/.test(l))).toEqual([]);
    });
  });
});

describe('without OAUTH_REDIRECT_URIS', () => {
  it('refuses every redirect URI: BAD_USER_INPUT on redirectUri', async () => {
    const bare = await startTestApp({ env: { PUBLIC_URL, ...providerEnv('acme', acme) } });
    try {
      const res = await start(bare, 'acme');
      expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'redirectUri' });
    } finally {
      await bare.stop();
    }
  });
});
