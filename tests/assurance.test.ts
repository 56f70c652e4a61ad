// How a session was authenticated travels in its access tokens (acr, amr, auth_time) and answers `assurance`: the
// method of each way in, a level of 1 for one factor, and an authentication time that refreshing keeps.
import jwt from 'jsonwebtoken';
import { adminToken } from './helpers/factories';
import { login, me, refresh, requestOtp, signUp, uniqueEmail, verifyOtp, type Tokens } from './helpers/flows';
import { startTestProvider, type TestProvider } from './helpers/oidc-provider';
import { acmeEnv, fixtureClient, socialSignIn } from './helpers/social';
import { startTestApp, TEST_JWT_SECRET, type TestApp } from './helpers/test-server';
import { claimsOf } from './helpers/client';

let app: TestApp;
let provider: TestProvider;

beforeAll(async () => {
  provider = await startTestProvider([fixtureClient('acme')]);
  app = await startTestApp({
    env: {
      ...acmeEnv(provider),
      JWT_ALGORITHM: 'HS256', // tokens from before the assurance claims are made here with JWT_SECRET
    },
  });
});
afterAll(async () => {
  await app?.stop();
  await provider?.stop();
});

async function assurance(accessToken: string) {
  const res = await app.gql<{ assurance: { level: number; methods: string[]; authenticatedAt: string } }>(
    '{ assurance { level methods authenticatedAt } }',
    {},
    { token: accessToken },
  );
  if (!res.data?.assurance) throw new Error(JSON.stringify(res.errors));
  return res.data.assurance;
}

it('records pwd for a password sign-in, at level 1, authenticated now', async () => {
  const user = await signUp(app);
  const before = Math.floor(app.clock.now().getTime() / 1000);
  const { data } = await login(app, user.user.email);
  const token = data!.login.accessToken;
  expect(claimsOf(token)).toMatchObject({ acr: 'aal1', amr: ['pwd'], auth_time: before });
  expect(await assurance(token)).toEqual({
    level: 1,
    methods: ['pwd'],
    authenticatedAt: new Date(before * 1000).toISOString(),
  });
});

it('records email for an emailed code, and fed for a provider', async () => {
  const email = uniqueEmail('assurance-code');
  const user = await signUp(app, email); // verifyOtp(VERIFY_EMAIL) signed it in
  expect(claimsOf(user.accessToken)).toMatchObject({ acr: 'aal1', amr: ['email'] });
  await requestOtp(app, email, 'LOGIN');
  const code = await app.smtp.codeFor(email, /sign-in code/i);
  const byCode = await verifyOtp(app, email, code, 'LOGIN');
  expect((await assurance(byCode.data!.verifyOtp.accessToken)).methods).toEqual(['email']);

  await provider.setAccount({ sub: 'assurance-fed', email: uniqueEmail('assurance-fed'), email_verified: true });
  const social = await socialSignIn(app, provider, 'acme', 'assurance-fed');
  expect(claimsOf(social.accessToken)).toMatchObject({ acr: 'aal1', amr: ['fed'] });
  expect((await assurance(social.accessToken)).level).toBe(1);
});

it('keeps the authentication time and methods of the sign-in across refreshes', async () => {
  const user = await signUp(app);
  const signedIn: Tokens = (await login(app, user.user.email)).data!.login;
  const authTime = claimsOf(signedIn.accessToken).auth_time as number;
  app.clock.advance(120);
  const refreshed = (await refresh(app, signedIn.refreshToken)).data!.refresh;
  expect(claimsOf(refreshed.accessToken)).toMatchObject({ amr: ['pwd'], auth_time: authTime });
  expect((claimsOf(refreshed.accessToken).iat as number) - authTime).toBeGreaterThanOrEqual(120);
  expect(new Date((await assurance(refreshed.accessToken)).authenticatedAt).getTime()).toBe(authTime * 1000);
});

it('needs a signed-in caller', async () => {
  const res = await app.gql('{ assurance { level } }');
  expect(res.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  // An admin's token carries the same claims: the level is about the session, not the role.
  expect((await assurance(await adminToken(app))).level).toBe(1);
  expect((await me(app, await adminToken(app))).errors).toBeUndefined();
});

describe('tokens signed before these claims existed', () => {
  const reSign = (token: string, change: (claims: Record<string, unknown>) => void) => {
    const claims = claimsOf(token);
    change(claims);
    return jwt.sign(claims, TEST_JWT_SECRET, { algorithm: 'HS256', header: { alg: 'HS256', typ: 'at+jwt' } });
  };

  it('are accepted as level 1 with no methods, authenticated when issued', async () => {
    const user = await signUp(app);
    const old = reSign(user.accessToken, (c) => {
      delete c.acr;
      delete c.amr;
      delete c.auth_time;
    });
    expect(await assurance(old)).toEqual({
      level: 1,
      methods: [],
      authenticatedAt: new Date((claimsOf(old).iat as number) * 1000).toISOString(),
    });
  });

  it('are refused when a claim is there with the wrong shape', async () => {
    const user = await signUp(app);
    for (const change of [
      (c: Record<string, unknown>) => (c.acr = 'aal3'),
      (c: Record<string, unknown>) => (c.amr = 'pwd'),
      (c: Record<string, unknown>) => (c.auth_time = '2026-01-01'),
    ]) {
      const res = await me(app, reSign(user.accessToken, change));
      expect(res.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    }
  });
});
