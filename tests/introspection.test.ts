// POST /oauth/introspect (RFC 7662; src/server/introspection.ts): a resource server, holding an API key with the
// scope tokens:introspect (which an ADMIN may give a key), asks whether an access token or an API key is live. Live
// ones are described, anything dead, forged or unknown is just {active:false}, at once after a logout or a
// revocation; the caller's own mistakes are 401/403/400 in OAuth's error shape. Nothing is cached by the client.
import { generateKeyPairSync } from 'node:crypto';
import { decodeProtectedHeader, SignJWT } from 'jose';
import { claimsOf, type HttpAnswer, httpRequest } from './helpers/client';
import { createUser, signIn, type Role } from './helpers/factories';
import { signUp, type Tokens } from './helpers/flows';
import { errorCode, startTestApp, TEST_JWT_SECRET, type TestApp } from './helpers/test-server';

const CREATE = `mutation($name: String!, $scopes: [String!]!, $expiresIn: Int) {
  createApiKey(name: $name, scopes: $scopes, expiresIn: $expiresIn) { secret apiKey { id scopes createdAt expiresAt } } }`;
const ACCESS_TOKEN_KEYS = ['active', 'client_id', 'exp', 'iat', 'scope', 'sid', 'sub'];

interface Created {
  secret: string;
  apiKey: { id: string; scopes: string[]; createdAt: string; expiresAt: string | null };
}

let app: TestApp;
/** The resource server's credential: an ADMIN's key with tokens:introspect only. */
let introspector: Created;

beforeAll(async () => {
  app = await startTestApp();
  const admin = await signedIn(['ADMIN']);
  introspector = await newKey(admin.accessToken, ['tokens:introspect']);
});
afterAll(async () => {
  await app?.stop();
});

async function signedIn(roles: Role[] = ['USER']): Promise<Tokens> {
  return signIn(app, await createUser(app, { roles }));
}

function createApiKey(token: string, scopes: string[], expiresIn?: number) {
  return app.gql<{ createApiKey: Created }>(CREATE, { name: 'resource server', scopes, expiresIn }, { token });
}

async function newKey(token: string, scopes: string[], expiresIn?: number): Promise<Created> {
  const res = await createApiKey(token, scopes, expiresIn);
  if (!res.data?.createApiKey) throw new Error(`createApiKey failed: ${JSON.stringify(res.errors)}`);
  return res.data.createApiKey;
}

/**
 * POST /oauth/introspect with `form` (default `token=<token>`), as `caller` (default the introspector's key; null: no
 * Authorization header).
 */
async function introspect(
  token: string | undefined,
  { caller = introspector.secret, form }: { caller?: string | null; form?: Record<string, string> } = {},
): Promise<HttpAnswer> {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  if (caller !== null) headers.authorization = `Bearer ${caller}`;
  const body = new URLSearchParams(form ?? (token === undefined ? {} : { token })).toString();
  return httpRequest(new URL('/oauth/introspect', app.url), { method: 'POST', headers, body });
}

const payloadOf = (token: string) => claimsOf<Record<string, any>>(token);

const epoch = (iso: string): number => Math.floor(Date.parse(iso) / 1000);

const INACTIVE = { status: 200, body: { active: false } };
const inactive = async (token: string) => {
  const { status, body } = await introspect(token);
  return { status, body };
};

describe('the introspecting key', () => {
  it('an ADMIN can create a key with tokens:introspect; a USER asking for it gets BAD_USER_INPUT', async () => {
    expect(introspector.secret).toMatch(/^pcl_[0-9A-Za-z]{40}$/);
    expect(introspector.apiKey.scopes).toEqual(['tokens:introspect']);
    const user = await signedIn(['USER']);
    const refused = await createApiKey(user.accessToken, ['tokens:introspect']);
    expect(errorCode(refused)).toBe('BAD_USER_INPUT');
    expect(refused.errors?.[0]?.extensions?.field).toBe('scopes');
  });
});

