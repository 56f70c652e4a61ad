// Personal API keys (modules/api-keys/, docs/api-keys.md), through the HTTP API: what createApiKey returns and
// what it stores (only the secret's SHA-256; never the secret in a log, an audit row or an email), which scopes a
// key may carry, what a key can do as `Authorization: Bearer pcl_…` (its scopes ∩ its owner's current ones; never
// "recent"), expiry, revocation (at once, on every instance), the owner's deactivation or role change, and how
// often lastUsedAt is written.
import { createHash } from 'node:crypto';
import { createLogger, silentLogger } from '../src/common/logger';
import { loadConfig } from '../src/config/config';
import { createServer, type PortcullisServer } from '../src/server/create-server';
import { graphqlClient, type GraphQLClient } from './helpers/client';
import { eventually } from './helpers/eventually';
import { createUser, signIn, type Role, type TestUser } from './helpers/factories';
import { FakeClock } from './helpers/fake-clock';
import { me, PASSWORD, signUp, type Tokens } from './helpers/flows';
import { capture } from './helpers/log-capture';
import { realPostgresUrl } from './helpers/real-postgres';
import { serverEnv } from './helpers/server-env';
import { errorCode, startTestApp, type GraphQLResponse, type TestApp } from './helpers/test-server';

const SECRET_PATTERN = /^pcl_[0-9A-Za-z]{40}$/;
const NOTICE_SUBJECT = 'Portcullis: An API key was created for your account'; // APP_NAME: subject

const KEY_FIELDS = 'id name prefix scopes createdAt expiresAt lastUsedAt';
const CREATE = `mutation($name: String!, $scopes: [String!]!, $expiresIn: Int) {
  createApiKey(name: $name, scopes: $scopes, expiresIn: $expiresIn) { secret apiKey { ${KEY_FIELDS} } } }`;
const LIST = `{ apiKeys { ${KEY_FIELDS} } }`;
const REVOKE = 'mutation($id: ID!) { revokeApiKey(id: $id) }';
const USERS = '{ users(first: 5) { totalCount edges { node { id } } } }';
const SET_ROLES = 'mutation($id: ID!, $roles: [Role!]!) { setUserRoles(userId: $id, roles: $roles) { id roles } }';
const SET_ACTIVE =
  'mutation($id: ID!, $active: Boolean!) { setUserActive(userId: $id, active: $active) { id active } }';
const ENROLL_TOTP = 'mutation { enrollTotp { secret } }';

interface ApiKeyView {
  id: string;
  name: string;
  prefix: string;
  scopes: string[];
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
}
interface Created {
  secret: string;
  apiKey: ApiKeyView;
}

const log = capture();
let app: TestApp;

beforeAll(async () => {
  app = await startTestApp({ logger: createLogger('debug', log.stream) });
});
afterAll(async () => {
  await app?.stop();
});

const sha256 = (s: string): string => createHash('sha256').update(s, 'utf8').digest('base64url');

function createApiKeyAt(
  at: GraphQLClient,
  token: string,
  scopes: string[],
  { name = 'ci deploy', expiresIn }: { name?: string; expiresIn?: number } = {},
): Promise<GraphQLResponse<{ createApiKey: Created }>> {
  return at.gql<{ createApiKey: Created }>(CREATE, { name, scopes, expiresIn }, { token });
}

const createApiKey = (token: string, scopes: string[], options?: { name?: string; expiresIn?: number }) =>
  createApiKeyAt(app, token, scopes, options);

/** A key made by the signed-in `token`; fails the test when the server refuses it. */
async function newKey(token: string, scopes: string[], options?: { name?: string; expiresIn?: number }) {
  const res = await createApiKey(token, scopes, options);
  if (!res.data?.createApiKey) throw new Error(`createApiKey failed: ${JSON.stringify(res.errors)}`);
  return res.data.createApiKey;
}

/** A user with `roles`, freshly signed in (so recently authenticated). */
async function signedIn(roles: Role[] = ['USER']): Promise<{ user: TestUser; tokens: Tokens }> {
  const user = await createUser(app, { roles });
  return { user, tokens: await signIn(app, user) };
}

/** A fresh ADMIN access token (other than any key owner's). */
async function otherAdmin(): Promise<string> {
  return (await signedIn(['ADMIN'])).tokens.accessToken;
}

const listKeys = async (token: string): Promise<ApiKeyView[]> => {
  const res = await app.gql<{ apiKeys: ApiKeyView[] }>(LIST, {}, { token });
  expect(res.errors).toBeUndefined();
  return res.data!.apiKeys;
};

const field = (res: GraphQLResponse<unknown>): unknown => res.errors?.[0]?.extensions?.field;

