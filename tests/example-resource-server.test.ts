// The example resource server (examples/resource-server) against a live Portcullis: an Apollo Server 5 API that
// verifies ES256 access tokens itself with jose (the JWKS fetched over HTTP and cached) and API keys through
// introspection, and enforces the @requiresScopes of its own SDL. A signing-key rotation in the middle of a run of
// requests fails none of them: the new key was published (and cached) before it signed.
import { decodeProtectedHeader } from 'jose';
import { createVerifier, type Verify } from '../examples/resource-server/verify';
import { startResourceServer, type ResourceServer } from '../examples/resource-server/server';
import { graphqlClient, type GraphQLClient } from './helpers/client';
import { createUser, signIn, type TestUser } from './helpers/factories';
import { refresh, type Tokens } from './helpers/flows';
import { errorCode, startTestApp, type TestApp } from './helpers/test-server';

const ISSUER = 'https://auth.example.test';
const AUDIENCE = 'example-apis';
/** Portcullis's default ACCESS_TOKEN_TTL, spelled out: the expiry test moves the clock past it. */
const ACCESS_TOKEN_TTL = 1800;
/** PUBLISH_LEAD_SECONDS: rotateSigningKey waits until the standby has been published this long. */
const PUBLISH_LEAD = 600;

const CREATE_API_KEY =
  'mutation($n: String!, $s: [String!]!) { createApiKey(name: $n, scopes: $s) { secret apiKey { id } } }';

let app: TestApp;
let origin: string;
let resourceServer: ResourceServer;
let api: GraphQLClient;
let verifierOptions: Parameters<typeof createVerifier>[0];

/** A signed-in user's API key with `scopes` (createApiKey: a fresh sign-in is recent enough). */
async function createApiKey(user: TestUser, scopes: string[]): Promise<{ secret: string; id: string }> {
  const { accessToken } = await signIn(app, user);
  const res = await app.gql(CREATE_API_KEY, { n: 'resource server test', s: scopes }, { token: accessToken });
  if (!res.data?.createApiKey) throw new Error(`createApiKey failed: ${JSON.stringify(res.errors)}`);
  return { secret: res.data.createApiKey.secret, id: res.data.createApiKey.apiKey.id };
}

async function publishedKids(): Promise<string[]> {
  const res = await fetch(`${origin}/.well-known/jwks.json`);
  const { keys } = (await res.json()) as { keys: Array<{ kid: string }> };
  return keys.map((k) => k.kid);
}

const kidOf = (token: string): string => decodeProtectedHeader(token).kid!;

beforeAll(async () => {
  app = await startTestApp({
    env: { JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE, PUBLIC_URL: 'https://auth.example.test' },
  });
  origin = app.url.replace(/\/graphql$/, '');
  // The resource server's own credential for introspection: an ADMIN's API key holding tokens:introspect only.
  const operator = await createUser(app, { roles: ['ADMIN'] });
  const { secret: introspectionKey } = await createApiKey(operator, ['tokens:introspect']);
  verifierOptions = {
    issuer: ISSUER,
    audience: AUDIENCE,
    jwksUrl: `${origin}/.well-known/jwks.json`,
    introspectionUrl: `${origin}/oauth/introspect`,
    introspectionKey,
    now: () => app.clock.now(),
  };
  resourceServer = await startResourceServer(createVerifier(verifierOptions));
  api = graphqlClient(resourceServer.url);
});

afterAll(async () => {
  await resourceServer?.stop();
  await app?.stop();
});

