// The example client's social sign-in helpers (examples/client: startSocialSignIn, completeSocialSignIn) against the
// live server and a real OpenID provider (helpers/oidc-provider.ts): the PKCE pair they make and keep, the provider's
// forms, the callback's redirect, the code exchanged for tokens kept like login's; and the link helpers
// (startSocialLink, completeSocialLink) for a signed-in user.
import { createHash } from 'node:crypto';
import { createPortcullisClient } from '../examples/client/client';
import { IdentityProvidersDocument, MeDocument } from '../examples/client/generated/graphql';
import {
  memoryVerifierStorage,
  SocialSignInError,
  VERIFIER_KEY,
  type VerifierStorage,
} from '../examples/client/social-sign-in';
import { PASSWORD, signUp, uniqueEmail } from './helpers/flows';
import { startTestProvider, type TestProvider } from './helpers/oidc-provider';
import {
  acmeEnv,
  APP_REDIRECT,
  complete,
  deliver,
  fixtureClient,
  landing,
  socialLink,
  socialSignIn,
} from './helpers/social';
import { errorCode, startTestApp, type TestApp } from './helpers/test-server';

let provider: TestProvider;
let app: TestApp;

beforeAll(async () => {
  provider = await startTestProvider([fixtureClient('acme')]);
  app = await startTestApp({
    env: { ...acmeEnv(provider) },
  });
}, 60_000);

afterAll(async () => {
  await app?.stop();
  await provider?.stop();
});

/** An example client whose fetch records the variables of every operation it sends. */
function recordingClient(verifierStorage?: VerifierStorage) {
  const sent: Array<{ operation: string; variables: Record<string, unknown> }> = [];
  const client = createPortcullisClient({
    uri: app.url,
    verifierStorage,
    fetch: async (input, init) => {
      const { operationName, variables } = JSON.parse(typeof init?.body === 'string' ? init.body : '{}') as {
        operationName: string;
        variables: Record<string, unknown>;
      };
      sent.push({ operation: operationName, variables });
      return fetch(input, init);
    },
  });
  return { client, sent };
}

/** The browser's part: the provider's forms as `sub`, then the callback; answers the URL the app lands on. */
async function throughProvider(authorizationUrl: string, sub: string, atConsent: 'consent' | 'deny' = 'consent') {
  const redirect =
    atConsent === 'consent'
      ? await provider.authorize(authorizationUrl, sub)
      : await provider.deny(authorizationUrl, sub);
  return landing(await deliver(app, redirect)).location;
}

it('starts with a fresh PKCE pair, keeps the verifier, and completes from the redirect URL like login', async () => {
  const email = uniqueEmail('client-social');
  await provider.setAccount({ sub: 'client-1', email, email_verified: true, name: 'Ada' });
  const storage = memoryVerifierStorage();
  const { client, sent } = recordingClient(storage);

  const authorizationUrl = await client.startSocialSignIn({ provider: 'acme', redirectUri: APP_REDIRECT });

  expect(new URL(authorizationUrl).origin).toBe(provider.issuer);
  const verifier = storage.getItem(VERIFIER_KEY)!;
  expect(verifier).toMatch(/^[A-Za-z0-9_-]{43}$/);
  expect(sent).toEqual([
    {
      operation: 'StartSocialSignIn',
      variables: {
        provider: 'acme',
        redirectUri: APP_REDIRECT,
        codeChallenge: createHash('sha256').update(verifier).digest('base64url'),
      },
    },
  ]);

  const location = await throughProvider(authorizationUrl, 'client-1');
  expect(location.startsWith(`${APP_REDIRECT}?code=`)).toBe(true);
  const payload = await client.completeSocialSignIn({ url: location });

  expect(payload).toMatchObject({ tokenType: 'Bearer', user: { email, emailVerified: true, fullName: 'Ada' } });
  expect(sent.at(-1)).toEqual({
    operation: 'CompleteSocialSignIn',
    variables: { code: new URL(location).searchParams.get('code'), codeVerifier: verifier },
  });
  expect(storage.getItem(VERIFIER_KEY)).toBeNull(); // one attempt per verifier
  expect(client.tokens.read()).toEqual({ accessToken: payload.accessToken, refreshToken: payload.refreshToken });
  const me = await client.apollo.query({ query: MeDocument, fetchPolicy: 'network-only', errorPolicy: 'none' });
  expect(me.data.me).toMatchObject({ id: payload.user.id, email });
  // The code was single use.
  expect(errorCode(await complete(app, new URL(location).searchParams.get('code')!, verifier))).toBe('INVALID_OTP');
});

it('lists the providers for the sign-in buttons, and works with its default storage (memory, outside a browser)', async () => {
  const email = uniqueEmail('client-social');
  await provider.setAccount({ sub: 'client-2', email, email_verified: true });
  const client = createPortcullisClient({ uri: app.url });

  const { data } = await client.apollo.query({ query: IdentityProvidersDocument, errorPolicy: 'none' });
  expect(data.identityProviders.map(({ id, displayName }) => ({ id, displayName }))).toEqual([
    { id: 'acme', displayName: 'Acme' },
  ]);

  const authorizationUrl = await client.startSocialSignIn({ provider: 'acme', redirectUri: APP_REDIRECT });
  const code = new URL(await throughProvider(authorizationUrl, 'client-2')).searchParams.get('code')!;
  const payload = await client.completeSocialSignIn({ code });

  expect(payload.user.email).toBe(email);
  expect(client.tokens.read()?.accessToken).toBe(payload.accessToken);
});