const auditRows = (userId: string, type: string) =>
  app.sql<{ actor_user_id: string; subject_user_id: string; detail: string | null }>(
    'select actor_user_id, subject_user_id, detail from audit_events where subject_user_id = ? and type = ? order by id',
    [userId, type],
  );

describe('createApiKey', () => {
  it('returns the secret once (pcl_ + 40 base62) with the key; stores only its SHA-256; never logs, audits or mails it', async () => {
    const { user, tokens } = await signedIn();
    const mailsBefore = app.smtp.messages.length;
    const res = await createApiKey(tokens.accessToken, ['self:write', 'self:read'], { name: 'laptop script' });
    expect(res.errors).toBeUndefined();
    const { secret, apiKey } = res.data!.createApiKey;

    expect(secret).toMatch(SECRET_PATTERN);
    expect(apiKey).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      name: 'laptop script',
      prefix: secret.slice(0, 12),
      scopes: ['self:read', 'self:write'],
      createdAt: app.clock.now().toISOString(),
      expiresAt: null,
      lastUsedAt: null,
    });
    // The part of the secret that `prefix` does not show: it must appear nowhere but in the createApiKey answer.
    const hidden = secret.slice(12);

    // apiKeys lists it, and the ApiKey type has no field that could carry the secret.
    const listed = await app.gql<{ apiKeys: ApiKeyView[] }>(LIST, {}, { token: tokens.accessToken });
    expect(listed.body).toEqual({ data: { apiKeys: [apiKey] } });
    expect(JSON.stringify(listed.body)).not.toContain(hidden);
    for (const f of ['secret', 'secretHash']) {
      expect(errorCode(await app.gql(`{ apiKeys { id ${f} } }`, {}, { token: tokens.accessToken }))).toBe(
        'GRAPHQL_VALIDATION_FAILED',
      );
    }

    // The database: the SHA-256 (base64url) of the secret, and the secret in no column.
    const rows = await app.sql<Record<string, unknown>>('select * from api_keys where id = ?', [apiKey.id]);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.secret_hash).toBe(sha256(secret));
    expect(rows[0]!.prefix).toBe(apiKey.prefix);
    const asJson = await app.sql<{ j: string }>('select row_to_json(k)::text as j from api_keys k where id = ?', [
      apiKey.id,
    ]);
    expect(asJson[0]!.j).not.toContain(hidden);

    // The key in use (allowed, refused, and one character off), so that such requests are logged too.
    const used = await me(app, secret);
    expect(used.data?.me.id).toBe(user.id);
    expect(errorCode(await app.gql(USERS, {}, { token: secret }))).toBe('FORBIDDEN');
    const typo = `${secret.slice(0, -1)}${secret.endsWith('a') ? 'b' : 'a'}`;
    const wrong = await me(app, typo);
    expect(errorCode(wrong)).toBe('UNAUTHENTICATED');
    const lastId = wrong.headers.get('x-request-id');
    await eventually(() => log.lines.some((l) => lastId !== null && l.includes(lastId)));

    // The audit trail: API_KEY_CREATED by the user about the user, naming the key by its prefix only.
    const created = await auditRows(user.id, 'API_KEY_CREATED');
    expect(created).toEqual([{ actor_user_id: user.id, subject_user_id: user.id, detail: expect.any(String) }]);
    expect(created[0]!.detail).toContain(apiKey.prefix);
    const audit = await app.sql<{ j: string }>('select row_to_json(a)::text as j from audit_events a');
    expect(audit.filter((r) => r.j.includes(hidden))).toEqual([]);

    // The notice email, which names the key without its secret.
    const notice = await app.smtp.waitFor(user.email, (m) => m.subject === NOTICE_SUBJECT);
    expect(app.smtp.messages.indexOf(notice)).toBeGreaterThanOrEqual(mailsBefore);
    expect(notice.text + notice.html).not.toContain(hidden);

    // No log line holds it, nor the mistyped one (the server logs at debug level here).
    expect(log.lines.length).toBeGreaterThan(0);
    expect(log.lines.filter((l) => l.includes(hidden) || l.includes(typo.slice(12)))).toEqual([]);
  });

  it('accepts only a non-empty subset of the caller’s own scopes, expiresIn ≥ 60 s and a name of 1 to 64 characters', async () => {
    const { tokens } = await signedIn(['USER']);
    const t = tokens.accessToken;
    const refusals: Array<[string, GraphQLResponse<unknown>, string]> = [
      ['a USER asking for users:read', await createApiKey(t, ['self:read', 'users:read']), 'scopes'],
      ['no scopes', await createApiKey(t, []), 'scopes'],
      ['an unknown scope', await createApiKey(t, ['self:read', 'everything:write']), 'scopes'],
      ['expiresIn 59', await createApiKey(t, ['self:read'], { expiresIn: 59 }), 'expiresIn'],
      ['expiresIn 0', await createApiKey(t, ['self:read'], { expiresIn: 0 }), 'expiresIn'],
      ['expiresIn over 10 years', await createApiKey(t, ['self:read'], { expiresIn: 315_360_001 }), 'expiresIn'],
      ['an empty name', await createApiKey(t, ['self:read'], { name: '' }), 'name'],
      ['a blank name', await createApiKey(t, ['self:read'], { name: '   ' }), 'name'],
      ['a 65-character name', await createApiKey(t, ['self:read'], { name: 'n'.repeat(65) }), 'name'],
    ];
    for (const [what, res, where] of refusals) {
      expect({ what, code: errorCode(res), field: field(res), data: res.data ?? null }).toEqual({
        what,
        code: 'BAD_USER_INPUT',
        field: where,
        data: null,
      });
    }
    expect(await listKeys(t)).toEqual([]);

    // The limits themselves are allowed.
    const edge = await newKey(t, ['self:read'], { name: 'n'.repeat(64), expiresIn: 60 });
    expect(edge.apiKey.name).toBe('n'.repeat(64));
    expect(edge.apiKey.expiresAt).toBe(new Date(app.clock.now().getTime() + 60_000).toISOString());
    const longest = await newKey(t, ['self:read', 'self:read'], { expiresIn: 315_360_000 });
    expect(longest.apiKey.scopes).toEqual(['self:read']);
    expect((await listKeys(t)).map((k) => k.id).sort()).toEqual([edge.apiKey.id, longest.apiKey.id].sort());
  });

  it('apiKeys lists the live keys, newest first', async () => {
    const { tokens } = await signedIn();
    const older = await newKey(tokens.accessToken, ['self:read'], { name: 'older' });
    app.clock.advance(1);
    const newer = await newKey(tokens.accessToken, ['self:read'], { name: 'newer' });
    app.clock.advance(1);
    const gone = await newKey(tokens.accessToken, ['self:read'], { name: 'revoked' });
    expect((await app.gql(REVOKE, { id: gone.apiKey.id }, { token: tokens.accessToken })).errors).toBeUndefined();
    expect(await listKeys(tokens.accessToken)).toEqual([newer.apiKey, older.apiKey]);
  });

  it('needs a recent authentication: 301 s after sign-in it answers STEP_UP_REQUIRED', async () => {
    const { tokens } = await signedIn();
    expect((await createApiKey(tokens.accessToken, ['self:read'])).errors).toBeUndefined();
    app.clock.advance(301);
    const late = await createApiKey(tokens.accessToken, ['self:read']);
    expect(errorCode(late)).toBe('STEP_UP_REQUIRED');
    expect(late.data ?? null).toBeNull();
    expect(await listKeys(tokens.accessToken)).toHaveLength(1);
  });
});