describe('a Portcullis access token', () => {
  let user: TestUser;
  let tokens: Tokens;

  beforeAll(async () => {
    user = await createUser(app);
    tokens = await signIn(app, user);
  });

  it("reads the caller's own notes (self:read), verified locally against the JWKS", async () => {
    const res = await api.gql('{ myNotes caller { sub scopes acr via } }', {}, { token: tokens.accessToken });
    expect(res.errors).toBeUndefined();
    expect(res.data!.myNotes).toEqual([`${user.id}: buy milk`, `${user.id}: rotate the keys`]);
    expect(res.data!.caller).toEqual({ sub: user.id, scopes: ['self:read', 'self:write'], acr: 'aal1', via: 'jwt' });
  });

  it('is not needed for a field without @requiresScopes; a field with it answers UNAUTHENTICATED without one', async () => {
    expect((await api.gql('{ publicNote }')).data).toEqual({ publicNote: expect.any(String) });
    const res = await api.gql('{ myNotes }');
    expect(errorCode(res)).toBe('UNAUTHENTICATED');
    expect(res.errors![0]!.path).toEqual(['myNotes']);
  });

  it("of a USER is FORBIDDEN a field needing users:read; an ADMIN's is allowed", async () => {
    const denied = await api.gql('{ adminReport }', {}, { token: tokens.accessToken });
    expect(errorCode(denied)).toBe('FORBIDDEN');
    expect(denied.data).toEqual({ adminReport: null });

    const admin = await signIn(app, await createUser(app, { roles: ['ADMIN'] }));
    const allowed = await api.gql('{ adminReport }', {}, { token: admin.accessToken });
    expect(allowed.errors).toBeUndefined();
    expect(allowed.data).toEqual({ adminReport: 'All quiet.' });
  });

  it('tampered (users:read added to its scope, signature kept) is UNAUTHENTICATED, not FORBIDDEN', async () => {
    const [header, payload, signature] = tokens.accessToken.split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString());
    claims.scope = `${claims.scope} users:read`;
    const forged = [header, Buffer.from(JSON.stringify(claims)).toString('base64url'), signature].join('.');
    expect(errorCode(await api.gql('{ adminReport }', {}, { token: forged }))).toBe('UNAUTHENTICATED');
    expect(errorCode(await api.gql('{ myNotes }', {}, { token: 'not.a.jwt' }))).toBe('UNAUTHENTICATED');
  });

  it('is refused by a verifier expecting another audience or another issuer', async () => {
    const other = (changes: Partial<typeof verifierOptions>): Verify =>
      createVerifier({ ...verifierOptions, ...changes });
    const bearer = `Bearer ${tokens.accessToken}`;
    await expect(other({})(bearer)).resolves.toMatchObject({ sub: user.id, via: 'jwt' });
    await expect(other({ audience: 'another-api' })(bearer)).rejects.toThrow(/aud/);
    await expect(other({ issuer: 'https://evil.example' })(bearer)).rejects.toThrow(/iss/);
  });

  it('past its expiry (on the clock Portcullis signs with) is UNAUTHENTICATED', async () => {
    const fresh = await signIn(app, user);
    expect((await api.gql('{ myNotes }', {}, { token: fresh.accessToken })).errors).toBeUndefined();
    app.clock.advance(ACCESS_TOKEN_TTL + 1);
    expect(errorCode(await api.gql('{ myNotes }', {}, { token: fresh.accessToken }))).toBe('UNAUTHENTICATED');
  });
});