describe('access tokens', () => {
  it('a live access token: 200 {active, sub, scope, exp, iat, sid, client_id} from its claims', async () => {
    const user = await signUp(app);
    const claims = payloadOf(user.accessToken);
    const { status, body } = await introspect(user.accessToken);
    expect(status).toBe(200);
    expect(Object.keys(body).sort()).toEqual(ACCESS_TOKEN_KEYS);
    expect(body).toEqual({
      active: true,
      sub: user.user.id,
      scope: 'self:read self:write',
      exp: claims.exp,
      iat: claims.iat,
      sid: claims.sid,
      client_id: 'portcullis',
    });
    expect(body.exp - body.iat).toBe(1800); // ACCESS_TOKEN_TTL
  });

  it('after a logout of its session: {active:false} at once', async () => {
    const user = await signUp(app);
    expect((await introspect(user.accessToken)).body.active).toBe(true);
    expect((await app.gql('mutation { logout }', {}, { token: user.accessToken })).body).toEqual({
      data: { logout: true },
    });
    expect(await inactive(user.accessToken)).toEqual(INACTIVE);
  });

  it('an expired access token (past ACCESS_TOKEN_TTL): {active:false}', async () => {
    const user = await signUp(app);
    app.clock.advance(1799);
    expect((await introspect(user.accessToken)).body.active).toBe(true);
    app.clock.advance(2);
    expect(await inactive(user.accessToken)).toEqual(INACTIVE);
  });

  it('a forged or tampered token: {active:false}', async () => {
    const user = await signUp(app);
    const live = user.accessToken;
    const [header, payload, signature] = live.split('.') as [string, string, string];
    const claims = payloadOf(live);
    const other = await signUp(app);
    const { kid } = decodeProtectedHeader(live);
    expect((await introspect(live)).body.active).toBe(true); // the token they are made from is live

    const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
    const flipped = signature[5] === 'A' ? 'B' : 'A';
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const resign = (alg: string, key: Parameters<SignJWT['sign']>[0], headerKid: string | undefined) =>
      new SignJWT({ ...claims }).setProtectedHeader({ alg, typ: 'at+jwt', kid: headerKid }).sign(key);
    const forged: Record<string, string> = {
      'another user in the payload': `${header}.${b64({ ...claims, sub: other.user.id })}.${signature}`,
      'a later exp in the payload': `${header}.${b64({ ...claims, exp: claims.exp + 86_400 })}.${signature}`,
      'a changed signature': `${header}.${payload}.${signature.slice(0, 5)}${flipped}${signature.slice(6)}`,
      'no signature': `${header}.${payload}.`,
      'alg none': `${b64({ alg: 'none', typ: 'at+jwt', kid })}.${payload}.`,
      'signed by another ES256 key under the real kid': await resign('ES256', privateKey, kid),
      'HS256 with JWT_SECRET (ES256 install)': await resign(
        'HS256',
        new TextEncoder().encode(TEST_JWT_SECRET),
        'hs256',
      ),
    };
    for (const [what, token] of Object.entries(forged)) {
      expect({ what, ...(await inactive(token)) }).toEqual({ what, ...INACTIVE });
    }
  });

  it('a token (or an API key) of a deactivated user: {active:false}', async () => {
    const user = await signUp(app);
    const key = await newKey(user.accessToken, ['self:read']);
    expect((await introspect(user.accessToken)).body.active).toBe(true);
    expect((await introspect(key.secret)).body.active).toBe(true);
    const admin = await signedIn(['ADMIN']);
    const off = await app.gql(
      'mutation($id: ID!) { setUserActive(userId: $id, active: false) { active } }',
      { id: user.user.id },
      { token: admin.accessToken },
    );
    expect(off.body).toEqual({ data: { setUserActive: { active: false } } });
    expect(await inactive(user.accessToken)).toEqual(INACTIVE);
    expect(await inactive(key.secret)).toEqual(INACTIVE);
  });
});

describe('API keys', () => {
  it('a live API key: {active, sub, scope, iat, client_id:"api_key"}, with exp only when it expires', async () => {
    const user = await signUp(app);
    const forever = await newKey(user.accessToken, ['self:read', 'self:write']);
    const { status, body } = await introspect(forever.secret);
    expect(status).toBe(200);
    expect(body).toEqual({
      active: true,
      sub: user.user.id,
      scope: 'self:read self:write',
      iat: epoch(forever.apiKey.createdAt),
      client_id: 'api_key',
    });

    const hour = await newKey(user.accessToken, ['self:read'], 3600);
    expect((await introspect(hour.secret)).body).toEqual({
      active: true,
      sub: user.user.id,
      scope: 'self:read',
      iat: epoch(hour.apiKey.createdAt),
      exp: epoch(hour.apiKey.expiresAt!),
      client_id: 'api_key',
    });
  });

  it('a revoked API key: {active:false}', async () => {
    const user = await signUp(app);
    const key = await newKey(user.accessToken, ['self:read']);
    expect((await introspect(key.secret)).body.active).toBe(true);
    const revoked = await app.gql(
      'mutation($id: ID!) { revokeApiKey(id: $id) }',
      { id: key.apiKey.id },
      {
        token: user.accessToken,
      },
    );
    expect(revoked.body).toEqual({ data: { revokeApiKey: true } });
    expect(await inactive(key.secret)).toEqual(INACTIVE);
  });

  it('garbage: {active:false}', async () => {
    for (const token of ['garbage', 'a.b.c', 'pcl_', `pcl_${'x'.repeat(40)}`, 'Bearer x', ' ', 'é'.repeat(100)]) {
      expect({ token, ...(await inactive(token)) }).toEqual({ token, ...INACTIVE });
    }
  });
});