describe('an API key as Bearer credentials', () => {
  it('acts as its owner: a self:read key reads `me`; a mutation needing self:write is FORBIDDEN', async () => {
    const { user, tokens } = await signedIn();
    const { secret, apiKey } = await newKey(tokens.accessToken, ['self:read']);
    const res = await me(app, secret);
    expect(res.errors).toBeUndefined();
    expect(res.data?.me).toMatchObject({ id: user.id, email: user.email.toLowerCase() });

    const write = await app.gql(REVOKE, { id: apiKey.id }, { token: secret });
    expect(errorCode(write)).toBe('FORBIDDEN');
    expect(write.data ?? null).toBeNull();
    expect((await me(app, secret)).data?.me.id).toBe(user.id); // the refused revocation did nothing
  });

  it('an ADMIN’s key with only users:read lists users but cannot setUserRoles (FORBIDDEN)', async () => {
    const { tokens } = await signedIn(['ADMIN']);
    const { secret } = await newKey(tokens.accessToken, ['users:read']);
    const users = await app.gql<{ users: { totalCount: number; edges: Array<{ node: { id: string } }> } }>(
      USERS,
      {},
      { token: secret },
    );
    expect(users.errors).toBeUndefined();
    expect(users.data!.users.totalCount).toBeGreaterThan(0);

    const target = await createUser(app);
    const promote = await app.gql(SET_ROLES, { id: target.id, roles: ['ADMIN'] }, { token: secret });
    expect(errorCode(promote)).toBe('FORBIDDEN');
    const [row] = await app.sql<{ roles: string[] }>('select roles from users where id = ?', [target.id]);
    expect(row!.roles).toEqual(['USER']);
    // Its owner's own scopes are not the key's: self:read was not given to it.
    expect(errorCode(await me(app, secret))).toBe('FORBIDDEN');
  });

  it('is never a recent authentication: createApiKey and @requiresAssurance fields answer STEP_UP_REQUIRED, even right after its creation', async () => {
    const { tokens } = await signedIn();
    const { secret } = await newKey(tokens.accessToken, ['self:read', 'self:write']);
    // The same fields work with the fresh access token (so the refusal below is the key's, not the account's).
    expect((await app.gql(ENROLL_TOTP, {}, { token: tokens.accessToken })).errors).toBeUndefined();

    const create = await createApiKeyAt(app, secret, ['self:read']);
    expect(errorCode(create)).toBe('STEP_UP_REQUIRED');
    expect(errorCode(await app.gql(ENROLL_TOTP, {}, { token: secret }))).toBe('STEP_UP_REQUIRED');
    // Nor can it become recent: reauthenticate with the password has no session to refresh.
    const reauth = await app.gql(
      'mutation($p: String!) { reauthenticate(password: $p) { accessToken } }',
      { p: PASSWORD },
      { token: secret },
    );
    expect(errorCode(reauth)).toBe('UNAUTHENTICATED');
    expect(reauth.data ?? null).toBeNull();
    expect(errorCode(await createApiKeyAt(app, secret, ['self:read']))).toBe('STEP_UP_REQUIRED');
    expect(await listKeys(tokens.accessToken)).toHaveLength(1);
  });

  it('expires after expiresIn: good at +3599 s, UNAUTHENTICATED at +3601 s', async () => {
    const { user, tokens } = await signedIn();
    const { secret, apiKey } = await newKey(tokens.accessToken, ['self:read'], { expiresIn: 3600 });
    expect(apiKey.expiresAt).toBe(new Date(Date.parse(apiKey.createdAt) + 3_600_000).toISOString());
    app.clock.advance(3599);
    expect((await me(app, secret)).data?.me.id).toBe(user.id);
    app.clock.advance(2);
    const late = await me(app, secret);
    expect(errorCode(late)).toBe('UNAUTHENTICATED');
    expect(late.data ?? null).toBeNull();
  });

  it('refuses a malformed pcl_ bearer with UNAUTHENTICATED, not a server error', async () => {
    const body40 = 'A'.repeat(40);
    const bad = [
      'pcl_',
      'pcl_short',
      `pcl_${body40}A`, // 41 characters
      `pcl_${body40.slice(1)}`, // 39
      `pcl_${body40.slice(2)}-_`, // not base62
      `pcl_${body40.slice(1)}é`,
      `pcl_${'Z'.repeat(40)}`, // well-formed, but no such key
    ];
    for (const token of bad) {
      const res = await me(app, token);
      expect({ token, status: res.status < 500, code: errorCode(res) }).toEqual({
        token,
        status: true,
        code: 'UNAUTHENTICATED',
      });
    }
  });
});

