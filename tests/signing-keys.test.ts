// Tokens other services can verify (modules/signing-keys, server/well-known.ts), through the real HTTP server: the
// JWKS and the discovery document, ES256 access tokens checked by an independent verifier (jose, fed the served JWKS),
// forgeries refused by both, rotation by rotateSigningKey and by schedule (the standby signs, the old key stays
// published until its tokens have expired), and private keys sealed at rest. Time is the app's fake clock.
import { createPrivateKey, createPublicKey, randomUUID } from 'node:crypto';
import {
  createRemoteJWKSet,
  decodeProtectedHeader,
  generateKeyPair,
  jwtVerify,
  SignJWT,
  type JWTHeaderParameters,
  type JWTPayload,
} from 'jose';
import { Sealer } from '../src/common/sealing';
import { loadConfig } from '../src/config/config';
import { claimsOf, httpRequest } from './helpers/client';
import { createUser, signIn, type TestUser } from './helpers/factories';
import { me, refresh, signUp } from './helpers/flows';
import { serverEnv, TEST_DATA_KEYS } from './helpers/server-env';
import { errorCode, startTestApp, TEST_JWT_SECRET, type GraphQLResponse, type TestApp } from './helpers/test-server';

const ISSUER = 'https://auth.example.test';
const AUDIENCE = 'example-api';
const PUBLIC_URL = 'http://localhost:4999';
const TOKEN_TTL = 300;
const ROTATE = 'mutation { rotateSigningKey }';
const KID = /^[A-Za-z0-9_-]{16}$/;

let app: TestApp;

interface Jwk {
  kty: string;
  crv: string;
  x: string;
  y: string;
  kid: string;
  alg: string;
  use: string;
  [other: string]: unknown;
}

const origin = () => app.url.replace(/\/graphql$/, '');
const jwksUrl = () => `${origin()}/.well-known/jwks.json`;
const getJwks = (headers: Record<string, string> = {}) => httpRequest<{ keys: Jwk[] }>(jwksUrl(), { headers });
const jwksKids = async () => (await getJwks()).body!.keys.map((k) => k.kid);
const kidOf = (token: string) => decodeProtectedHeader(token).kid;
const payloadOf = (token: string) => claimsOf<JWTPayload & { sid: string }>(token);
const nowSeconds = () => Math.floor(app.clock.now().getTime() / 1000);
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** Verifies `token` as another service would: keys from the served JWKS (fetched afresh), issuer, audience, ES256. */
async function joseVerify(token: string) {
  const keys = createRemoteJWKSet(new URL(jwksUrl()));
  return jwtVerify(token, keys, {
    issuer: ISSUER,
    audience: AUDIENCE,
    algorithms: ['ES256'],
    typ: 'at+jwt',
    currentDate: app.clock.now(),
  });
}

/** A token with `token`'s claims, valid for another TOKEN_TTL from now, signed with `key` under `header`. */
function resigned(token: string, key: Parameters<SignJWT['sign']>[0], header: JWTHeaderParameters): Promise<string> {
  const claims = { ...payloadOf(token), jti: randomUUID(), iat: nowSeconds(), exp: nowSeconds() + TOKEN_TTL };
  return new SignJWT(claims).setProtectedHeader(header).sign(key);
}

async function expectServed(token: string, userId: string): Promise<void> {
  const res = await me(app, token);
  expect(res.errors).toBeUndefined();
  expect(res.data?.me.id).toBe(userId);
}

const expectRefused = async (token: string) => expect(errorCode(await me(app, token))).toBe('UNAUTHENTICATED');

const rotate = (token: string) => app.gql<{ rotateSigningKey: boolean }>(ROTATE, {}, { token });

/** The keys as stored: which one signs (active), which waits (standby), which are retired. */
async function storedKeys() {
  const rows = await app.sql<{ kid: string; activated: boolean; retired: boolean }>(
    `select kid, activated_at is not null as activated, retired_at is not null as retired
       from signing_keys order by created_at, kid`,
  );
  return {
    active: rows.filter((r) => r.activated && !r.retired).map((r) => r.kid),
    standby: rows.filter((r) => !r.activated).map((r) => r.kid),
    retired: rows.filter((r) => r.retired).map((r) => r.kid),
  };
}

function expectOk<T>(res: GraphQLResponse<T>): T {
  expect(res.errors).toBeUndefined();
  return res.data!;
}

beforeAll(async () => {
  app = await startTestApp({
    env: {
      JWT_ISSUER: ISSUER,
      JWT_AUDIENCE: AUDIENCE,
      PUBLIC_URL,
      ACCESS_TOKEN_TTL: String(TOKEN_TTL),
      JWT_KEY_ROTATION_DAYS: '1',
    },
  });
});

