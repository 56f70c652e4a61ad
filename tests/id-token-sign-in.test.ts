// signInWithIdToken as native apps call it, and as an attacker would: ID tokens minted by a real provider's key (or
// another), replays of a token or of its nonce, audiences, issuers, algorithms the server must never accept, and the
// linking rules. Checked from the outside: the GraphQL code, the account it lands on, the users table.
import { createHmac, randomBytes } from 'node:crypto';

import { login, uniqueEmail } from './helpers/flows';
import { createUser } from './helpers/factories';
import { startTestProvider, type TestProvider } from './helpers/oidc-provider';
import { APP_REDIRECT, fixtureClient, idTokenSignIn, nonceClaim, providerEnv, PUBLIC_URL } from './helpers/social';
import { errorCode, startTestApp, type TestApp } from './helpers/test-server';

let provider: TestProvider;
let app: TestApp;

beforeAll(async () => {
  provider = await startTestProvider([fixtureClient('acme')]);
});

afterAll(async () => {
  await provider?.stop();
});

const now = () => Math.floor(Date.now() / 1000);
const rawNonce = () => randomBytes(32).toString('base64url');
const newSub = (what: string) => `${what}-${randomBytes(6).toString('hex')}`;

/** The claims of a good token for client-acme: a fresh sub and verified email, the nonce claim of `raw`. */
function goodClaims(raw: string, extra: Record<string, unknown> = {}) {
  return {
    aud: 'client-acme',
    sub: newSub('idt'),
    email: uniqueEmail('idt'),
    email_verified: true,
    nonce: nonceClaim(raw),
    ...extra,
  };
}

async function usersWith(target: TestApp, email: string): Promise<number> {
  const rows = await target.sql<{ n: number }>('select count(*)::int as n from users where email = ?', [email]);
  return rows[0]!.n;
}

function b64json(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/** The kid the provider signs under (from the header of a token it minted). */
async function providerKid(): Promise<string> {
  const token = await provider.mintIdToken({ sub: 'kid-probe', aud: 'client-acme' });
  return JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()).kid;
}