describe('revokeApiKey', () => {
  it('ends the key at once; a second revocation, or another user’s key, answers false; API_KEY_REVOKED is audited', async () => {
    const { user, tokens } = await signedIn();
    const other = await signedIn();
    const mine = await newKey(tokens.accessToken, ['self:read']);
    const theirs = await newKey(other.tokens.accessToken, ['self:read']);
    expect((await me(app, mine.secret)).errors).toBeUndefined();

    const revoked = await app.gql(REVOKE, { id: mine.apiKey.id }, { token: tokens.accessToken });
    expect(revoked.body).toEqual({ data: { revokeApiKey: true } });
    expect(errorCode(await me(app, mine.secret))).toBe('UNAUTHENTICATED');

    expect((await app.gql(REVOKE, { id: mine.apiKey.id }, { token: tokens.accessToken })).body).toEqual({
      data: { revokeApiKey: false },
    });
    expect((await app.gql(REVOKE, { id: theirs.apiKey.id }, { token: tokens.accessToken })).body).toEqual({
      data: { revokeApiKey: false },
    });
    expect((await me(app, theirs.secret)).data?.me.id).toBe(other.user.id);
    expect(await listKeys(tokens.accessToken)).toEqual([]);
    expect((await listKeys(other.tokens.accessToken)).map((k) => k.id)).toEqual([theirs.apiKey.id]);

    expect(await auditRows(user.id, 'API_KEY_REVOKED')).toEqual([
      { actor_user_id: user.id, subject_user_id: user.id, detail: expect.any(String) },
    ]);
    expect(await auditRows(other.user.id, 'API_KEY_REVOKED')).toEqual([]);
  });
});