afterAll(async () => {
  await app?.stop();
});

describe('a new install (JWT_ALGORITHM unset, empty database)', () => {
  it('signs with ES256: one signing key and one standby, both published', async () => {
    const keys = await storedKeys();
    expect(keys.active).toHaveLength(1);
    expect(keys.standby).toHaveLength(1);
    expect(keys.retired).toEqual([]);
    expect(app.server.keyRing.algorithm).toBe('ES256');
    expect((await jwksKids()).sort()).toEqual([...keys.active, ...keys.standby].sort());
  });
});

describe('GET /.well-known/jwks.json', () => {
  it('publishes the signing key and the standby as public ES256 JWKs, without private parts', async () => {
    const res = await getJwks();
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const { keys } = res.body!;
    expect(keys).toHaveLength(2);
    for (const key of keys) {
      expect(Object.keys(key).sort()).toEqual(['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
      expect(key).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
      expect(key.kid).toMatch(KID);
      expect(key).not.toHaveProperty('d');
      // A real P-256 public key.
      expect(createPublicKey({ key: key as import('node:crypto').JsonWebKey, format: 'jwk' }).asymmetricKeyType).toBe(
        'ec',
      );
    }
    expect(new Set(keys.map((k) => k.kid)).size).toBe(2);
  });

  it('is cacheable for 5 minutes with a strong ETag; If-None-Match with it → 304', async () => {
    const first = await getJwks();
    expect(first.headers.get('cache-control')).toBe('public, max-age=300');
    const etag = first.headers.get('etag');
    expect(etag).toMatch(/^"[^"]+"$/); // strong: no W/ prefix
    expect((await getJwks()).headers.get('etag')).toBe(etag); // stable while the keys are

    const again = await getJwks({ 'if-none-match': etag! });
    expect(again.status).toBe(304);
    expect(again.text).toBe('');
    expect(again.headers.get('etag')).toBe(etag);

    const other = await getJwks({ 'if-none-match': '"something-else"' });
    expect(other.status).toBe(200);
    expect(other.body!.keys).toHaveLength(2);
  });
});

describe('GET /.well-known/openid-configuration', () => {
  it('names the issuer, the JWKS and the introspection endpoint under PUBLIC_URL, and ES256', async () => {
    const res = await httpRequest(`${origin()}/.well-known/openid-configuration`);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('public, max-age=300');
    expect(res.headers.get('etag')).toMatch(/^"[^"]+"$/);
    expect(res.body).toMatchObject({
      issuer: ISSUER,
      jwks_uri: `${PUBLIC_URL}/.well-known/jwks.json`,
      introspection_endpoint: `${PUBLIC_URL}/oauth/introspect`,
      introspection_endpoint_auth_methods_supported: ['bearer'],
      access_token_signing_alg_values_supported: ['ES256'],
    });
    expect(res.body.scopes_supported).toEqual(expect.arrayContaining(['roles:write', 'tokens:introspect']));
  });
});

describe('access tokens', () => {
  let user: TestUser;
  let token: string;
  let userId: string;

  beforeAll(async () => {
    user = await createUser(app);
    const tokens = await signIn(app, user);
    token = tokens.accessToken;
    userId = tokens.user.id;
  });

  it('are ES256, typ at+jwt, with the kid of the signing key', async () => {
    const { active } = await storedKeys();
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'ES256', typ: 'at+jwt', kid: active[0] });
  });

  it('verify with jose against the served JWKS (issuer, audience, ES256)', async () => {
    const { payload, protectedHeader } = await joseVerify(token);
    expect(protectedHeader.kid).toBe(kidOf(token));
    expect(payload).toMatchObject({ iss: ISSUER, aud: AUDIENCE, sub: userId });
    expect(payload.exp! - payload.iat!).toBe(TOKEN_TTL);
    await expectServed(token, userId);
  });

  it('with a tampered payload are refused by jose and by the server', async () => {
    const [header, , signature] = token.split('.');
    const forged = `${header}.${b64({ ...payloadOf(token), roles: ['ADMIN'], scope: 'roles:write' })}.${signature}`;
    await expect(joseVerify(forged)).rejects.toMatchObject({ code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' });
    await expectRefused(forged);
  });

  it('with a tampered signature are refused by jose and by the server', async () => {
    const [header, payload, signature] = token.split('.');
    const bytes = Buffer.from(signature!, 'base64url');
    bytes[10] = bytes[10]! ^ 0x01;
    const forged = `${header}.${payload}.${bytes.toString('base64url')}`;
    await expect(joseVerify(forged)).rejects.toMatchObject({ code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' });
    await expectRefused(forged);
  });

  it('re-signed with another P-256 key under the signing key’s kid are refused', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    const forged = await resigned(token, privateKey, { alg: 'ES256', typ: 'at+jwt', kid: kidOf(token) });
    await expect(joseVerify(forged)).rejects.toMatchObject({ code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' });
    await expectRefused(forged);
  });

  it('naming a kid that no published key has are refused', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    const forged = await resigned(token, privateKey, { alg: 'ES256', typ: 'at+jwt', kid: 'AAAAAAAAAAAAAAAA' });
    await expect(joseVerify(forged)).rejects.toMatchObject({ code: 'ERR_JWKS_NO_MATCHING_KEY' });
    await expectRefused(forged);
  });

  it('with alg none are refused', async () => {
    const claims = { ...payloadOf(token), jti: randomUUID(), iat: nowSeconds(), exp: nowSeconds() + TOKEN_TTL };
    const forged = `${b64({ alg: 'none', typ: 'at+jwt', kid: kidOf(token) })}.${b64(claims)}.`;
    await expect(joseVerify(forged)).rejects.toThrow();
    await expectRefused(forged);
  });

  it('HS256 with JWT_SECRET are refused on an ES256 install that never used HS256', async () => {
    const secret = new TextEncoder().encode(TEST_JWT_SECRET);
    for (const kid of ['hs256', kidOf(token)!]) {
      const forged = await resigned(token, secret, { alg: 'HS256', typ: 'at+jwt', kid });
      await expect(joseVerify(forged)).rejects.toThrow();
      await expectRefused(forged);
    }
    await expectServed(token, userId); // the session itself is live: only the algorithm is refused
  });
});

describe('rotateSigningKey', () => {
  let admin: TestUser;

  beforeAll(async () => {
    admin = await createUser(app, { roles: ['ADMIN'] });
  });

  it('is RATE_LIMITED while the standby has been published for less than 10 minutes', async () => {
    const before = await storedKeys();
    const res = await rotate((await signIn(app, admin)).accessToken);
    expect(errorCode(res)).toBe('RATE_LIMITED');
    const retryAfter = res.errors![0]!.extensions!.retryAfter as number;
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(600);
    expect(await storedKeys()).toEqual(before);
  });

  it('is FORBIDDEN to a USER', async () => {
    const res = await rotate((await signUp(app)).accessToken);
    expect(errorCode(res)).toBe('FORBIDDEN');
  });

  it('is STEP_UP_REQUIRED for an ADMIN who signed in 301 s ago', async () => {
    const before = await storedKeys();
    const signedIn = await signIn(app, admin);
    app.clock.advance(301);
    // The access token has expired (TTL 300): its refresh carries the same authentication time.
    const refreshed = expectOk(await refresh(app, signedIn.refreshToken)).refresh;
    const res = await rotate(refreshed.accessToken);
    expect(errorCode(res)).toBe('STEP_UP_REQUIRED');
    expect(await storedKeys()).toEqual(before);
  });

  describe('by a recently signed-in ADMIN, 10 minutes after the standby was published', () => {
    let before: Awaited<ReturnType<typeof storedKeys>>;
    let etagBefore: string;
    let oldToken: string;
    let other: TestUser;
    let otherId: string;

    beforeAll(async () => {
      before = await storedKeys();
      etagBefore = (await getJwks()).headers.get('etag')!;
      other = await createUser(app);
      app.clock.advance(601);
      // Signed by the key about to retire, and never shown to the server before the rotation.
      const otherTokens = await signIn(app, other);
      oldToken = otherTokens.accessToken;
      otherId = otherTokens.user.id;
      expect(kidOf(oldToken)).toBe(before.active[0]);
      const res = await rotate((await signIn(app, admin)).accessToken);
      expect(res.body).toEqual({ data: { rotateSigningKey: true } });
    });

    it('makes the former standby sign new tokens', async () => {
      const after = await storedKeys();
      expect(after.active).toEqual(before.standby);
      expect(after.retired).toEqual(before.active);
      expect(after.standby).toHaveLength(1);
      expect(after.standby[0]).not.toBe(before.standby[0]);
      const fresh = (await signIn(app, other)).accessToken;
      expect(kidOf(fresh)).toBe(before.standby[0]);
      await expectServed(fresh, otherId);
      expect((await joseVerify(fresh)).protectedHeader.kid).toBe(before.standby[0]);
    });

    it('keeps accepting tokens signed by the retired key, which stays in the JWKS', async () => {
      await expectServed(oldToken, otherId);
      expect((await joseVerify(oldToken)).protectedHeader.kid).toBe(before.active[0]);
    });

    it('publishes three keys (retired, signing, new standby) under a new ETag', async () => {
      const after = await storedKeys();
      const res = await getJwks();
      expect(res.body!.keys.map((k) => k.kid).sort()).toEqual(
        [...after.retired, ...after.active, ...after.standby].sort(),
      );
      expect(res.body!.keys).toHaveLength(3);
      expect(res.headers.get('etag')).not.toBe(etagBefore);
      expect((await getJwks({ 'if-none-match': etagBefore })).status).toBe(200);
    });

    it('is audited as SIGNING_KEY_ROTATED by the admin', async () => {
      const rows = await app.sql<{ actor: string; detail: string }>(
        `select actor_user_id as actor, detail from audit_events where type = 'SIGNING_KEY_ROTATED'`,
      );
      expect(rows).toEqual([{ actor: admin.id, detail: expect.stringContaining(before.standby[0]!) }]);
    });

    it('unpublishes the retired key ACCESS_TOKEN_TTL + 120 s after it retired, refusing its tokens', async () => {
      const retired = before.active[0]!;
      app.clock.advance(TOKEN_TTL + 119);
      expect(await jwksKids()).toContain(retired);
      app.clock.advance(2);
      const kids = await jwksKids();
      expect(kids).not.toContain(retired);
      expect(kids.sort()).toEqual([...before.standby, ...(await storedKeys()).standby].sort());
      // A token the retired key signs now, with a valid lifetime, is refused: its kid is no longer published.
      const [row] = await app.sql<{ sealed: string }>('select private_key as sealed from signing_keys where kid = ?', [
        retired,
      ]);
      const sealer = Sealer.fromBytes(loadConfig(serverEnv(app.db)).dataKeys);
      const retiredKey = createPrivateKey(sealer.open(row!.sealed));
      const live = (await signIn(app, other)).accessToken;
      const forged = await resigned(live, retiredKey, { alg: 'ES256', typ: 'at+jwt', kid: retired });
      await expect(joseVerify(forged)).rejects.toMatchObject({ code: 'ERR_JWKS_NO_MATCHING_KEY' });
      await expectRefused(forged);
      await expectServed(live, otherId);
    });
  });
});

describe('scheduled rotation (JWT_KEY_ROTATION_DAYS=1)', () => {
  let user: TestUser;

  beforeAll(async () => {
    user = await createUser(app);
  });

  it('lets the standby sign once the signing key is JWT_KEY_ROTATION_DAYS old; running again changes nothing', async () => {
    const before = await storedKeys();
    expect(kidOf((await signIn(app, user)).accessToken)).toBe(before.active[0]);

    app.clock.advance(86_401);
    await app.server.keyRing.maintain(app.server.orm.em.fork());
    const after = await storedKeys();
    expect(after.active).toEqual(before.standby);
    expect(after.retired).toEqual(expect.arrayContaining(before.active));
    expect(after.standby).toHaveLength(1);
    expect(kidOf((await signIn(app, user)).accessToken)).toBe(before.standby[0]);

    await app.server.keyRing.maintain(app.server.orm.em.fork());
    expect(await storedKeys()).toEqual(after);
    expect(kidOf((await signIn(app, user)).accessToken)).toBe(before.standby[0]);
  });
});

describe('private keys at rest', () => {
  it('are sealed with the data key (no PEM in the database) and open to the published key pairs', async () => {
    const rows = await app.sql<{ kid: string; sealed: string; jwk: string }>(
      'select kid, private_key as sealed, public_jwk as jwk from signing_keys',
    );
    expect(rows.length).toBeGreaterThanOrEqual(2);
    const keyId = TEST_DATA_KEYS.split(':')[0]!;
    const sealer = Sealer.fromBytes(loadConfig(serverEnv(app.db)).dataKeys);
    for (const row of rows) {
      expect(row.sealed.startsWith(`${keyId}:`)).toBe(true);
      expect(row.sealed).not.toMatch(/BEGIN|PRIVATE KEY/);
      const publicOfSealed = createPublicKey(createPrivateKey(sealer.open(row.sealed))).export({ format: 'jwk' });
      const published = JSON.parse(row.jwk) as Jwk;
      expect({ x: publicOfSealed.x, y: publicOfSealed.y }).toEqual({ x: published.x, y: published.y });
      expect(published).not.toHaveProperty('d');
    }
  });
});