// acme, configured as native apps use it. Its app stops before the describe blocks that start apps of their own:
// on PGlite a worker holds one test database at a time (helpers/test-database.ts).
describe('acme for native apps', () => {
  beforeAll(async () => {
    app = await startTestApp({
      env: {
        PUBLIC_URL,
        OAUTH_REDIRECT_URIS: APP_REDIRECT,
        ...providerEnv('acme', provider, { OIDC_ACME_ID_TOKEN_AUDIENCES: 'ios-acme, android-acme' }),
      },
    });
  });

  afterAll(async () => {
    await app?.stop();
  });

  describe('a valid ID token', () => {
    it('with the hex nonce claim signs in a new account, its email verified as the provider says, no password', async () => {
      const raw = rawNonce();
      const claims = goodClaims(raw, { name: 'Ada Lovelace' });
      const res = await idTokenSignIn(app, 'acme', await provider.mintIdToken(claims), raw);
      expect(res.errors).toBeUndefined();
      const payload = res.data!.signInWithIdToken;
      expect(payload.user).toMatchObject({ email: claims.email, emailVerified: true });
      const me = await app.gql('{ me { id hasPassword identities { provider email } } }', undefined, {
        token: payload.accessToken,
      });
      expect(me.data?.me).toEqual({
        id: payload.user.id,
        hasPassword: false,
        identities: [{ provider: 'acme', email: claims.email }],
      });
    });

    it('with the base64url nonce claim is accepted too', async () => {
      const raw = rawNonce();
      const claims = goodClaims(raw, { nonce: nonceClaim(raw, 'base64url') });
      const res = await idTokenSignIn(app, 'acme', await provider.mintIdToken(claims), raw);
      expect(res.data?.signInWithIdToken.user.email).toBe(claims.email);
    });

    it('for an audience listed in OIDC_ACME_ID_TOKEN_AUDIENCES (a native client id) is accepted', async () => {
      for (const aud of ['ios-acme', 'android-acme']) {
        const raw = rawNonce();
        const claims = goodClaims(raw, { aud });
        const res = await idTokenSignIn(app, 'acme', await provider.mintIdToken(claims), raw);
        expect(res.data?.signInWithIdToken.user.email).toBe(claims.email);
      }
    });

    it('signs in to the account of (issuer, sub) again, whatever email it now carries', async () => {
      const first = goodClaims(rawNonce());
      const raw1 = rawNonce();
      const one = await idTokenSignIn(
        app,
        'acme',
        await provider.mintIdToken({ ...first, nonce: nonceClaim(raw1) }),
        raw1,
      );
      const raw2 = rawNonce();
      const moved = { ...first, email: uniqueEmail('moved'), nonce: nonceClaim(raw2) };
      const two = await idTokenSignIn(app, 'acme', await provider.mintIdToken(moved), raw2);
      expect(two.data?.signInWithIdToken.user.id).toBe(one.data?.signInWithIdToken.user.id);
      expect(await usersWith(app, moved.email)).toBe(0);
    });

    it('with a verified email links to the verified local account of that email', async () => {
      const local = await createUser(app);
      const raw = rawNonce();
      const res = await idTokenSignIn(
        app,
        'acme',
        await provider.mintIdToken(goodClaims(raw, { email: local.email })),
        raw,
      );
      expect(res.data?.signInWithIdToken.user).toMatchObject({ id: local.id, emailVerified: true });
      expect(await usersWith(app, local.email)).toBe(1);
      expect(errorCode(await login(app, local.email, local.password))).toBeUndefined(); // the password stays
    });

    it('with a verified email takes over an unverified local account: verified, its pending password dropped', async () => {
      const squatter = await createUser(app, { verified: false });
      const raw = rawNonce();
      const claims = goodClaims(raw, { email: squatter.email });
      const res = await idTokenSignIn(app, 'acme', await provider.mintIdToken(claims), raw);
      const payload = res.data!.signInWithIdToken;
      expect(payload.user).toMatchObject({ id: squatter.id, emailVerified: true });
      const me = await app.gql('{ me { hasPassword } }', undefined, { token: payload.accessToken });
      expect(me.data?.me).toEqual({ hasPassword: false });
      expect(errorCode(await login(app, squatter.email, squatter.password))).toBe('INVALID_CREDENTIALS');
    });
  });

  describe('replays', () => {
    it('the same token again: INVALID_CREDENTIALS', async () => {
      const raw = rawNonce();
      const token = await provider.mintIdToken(goodClaims(raw));
      expect((await idTokenSignIn(app, 'acme', token, raw)).data?.signInWithIdToken).toBeTruthy();
      const again = await idTokenSignIn(app, 'acme', token, raw);
      expect(errorCode(again)).toBe('INVALID_CREDENTIALS');
      expect(again.data?.signInWithIdToken ?? null).toBeNull();
    });

    it('a new token with a nonce already used: INVALID_CREDENTIALS', async () => {
      const raw = rawNonce();
      const claims = goodClaims(raw);
      expect((await idTokenSignIn(app, 'acme', await provider.mintIdToken(claims), raw)).data).toBeTruthy();
      const later = await provider.mintIdToken({ ...claims, iat: now() + 1 });
      expect(errorCode(await idTokenSignIn(app, 'acme', later, raw))).toBe('INVALID_CREDENTIALS');
    });

    it('a new token with a nonce already used, in the other encoding of its SHA-256: INVALID_CREDENTIALS', async () => {
      const raw = rawNonce();
      const claims = goodClaims(raw);
      expect((await idTokenSignIn(app, 'acme', await provider.mintIdToken(claims), raw)).data).toBeTruthy();
      const other = await provider.mintIdToken({ ...claims, nonce: nonceClaim(raw, 'base64url') });
      expect(errorCode(await idTokenSignIn(app, 'acme', other, raw))).toBe('INVALID_CREDENTIALS');
    });

    it('5 at once with the same token: exactly one sign-in', async () => {
      const raw = rawNonce();
      const token = await provider.mintIdToken(goodClaims(raw));
      const answers = await Promise.all(Array.from({ length: 5 }, () => idTokenSignIn(app, 'acme', token, raw)));
      expect(answers.filter((a) => a.data?.signInWithIdToken)).toHaveLength(1);
      expect(answers.filter((a) => errorCode(a) === 'INVALID_CREDENTIALS')).toHaveLength(4);
    });
  });

  describe('a token the server must refuse: INVALID_CREDENTIALS, no account', () => {
    const cases: Array<[string, (raw: string) => Record<string, unknown>, { foreignKey?: boolean }]> = [
      ['for another audience', (raw) => goodClaims(raw, { aud: 'client-someone-else' }), {}],
      ['for no audience', (raw) => ({ ...goodClaims(raw), aud: undefined }), {}],
      ['from another issuer', (raw) => goodClaims(raw, { iss: 'https://evil.example' }), {}],
      ['without an issuer', (raw) => goodClaims(raw, { iss: null }), {}],
      ['expired (real time)', (raw) => goodClaims(raw, { iat: now() - 7200, exp: now() - 3600 }), {}],
      ['without exp', (raw) => goodClaims(raw, { exp: null }), {}],
      ['not valid yet', (raw) => goodClaims(raw, { nbf: now() + 3600 }), {}],
      ['without sub', (raw) => ({ ...goodClaims(raw), sub: undefined }), {}],
      ['with the nonce claim of another nonce', () => goodClaims(rawNonce()), {}],
      ['without a nonce claim (a nonce given)', (raw) => ({ ...goodClaims(raw), nonce: undefined }), {}],
      ['signed by a key the provider never published', (raw) => goodClaims(raw), { foreignKey: true }],
    ];

    // Every row has its options: jest would take a third parameter missing from a row for a done callback.
    it.each(cases)('%s', async (_what, claimsOf, options) => {
      const raw = rawNonce();
      const claims = JSON.parse(JSON.stringify(claimsOf(raw))) as Record<string, unknown>; // drops the undefined ones
      const res = await idTokenSignIn(app, 'acme', await provider.mintIdToken(claims, options), raw);
      expect(errorCode(res)).toBe('INVALID_CREDENTIALS');
      expect(res.data?.signInWithIdToken ?? null).toBeNull();
      expect(await usersWith(app, String(claims.email))).toBe(0);
    });

    it('a stolen token with its nonce claim passed as the nonce (the attacker does not know the raw one)', async () => {
      const raw = rawNonce();
      const claims = goodClaims(raw);
      const token = await provider.mintIdToken(claims);
      for (const guess of [claims.nonce, nonceClaim(raw, 'base64url'), raw.toUpperCase(), '']) {
        expect(errorCode(await idTokenSignIn(app, 'acme', token, guess))).toBe('INVALID_CREDENTIALS');
      }
      expect(await usersWith(app, claims.email)).toBe(0);
      // The refusals spent nothing: the app with the raw nonce still signs in.
      expect((await idTokenSignIn(app, 'acme', token, raw)).data?.signInWithIdToken.user.email).toBe(claims.email);
    });

    it('HS256, "signed" with the client secret under the provider kid', async () => {
      const raw = rawNonce();
      const claims = { ...goodClaims(raw), iss: provider.issuer, iat: now(), exp: now() + 600 };
      const input = `${b64json({ alg: 'HS256', typ: 'JWT', kid: await providerKid() })}.${b64json(claims)}`;
      const mac = createHmac('sha256', 'secret-acme-that-is-long-enough').update(input).digest('base64url');
      expect(errorCode(await idTokenSignIn(app, 'acme', `${input}.${mac}`, raw))).toBe('INVALID_CREDENTIALS');
      expect(await usersWith(app, claims.email)).toBe(0);
    });

    it('alg none, unsigned', async () => {
      const raw = rawNonce();
      const claims = { ...goodClaims(raw), iss: provider.issuer, iat: now(), exp: now() + 600 };
      for (const alg of ['none', 'None', 'NONE']) {
        const token = `${b64json({ alg, typ: 'JWT' })}.${b64json(claims)}.`;
        expect(errorCode(await idTokenSignIn(app, 'acme', token, raw))).toBe('INVALID_CREDENTIALS');
      }
      expect(await usersWith(app, claims.email)).toBe(0);
    });

    it('a good token with its signature cut off or its payload swapped', async () => {
      const raw = rawNonce();
      const victim = await provider.mintIdToken(goodClaims(raw));
      const [header, , signature] = victim.split('.');
      const forged = goodClaims(raw);
      const swapped = `${header}.${b64json({ ...forged, iss: provider.issuer, iat: now(), exp: now() + 600 })}.${signature}`;
      for (const token of [`${header}.${victim.split('.')[1]}.`, swapped, 'not-a-jwt', '']) {
        expect(errorCode(await idTokenSignIn(app, 'acme', token, raw))).toBe('INVALID_CREDENTIALS');
      }
      expect(await usersWith(app, forged.email)).toBe(0);
    });
  });

  describe('the nonce argument', () => {
    it('is required by default: BAD_USER_INPUT on nonce, even for a token without a nonce claim', async () => {
      for (const claims of [goodClaims(rawNonce()), { ...goodClaims(''), nonce: undefined }]) {
        const token = await provider.mintIdToken(JSON.parse(JSON.stringify(claims)));
        const res = await idTokenSignIn(app, 'acme', token);
        expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'nonce' });
        expect(await usersWith(app, claims.email)).toBe(0);
      }
    });
  });

  describe('linking', () => {
    it('an unverified (or unsaid) provider email of an existing account: IDENTITY_CONFLICT, the account untouched', async () => {
      const local = await createUser(app);
      for (const verified of [{ email_verified: false }, { email_verified: undefined }, { email_verified: 'true' }]) {
        const raw = rawNonce();
        const claims = JSON.parse(JSON.stringify(goodClaims(raw, { email: local.email, ...verified })));
        const res = await idTokenSignIn(app, 'acme', await provider.mintIdToken(claims), raw);
        expect(errorCode(res)).toBe('IDENTITY_CONFLICT');
        expect(res.data?.signInWithIdToken ?? null).toBeNull();
      }
      const signedIn = await login(app, local.email, local.password);
      const me = await app.gql('{ me { identities { provider } } }', undefined, {
        token: signedIn.data!.login.accessToken,
      });
      expect(me.data?.me).toEqual({ identities: [] });
    });
  });

  describe('the provider', () => {
    it('unknown: BAD_USER_INPUT on provider', async () => {
      const raw = rawNonce();
      const res = await idTokenSignIn(app, 'evil', await provider.mintIdToken(goodClaims(raw)), raw);
      expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'provider' });
    });
  });
});

