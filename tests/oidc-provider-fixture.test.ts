// The OpenID provider fixture (helpers/oidc-provider.ts) on its own: PKCE code flow, form_post, deny, tampering.
import { createHash, createPublicKey, randomBytes, verify, type JsonWebKey } from 'node:crypto';

import { startTestProvider, type TestProvider } from './helpers/oidc-provider';

const client = {
  client_id: 'portcullis-test',
  client_secret: 'a-client-secret-that-is-long-enough',
  redirect_uris: ['http://127.0.0.1:1/auth/oidc/callback'],
};
const redirectUri = client.redirect_uris[0]!;

let provider: TestProvider;

beforeAll(async () => {
  provider = await startTestProvider([client]);
  await provider.setAccount({
    sub: 'alice',
    email: 'alice@example.com',
    email_verified: true,
    name: 'Alice',
    hd: 'example.com',
  });
});

afterAll(async () => {
  await provider?.stop();
});

interface Authorization {
  url: string;
  state: string;
  nonce: string;
  verifier: string;
}

function authorizationUrl(extra: Record<string, string> = {}): Authorization {
  const state = randomBytes(16).toString('base64url');
  const nonce = randomBytes(16).toString('base64url');
  const verifier = randomBytes(32).toString('base64url');
  const url = new URL(`${provider.issuer}/auth`);
  url.search = new URLSearchParams({
    client_id: client.client_id,
    redirect_uri: redirectUri,
    response_type: 'code',
    scope: 'openid email profile',
    state,
    nonce,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    ...extra,
  }).toString();
  return { url: url.href, state, nonce, verifier };
}

