// Sign in with an OpenID provider, through the real server and a real provider (oidc-provider in a child
// process): new accounts, the linking rules, and the flow's one-time steps.
import { startTestProvider, type TestProvider } from './helpers/oidc-provider';
import { startTestApp, type TestApp } from './helpers/test-server';
import { uniqueEmail } from './helpers/flows';
import { complete, fixtureClient, providerEnv, PUBLIC_URL, socialSignIn, roundTrip } from './helpers/social';

let provider: TestProvider;
let app: TestApp;

beforeAll(async () => {
  provider = await startTestProvider([fixtureClient('acme')]);
  app = await startTestApp({
    env: {
      PUBLIC_URL,
      OAUTH_REDIRECT_URIS: 'https://app.example.com/auth/done',
      ...providerEnv('acme', provider),
    },
  });
});

afterAll(async () => {
  await app?.stop();
  await provider?.stop();
});

describe('a new account', () => {
  it('is created from the provider profile, without a password, its email verified as the provider says', async () => {
    const email = uniqueEmail('social');
    await provider.setAccount({ sub: 'new-1', email, email_verified: true, name: 'Grace Hopper' });
    const signedIn = await socialSignIn(app, provider, 'acme', 'new-1');
    expect(signedIn.user).toMatchObject({ email, emailVerified: true });
    const me = await app.gql('{ me { email fullName hasPassword identities { provider email } } }', undefined, {
      token: signedIn.accessToken,
    });
    expect(me.data?.me).toEqual({
      email,
      fullName: 'Grace Hopper',
      hasPassword: false,
      identities: [{ provider: 'acme', email }],
    });
  });

  it('refuses the one-time code a second time', async () => {
    await provider.setAccount({ sub: 'new-2', email: uniqueEmail('social'), email_verified: true });
    const trip = await roundTrip(app, provider, 'acme', 'new-2');
    expect((await complete(app, trip.code!, trip.verifier)).data?.completeSocialSignIn).toBeTruthy();
    const again = await complete(app, trip.code!, trip.verifier);
    expect(again.errors?.[0]?.extensions?.code).toBe('INVALID_OTP');
  });
});