describe('the owner changes', () => {
  it('the owner deactivated by an admin: the key answers UNAUTHENTICATED', async () => {
    const { user, tokens } = await signedIn();
    const { secret } = await newKey(tokens.accessToken, ['self:read']);
    expect((await me(app, secret)).errors).toBeUndefined();
    const off = await app.gql(SET_ACTIVE, { id: user.id, active: false }, { token: await otherAdmin() });
    expect(off.errors).toBeUndefined();
    expect(errorCode(await me(app, secret))).toBe('UNAUTHENTICATED');
  });

  it('the owner’s role change that removes a scope: users:read is FORBIDDEN, self:read still works', async () => {
    const { user, tokens } = await signedIn(['ADMIN']);
    const { secret } = await newKey(tokens.accessToken, ['self:read', 'users:read']);
    expect((await app.gql(USERS, {}, { token: secret })).errors).toBeUndefined();

    const demoted = await app.gql(SET_ROLES, { id: user.id, roles: ['USER'] }, { token: await otherAdmin() });
    expect(demoted.errors).toBeUndefined();
    expect(errorCode(await app.gql(USERS, {}, { token: secret }))).toBe('FORBIDDEN');
    expect((await me(app, secret)).data?.me.id).toBe(user.id);
  });
});

describe('lastUsedAt', () => {
  it('is set by the first use, left alone by a use 30 s later, and moved by a use 61 s later', async () => {
    const { tokens } = await signedIn();
    const { secret, apiKey } = await newKey(tokens.accessToken, ['self:read']);
    const stored = async (): Promise<number | null> => {
      const [row] = await app.sql<{ last_used_at: Date | null }>('select last_used_at from api_keys where id = ?', [
        apiKey.id,
      ]);
      return row!.last_used_at === null ? null : new Date(row!.last_used_at).getTime();
    };
    expect(await stored()).toBeNull();

    const first = app.clock.now().getTime();
    expect((await me(app, secret)).errors).toBeUndefined();
    expect(await stored()).toBe(first);
    expect((await listKeys(tokens.accessToken))[0]!.lastUsedAt).toBe(new Date(first).toISOString());

    app.clock.advance(30);
    expect((await me(app, secret)).errors).toBeUndefined();
    expect(await stored()).toBe(first);

    app.clock.advance(31);
    const later = app.clock.now().getTime();
    expect((await me(app, secret)).errors).toBeUndefined();
    expect(await stored()).toBe(later);
  });
});

// Two servers on one real PostgreSQL, as behind a load balancer (PGlite is one database per test file).
const pgUrl = realPostgresUrl('tests/api-keys.test.ts');

(pgUrl ? describe : describe.skip)('two instances on one PostgreSQL', () => {
  let a: TestApp;
  let b: PortcullisServer;
  let bClient: GraphQLClient;

  beforeAll(async () => {
    a = await startTestApp({ postgres: pgUrl });
    const config = loadConfig(serverEnv(a.db, { NODE_ENV: 'test', SMTP_URL: a.smtp.url }));
    b = await createServer(config, { clock: new FakeClock(a.clock.now()), logger: silentLogger });
    bClient = graphqlClient(`http://127.0.0.1:${await b.listen(0, '127.0.0.1')}/graphql`);
  });
  afterAll(async () => {
    await b?.stop();
    await a?.stop();
  });

  it('a key revoked on A is refused by B within 1 s', async () => {
    const tokens = await signUp(a);
    const { secret, apiKey } = (await newKeyAt(a, tokens.accessToken, ['self:read'])).createApiKey;
    expect((await me(bClient, secret)).data?.me.id).toBe(tokens.user.id);

    expect((await a.gql(REVOKE, { id: apiKey.id }, { token: tokens.accessToken })).body).toEqual({
      data: { revokeApiKey: true },
    });
    const start = Date.now();
    const { code, ms } = await eventually(
      async () => ({ code: errorCode(await me(bClient, secret)), ms: Date.now() - start }),
      (r) => r.code === 'UNAUTHENTICATED',
      { timeoutMs: 1000, intervalMs: 50, onTimeout: 'return' },
    );
    expect(code).toBe('UNAUTHENTICATED');
    expect(ms).toBeLessThanOrEqual(1000);
  });

  async function newKeyAt(at: GraphQLClient, token: string, scopes: string[]) {
    const res = await createApiKeyAt(at, token, scopes);
    if (!res.data) throw new Error(`createApiKey failed: ${JSON.stringify(res.errors)}`);
    return res.data;
  }
});