async function exchange(code: string, verifier: string): Promise<Record<string, any>> {
  const res = await fetch(`${provider.issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: redirectUri,
      code_verifier: verifier,
      client_id: client.client_id,
      client_secret: client.client_secret,
    }),
  });
  const body = (await res.json()) as Record<string, any>;
  expect({ status: res.status, body }).toMatchObject({ status: 200, body: { id_token: expect.any(String) } });
  return body;
}

function decode(jwt: string): { header: Record<string, any>; payload: Record<string, any> } {
  const [header, payload] = jwt
    .split('.')
    .slice(0, 2)
    .map((part) => JSON.parse(Buffer.from(part, 'base64url').toString()));
  return { header, payload };
}

/** Whether the JWT's RS256 signature verifies with the provider's published key. */
async function signedByProvider(jwt: string): Promise<boolean> {
  const { keys } = (await (await fetch(`${provider.issuer}/jwks`)).json()) as { keys: JsonWebKey[] };
  const [header, payload, signature] = jwt.split('.') as [string, string, string];
  const key = createPublicKey({ key: keys[0]!, format: 'jwk' });
  return verify('sha256', Buffer.from(`${header}.${payload}`), key, Buffer.from(signature, 'base64url'));
}

/** Signs in as alice and exchanges the code: the ID token's header and payload. */
async function signIn(): Promise<{
  idToken: string;
  header: Record<string, any>;
  payload: Record<string, any>;
  nonce: string;
}> {
  const auth = authorizationUrl();
  const redirect = await provider.authorize(auth.url, 'alice');
  const code = new URL(redirect.url).searchParams.get('code');
  const idToken: string = (await exchange(code!, auth.verifier)).id_token;
  return { idToken, ...decode(idToken), nonce: auth.nonce };
}

test('discovery names the issuer and the RFC 9207 iss parameter', async () => {
  const res = await fetch(`${provider.issuer}/.well-known/openid-configuration`);
  expect(await res.json()).toMatchObject({
    issuer: provider.issuer,
    authorization_response_iss_parameter_supported: true,
    code_challenge_methods_supported: ['S256'],
    response_modes_supported: expect.arrayContaining(['query', 'form_post']),
  });
});

test('code flow with PKCE: redirect with code, state and iss; an ID token with the profile claims', async () => {
  const auth = authorizationUrl();
  const redirect = await provider.authorize(auth.url, 'alice');
  expect(redirect.method).toBe('GET');
  const url = new URL(redirect.url);
  expect(url.origin + url.pathname).toBe(redirectUri);
  expect(url.searchParams.get('state')).toBe(auth.state);
  expect(url.searchParams.get('iss')).toBe(provider.issuer);
  const code = url.searchParams.get('code');
  expect(code).toEqual(expect.any(String));

  const { header, payload } = decode((await exchange(code!, auth.verifier)).id_token);
  expect(header).toMatchObject({ alg: 'RS256', kid: expect.any(String) });
  expect(payload).toMatchObject({
    iss: provider.issuer,
    aud: client.client_id,
    sub: 'alice',
    email: 'alice@example.com',
    email_verified: true,
    name: 'Alice',
    hd: 'example.com',
    nonce: auth.nonce,
  });
  const jwks = (await (await fetch(`${provider.issuer}/jwks`)).json()) as { keys: { kid: string }[] };
  expect(jwks.keys.map((key) => key.kid)).toEqual([header.kid]);
  expect(jwks.keys[0]).not.toHaveProperty('d');
});

test('a code without its PKCE verifier is refused', async () => {
  const auth = authorizationUrl();
  const redirect = await provider.authorize(auth.url, 'alice');
  const res = await fetch(`${provider.issuer}/token`, {
    method: 'POST',
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code: new URL(redirect.url).searchParams.get('code')!,
      redirect_uri: redirectUri,
      client_id: client.client_id,
      client_secret: client.client_secret,
    }),
  });
  expect(res.status).toBe(400);
  expect(await res.json()).toMatchObject({ error: 'invalid_grant' });
});

test('an account the test did not define signs in with just its sub', async () => {
  const auth = authorizationUrl();
  const redirect = await provider.authorize(auth.url, 'nobody');
  const { payload } = decode((await exchange(new URL(redirect.url).searchParams.get('code')!, auth.verifier)).id_token);
  expect(payload.sub).toBe('nobody');
  expect(payload).not.toHaveProperty('email');
});

test('tamperNextToken changes only the next ID token', async () => {
  const original = await signIn();
  await provider.tamperNextToken({
    claims: { email: 'mallory@example.com', aud: 'someone-else' },
    removeClaims: ['name'],
  });
  const tampered = await signIn();
  expect(tampered.header).toEqual(original.header);
  expect(tampered.payload).toMatchObject({ sub: 'alice', email: 'mallory@example.com', aud: 'someone-else' });
  expect(tampered.payload).not.toHaveProperty('name');
  expect(tampered.payload.nonce).toBe(tampered.nonce);
  expect(await signedByProvider(original.idToken)).toBe(true);
  expect(await signedByProvider(tampered.idToken)).toBe(true);
  const after = await signIn();
  expect(after.payload).toMatchObject({ email: 'alice@example.com', aud: client.client_id, name: 'Alice' });
});

test('a foreign-key ID token keeps the header but not the signature', async () => {
  const original = await signIn();
  await provider.tamperNextToken({ foreignKey: true });
  const tampered = await signIn();
  expect(tampered.header).toEqual(original.header);
  expect(tampered.payload).toMatchObject({ sub: 'alice', email: 'alice@example.com' });
  expect(await signedByProvider(original.idToken)).toBe(true);
  expect(await signedByProvider(tampered.idToken)).toBe(false);
});

test('deny: the redirect carries error=access_denied', async () => {
  const auth = authorizationUrl();
  const redirect = await provider.deny(auth.url, 'alice');
  expect(redirect.method).toBe('GET');
  const params = new URL(redirect.url).searchParams;
  expect(Object.fromEntries(params)).toMatchObject({ error: 'access_denied', state: auth.state, iss: provider.issuer });
  expect(params.has('code')).toBe(false);
});

test('response_mode=form_post: a POST back with code, state and iss', async () => {
  const auth = authorizationUrl({ response_mode: 'form_post' });
  const redirect = await provider.authorize(auth.url, 'alice');
  expect(redirect).toMatchObject({ method: 'POST', url: redirectUri });
  expect(redirect.form?.get('state')).toBe(auth.state);
  expect(redirect.form?.get('iss')).toBe(provider.issuer);
  const { payload } = decode((await exchange(redirect.form!.get('code')!, auth.verifier)).id_token);
  expect(payload.nonce).toBe(auth.nonce);

  const denied = await provider.deny(authorizationUrl({ response_mode: 'form_post' }).url, 'alice');
  expect(denied.method).toBe('POST');
  expect(denied.form?.get('error')).toBe('access_denied');
});

test('mintIdToken: the given claims over iss, iat and exp defaults', async () => {
  const idToken = await provider.mintIdToken({ aud: client.client_id, sub: 'alice', nonce: 'n-1' });
  const parts = idToken.split('.');
  expect(parts).toHaveLength(3);
  const { header, payload } = decode(idToken);
  expect(header).toMatchObject({ alg: 'RS256', kid: expect.any(String) });
  expect(payload).toMatchObject({ iss: provider.issuer, aud: client.client_id, sub: 'alice', nonce: 'n-1' });
  expect(payload.exp - payload.iat).toBe(600);
  expect(await signedByProvider(idToken)).toBe(true);

  const foreign = await provider.mintIdToken(
    { sub: 'alice', exp: null, iss: 'https://elsewhere' },
    { foreignKey: true },
  );
  expect(decode(foreign).header.kid).toBe(header.kid);
  expect(decode(foreign).payload).not.toHaveProperty('exp');
  expect(decode(foreign).payload.iss).toBe('https://elsewhere');
  expect(await signedByProvider(foreign)).toBe(false);
});