it('rejects ?error=… with a SocialSignInError carrying its code, and forgets the verifier', async () => {
  await provider.setAccount({ sub: 'client-3', email: uniqueEmail('client-social'), email_verified: true });
  const storage = memoryVerifierStorage();
  const { client, sent } = recordingClient(storage);
  const authorizationUrl = await client.startSocialSignIn({ provider: 'acme', redirectUri: APP_REDIRECT });

  const location = await throughProvider(authorizationUrl, 'client-3', 'deny');
  const failure = await client.completeSocialSignIn({ url: location }).then(
    () => null,
    (error: unknown) => error,
  );

  expect(failure).toBeInstanceOf(SocialSignInError);
  expect(failure).toMatchObject({ code: 'access_denied', message: 'Social sign-in failed: access_denied' });
  expect(storage.getItem(VERIFIER_KEY)).toBeNull();
  expect(client.tokens.read()).toBeNull();
  expect(sent.map((s) => s.operation)).toEqual(['StartSocialSignIn']);
});

it('refuses to complete without a kept verifier, or from a URL that is no redirect, sending nothing', async () => {
  await provider.setAccount({ sub: 'client-4', email: uniqueEmail('client-social'), email_verified: true });
  const starter = createPortcullisClient({ uri: app.url, verifierStorage: memoryVerifierStorage() });
  const authorizationUrl = await starter.startSocialSignIn({ provider: 'acme', redirectUri: APP_REDIRECT });
  const location = await throughProvider(authorizationUrl, 'client-4');
  const { client: other, sent } = recordingClient(memoryVerifierStorage());

  await expect(other.completeSocialSignIn({ url: location })).rejects.toThrow(/No social sign-in was started here/);
  await expect(other.completeSocialSignIn({ url: APP_REDIRECT })).rejects.toThrow(/has no code or error/);

  expect(sent).toEqual([]);
  expect(other.tokens.read()).toBeNull();
  // The client that started it still can.
  expect((await starter.completeSocialSignIn({ url: location })).user.emailVerified).toBe(true);
});

it('start rejects a redirect URI the server does not list, and keeps no verifier', async () => {
  const storage = memoryVerifierStorage();
  const client = createPortcullisClient({ uri: app.url, verifierStorage: storage });

  await expect(
    client.startSocialSignIn({ provider: 'acme', redirectUri: 'https://evil.example.com/done' }),
  ).rejects.toThrow(/OAUTH_REDIRECT_URIS/);

  expect(storage.getItem(VERIFIER_KEY)).toBeNull();
});

describe('linking, for a signed-in user', () => {
  /** A password account, signed in with `login` on a recording example client. */
  async function signedInClient(storage: VerifierStorage) {
    const email = uniqueEmail('client-link');
    await signUp(app, email);
    const recording = recordingClient(storage);
    const { user } = await recording.client.login({ email, password: PASSWORD });
    return { ...recording, user };
  }

  it('links the provider account and answers the identity; the provider then signs in to that account', async () => {
    const providerEmail = uniqueEmail('client-link-provider');
    await provider.setAccount({ sub: 'client-link-1', email: providerEmail, email_verified: true });
    const storage = memoryVerifierStorage();
    const { client, sent, user } = await signedInClient(storage);
    const signedIn = client.tokens.read();

    const authorizationUrl = await client.startSocialLink({ provider: 'acme', redirectUri: APP_REDIRECT });

    expect(new URL(authorizationUrl).origin).toBe(provider.issuer);
    const verifier = storage.getItem(VERIFIER_KEY)!;
    expect(sent.at(-1)).toEqual({
      operation: 'StartSocialLink',
      variables: {
        provider: 'acme',
        redirectUri: APP_REDIRECT,
        codeChallenge: createHash('sha256').update(verifier).digest('base64url'),
      },
    });

    const location = await throughProvider(authorizationUrl, 'client-link-1');
    const identity = await client.completeSocialLink({ url: location });

    expect(identity).toMatchObject({ id: expect.any(String), provider: 'acme', email: providerEmail });
    expect(typeof identity.createdAt).toBe('string');
    expect(sent.at(-1)).toEqual({
      operation: 'CompleteSocialLink',
      variables: { code: new URL(location).searchParams.get('code'), codeVerifier: verifier },
    });
    expect(storage.getItem(VERIFIER_KEY)).toBeNull();
    expect(client.tokens.read()).toBe(signedIn); // a link keeps the session as it is
    // The provider now signs in to the password account.
    expect((await socialSignIn(app, provider, 'acme', 'client-link-1')).user).toMatchObject({
      id: user.id,
      email: user.email,
    });
  });

  it('rejects an identity already linked to another user with SocialSignInError identity_conflict', async () => {
    await provider.setAccount({
      sub: 'client-link-2',
      email: uniqueEmail('client-link-provider'),
      email_verified: true,
    });
    const owner = await signUp(app, uniqueEmail('client-link'));
    await socialLink(app, provider, 'acme', 'client-link-2', owner.accessToken);
    const storage = memoryVerifierStorage();
    const { client, sent } = await signedInClient(storage);

    const authorizationUrl = await client.startSocialLink({ provider: 'acme', redirectUri: APP_REDIRECT });
    const location = await throughProvider(authorizationUrl, 'client-link-2');
    const failure = await client.completeSocialLink({ url: location }).then(
      () => null,
      (error: unknown) => error,
    );

    expect(failure).toBeInstanceOf(SocialSignInError);
    expect(failure).toMatchObject({ code: 'identity_conflict' });
    expect(storage.getItem(VERIFIER_KEY)).toBeNull();
    expect(sent.map((s) => s.operation)).toEqual(['Login', 'StartSocialLink']);
    // It stays the owner's.
    expect((await socialSignIn(app, provider, 'acme', 'client-link-2')).user.id).toBe(owner.user.id);
  });
});