describe('the caller', () => {
  const invalidClient = (a: HttpAnswer) => ({
    status: a.status,
    error: a.body?.error,
    challenge: /^Bearer\b/i.test(a.headers.get('www-authenticate') ?? ''),
  });
  const INVALID_CLIENT = { status: 401, error: 'invalid_client', challenge: true };

  it('no Authorization: 401 invalid_client with WWW-Authenticate', async () => {
    const user = await signUp(app);
    expect(invalidClient(await introspect(user.accessToken, { caller: null }))).toEqual(INVALID_CLIENT);
  });

  it('an access token as the caller, not an API key: 401 invalid_client (even an ADMIN’s)', async () => {
    const admin = await signedIn(['ADMIN']);
    const user = await signUp(app);
    expect(invalidClient(await introspect(user.accessToken, { caller: admin.accessToken }))).toEqual(INVALID_CLIENT);
  });

  it('a revoked, unknown or malformed key as the caller: 401 invalid_client', async () => {
    const admin = await signedIn(['ADMIN']);
    const key = await newKey(admin.accessToken, ['tokens:introspect']);
    const user = await signUp(app);
    expect((await introspect(user.accessToken, { caller: key.secret })).body.active).toBe(true);
    await app.gql('mutation($id: ID!) { revokeApiKey(id: $id) }', { id: key.apiKey.id }, { token: admin.accessToken });
    for (const caller of [key.secret, `pcl_${'Z'.repeat(40)}`, 'pcl_short', 'garbage']) {
      expect({ caller, ...invalidClient(await introspect(user.accessToken, { caller })) }).toEqual({
        caller,
        ...INVALID_CLIENT,
      });
    }
  });

  it('a key without tokens:introspect: 403 insufficient_scope — also one whose owner has since lost ADMIN', async () => {
    const admin = await signedIn(['ADMIN']);
    const user = await signUp(app);
    const noScope = await newKey(admin.accessToken, ['users:read', 'self:read']);
    const refused = await introspect(user.accessToken, { caller: noScope.secret });
    expect({ status: refused.status, error: refused.body?.error }).toEqual({
      status: 403,
      error: 'insufficient_scope',
    });

    const demoted = await signedIn(['ADMIN']);
    const stale = await newKey(demoted.accessToken, ['tokens:introspect']);
    expect((await introspect(user.accessToken, { caller: stale.secret })).status).toBe(200);
    const change = await app.gql(
      'mutation($id: ID!) { setUserRoles(userId: $id, roles: [USER]) { roles } }',
      { id: demoted.user.id },
      { token: admin.accessToken },
    );
    expect(change.body).toEqual({ data: { setUserRoles: { roles: ['USER'] } } });
    const after = await introspect(user.accessToken, { caller: stale.secret });
    expect({ status: after.status, error: after.body?.error }).toEqual({ status: 403, error: 'insufficient_scope' });
  });

  it('no token field (or an empty one): 400 invalid_request', async () => {
    const forms: Array<Record<string, string>> = [{}, { token: '' }, { tokens: 'x' }];
    for (const form of forms) {
      const { status, body } = await introspect(undefined, { form });
      expect({ form, status, error: body?.error }).toEqual({ form, status: 400, error: 'invalid_request' });
    }
  });
});

describe('every answer', () => {
  it('has Cache-Control: no-store and holds neither the token asked about nor any key’s secret', async () => {
    const admin = await signedIn(['ADMIN']);
    const user = await signUp(app);
    const key = await newKey(user.accessToken, ['self:read']);
    const weak = await newKey(admin.accessToken, ['users:read']);
    const kinds: Record<string, HttpAnswer> = {
      'active access token': await introspect(user.accessToken),
      'active API key': await introspect(key.secret),
      inactive: await introspect(`${user.accessToken}x`),
      'invalid_client (an access token as caller)': await introspect(key.secret, { caller: admin.accessToken }),
      insufficient_scope: await introspect(key.secret, { caller: weak.secret }),
      invalid_request: await introspect(undefined),
    };
    expect(Object.values(kinds).map((a) => a.status)).toEqual([200, 200, 200, 401, 403, 400]);
    for (const [what, answer] of Object.entries(kinds)) {
      expect({ what, cacheControl: answer.headers.get('cache-control') }).toEqual({ what, cacheControl: 'no-store' });
      for (const secret of [user.accessToken, admin.accessToken, key.secret, weak.secret, introspector.secret]) {
        expect({ what, leaked: answer.text.includes(secret) }).toEqual({ what, leaked: false });
      }
    }
  });
});