describe('a provider with *_ID_TOKEN_NONCE=optional and hosted domains (google)', () => {
  let loose: TestApp;

  beforeAll(async () => {
    loose = await startTestApp({
      env: {
        PUBLIC_URL,
        OAUTH_REDIRECT_URIS: APP_REDIRECT,
        GOOGLE_CLIENT_ID: 'client-google',
        GOOGLE_CLIENT_SECRET: 'secret-google-that-is-long-enough',
        GOOGLE_ISSUER: provider.issuer,
        GOOGLE_ID_TOKEN_NONCE: 'optional',
        GOOGLE_HOSTED_DOMAINS: 'example.com',
      },
    });
  });

  afterAll(async () => {
    await loose?.stop();
  });

  const claims = (extra: Record<string, unknown> = {}) => ({
    aud: 'client-google',
    sub: newSub('g'),
    email: uniqueEmail('g'),
    email_verified: true,
    hd: 'example.com',
    ...extra,
  });

  it('signs in once with a token without nonce; the same token again is INVALID_CREDENTIALS', async () => {
    const c = claims();
    const token = await provider.mintIdToken(c);
    expect((await idTokenSignIn(loose, 'google', token)).data?.signInWithIdToken.user.email).toBe(c.email);
    expect(errorCode(await idTokenSignIn(loose, 'google', token))).toBe('INVALID_CREDENTIALS');
  });

  it('refuses a token that carries a nonce claim when no nonce is given (a stolen token)', async () => {
    const c = claims({ nonce: nonceClaim(rawNonce()) });
    expect(errorCode(await idTokenSignIn(loose, 'google', await provider.mintIdToken(c)))).toBe('INVALID_CREDENTIALS');
    expect(await usersWith(loose, c.email)).toBe(0);
  });

  it('refuses a token of another hosted domain, or of none', async () => {
    for (const c of [claims({ hd: 'evil.com' }), claims({ hd: undefined })]) {
      const token = await provider.mintIdToken(JSON.parse(JSON.stringify(c)));
      expect(errorCode(await idTokenSignIn(loose, 'google', token))).toBe('INVALID_CREDENTIALS');
      expect(await usersWith(loose, c.email)).toBe(0);
    }
  });

  it("refuses acme's client id as the audience (each provider has its own)", async () => {
    const c = claims({ aud: 'client-acme' });
    expect(errorCode(await idTokenSignIn(loose, 'google', await provider.mintIdToken(c)))).toBe('INVALID_CREDENTIALS');
  });
});

describe('a provider that is down', () => {
  it("after discovery, when its keys are needed: INTERNAL_SERVER_ERROR naming it, not the token's fault", async () => {
    const down = await startTestProvider([fixtureClient('acme')]);
    const other = await startTestApp({
      env: { PUBLIC_URL, OAUTH_REDIRECT_URIS: APP_REDIRECT, ...providerEnv('acme', down) },
    });
    try {
      // Discovery happens; a token that is not even a JWT never needs the keys.
      expect(errorCode(await idTokenSignIn(other, 'acme', 'not-a-jwt', rawNonce()))).toBe('INVALID_CREDENTIALS');
      const raw = rawNonce();
      const claims = goodClaims(raw);
      const token = await down.mintIdToken(claims);
      await down.stop();
      const res = await idTokenSignIn(other, 'acme', token, raw);
      expect(res.status).toBe(200);
      expect(res.errors?.[0]?.extensions?.code).toBe('INTERNAL_SERVER_ERROR');
      expect(res.errors?.[0]?.message).toMatch(/"acme"/);
      expect(await usersWith(other, claims.email)).toBe(0);
    } finally {
      await other.stop();
      await down.stop();
    }
  });
});