describe('a signing-key rotation in the middle of a run', () => {
  const TOTAL = 200;
  const CONCURRENCY = 5;

  it('fails no request: tokens of the old key and of the new one are all verified', async () => {
    // Before: the signing key and the standby, both published (so both already in the resource server's cache).
    const before = await publishedKids();
    expect(before).toHaveLength(2);
    const operator = await createUser(app, { roles: ['ADMIN'] });
    const users = await Promise.all(Array.from({ length: CONCURRENCY }, () => createUser(app)));
    const oldKid = kidOf((await signIn(app, users[0]!)).accessToken);
    const standby = before.find((kid) => kid !== oldKid)!;
    expect(before).toContain(oldKid);

    let rotation: Promise<void> | undefined;
    /** An ADMIN's rotation once the standby is old enough (signed in after the clock moved: a recent sign-in). */
    const rotate = async (): Promise<void> => {
      app.clock.advance(PUBLISH_LEAD + 1);
      const { accessToken } = await signIn(app, operator);
      const res = await app.gql('mutation { rotateSigningKey }', {}, { token: accessToken });
      if (res.data?.rotateSigningKey !== true) throw new Error(`rotateSigningKey: ${JSON.stringify(res.errors)}`);
    };

    const outcomes: Array<{ n: number; kid: string; errors: unknown; notes: unknown }> = [];
    let next = 0;
    /** One client: a fresh access token for every request (refresh; a new sign-in every 10th), then myNotes. */
    const client = async (user: TestUser): Promise<void> => {
      let tokens = await signIn(app, user);
      for (let n = next++; n < TOTAL; n = next++) {
        if (n === TOTAL / 2) rotation = rotate(); // runs while the requests go on
        // The last quarter starts once the rotation is done, so it runs on tokens of the new key only.
        if (n >= (TOTAL * 3) / 4) await rotation;
        if (n % 10 === 0) {
          tokens = await signIn(app, user);
        } else {
          const refreshed = await refresh(app, tokens.refreshToken);
          if (!refreshed.data?.refresh) throw new Error(`refresh failed: ${JSON.stringify(refreshed.errors)}`);
          tokens = refreshed.data.refresh;
        }
        const res = await api.gql('{ myNotes }', {}, { token: tokens.accessToken });
        outcomes.push({ n, kid: kidOf(tokens.accessToken), errors: res.errors, notes: res.data?.myNotes });
      }
    };
    await Promise.all(users.map(client));
    await rotation;

    expect(outcomes).toHaveLength(TOTAL);
    expect(outcomes.filter((o) => o.errors !== undefined || !Array.isArray(o.notes))).toEqual([]);
    // The standby published before the run is the key that signs after the rotation.
    const byKid = new Map<string, number>();
    for (const { kid } of outcomes) byKid.set(kid, (byKid.get(kid) ?? 0) + 1);
    expect([...byKid.keys()].sort()).toEqual([oldKid, standby].sort());
    expect(byKid.get(oldKid)).toBeGreaterThanOrEqual(TOTAL / 2);
    expect(byKid.get(standby)).toBeGreaterThanOrEqual(TOTAL / 4);
    // After: the retired key is still published (its tokens are live), next to the new one and a new standby.
    const after = await publishedKids();
    expect(after).toHaveLength(3);
    expect(after).toEqual(expect.arrayContaining([oldKid, standby]));
  }, 120_000);
});

describe('an API key', () => {
  it('is checked through introspection, with its own scopes, and refused at once after revokeApiKey', async () => {
    const user = await createUser(app);
    const key = await createApiKey(user, ['self:read']);

    const res = await api.gql('{ myNotes caller { sub scopes acr via } }', {}, { token: key.secret });
    expect(res.errors).toBeUndefined();
    expect(res.data!.myNotes).toHaveLength(2);
    expect(res.data!.caller).toEqual({ sub: user.id, scopes: ['self:read'], acr: 'aal1', via: 'introspection' });
    expect(errorCode(await api.gql('{ adminReport }', {}, { token: key.secret }))).toBe('FORBIDDEN');

    const { accessToken } = await signIn(app, user);
    const revoked = await app.gql(
      'mutation($id: ID!) { revokeApiKey(id: $id) }',
      { id: key.id },
      { token: accessToken },
    );
    expect(revoked.data).toEqual({ revokeApiKey: true });
    expect(errorCode(await api.gql('{ myNotes }', {}, { token: key.secret }))).toBe('UNAUTHENTICATED');
  });

  it('that Portcullis never issued is UNAUTHENTICATED', async () => {
    const unknown = `pcl_${'A'.repeat(40)}`;
    expect(errorCode(await api.gql('{ myNotes }', {}, { token: unknown }))).toBe('UNAUTHENTICATED');
  });
});
