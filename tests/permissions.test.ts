// The permission matrix: every Query and Mutation field × every kind of caller, called over HTTP.
// The expected rules below are written from docs/contract.md, independently of the code; the list of fields
// comes from schema.graphql, so a new field without a rule (or without an example call) fails the suite.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildSchema, getDirectiveValues, type GraphQLField, type GraphQLSchema } from 'graphql';
import { buildTypeSchema } from '../src/server/schema';
import { createUser } from './helpers/factories';
import { login, PASSWORD, signUp, uniqueEmail, type Tokens } from './helpers/flows';
import { startTestApp, type GraphQLResponse, type TestApp } from './helpers/test-server';

type Role = 'USER' | 'SUPPORT' | 'ADMIN';
type Rule = 'PUBLIC' | 'self:read' | 'self:write' | 'users:read' | 'users:write' | 'roles:write';

/** docs/contract.md, "Roles and scopes". */
const ROLE_SCOPES: Record<Role, readonly Rule[]> = {
  USER: ['self:read', 'self:write'],
  SUPPORT: ['self:read', 'self:write', 'users:read'],
  ADMIN: ['self:read', 'self:write', 'users:read', 'users:write', 'roles:write'],
};

/** What each root field requires: 'PUBLIC', or the one scope it needs. */
const EXPECTED: Record<string, Rule> = {
  'Mutation.register': 'PUBLIC',
  'Mutation.login': 'PUBLIC',
  'Mutation.requestOtp': 'PUBLIC',
  'Mutation.verifyOtp': 'PUBLIC',
  'Mutation.resetPassword': 'PUBLIC',
  'Mutation.refresh': 'PUBLIC',
  'Mutation.logout': 'PUBLIC',
  'Query.me': 'self:read',
  'Query.sessions': 'self:read',
  'Query.myAuditEvents': 'self:read',
  'Query.assurance': 'self:read',
  'Mutation.logoutAll': 'self:write',
  'Mutation.changePassword': 'self:write',
  'Mutation.revokeSession': 'self:write',
  'Query.users': 'users:read',
  'Query.user': 'users:read',
  'Query.auditEvents': 'users:read',
  'Mutation.setUserActive': 'users:write',
  'Mutation.unlockUser': 'users:write',
  'Mutation.setUserRoles': 'roles:write',
  'Query.identityProviders': 'PUBLIC',
  'Mutation.startSocialSignIn': 'PUBLIC',
  'Mutation.completeSocialSignIn': 'PUBLIC',
  'Mutation.signInWithIdToken': 'PUBLIC',
  'Mutation.startSocialLink': 'self:write',
  'Mutation.completeSocialLink': 'self:write',
  'Mutation.unlinkIdentity': 'self:write',
};

type PrincipalName = 'anonymous' | Role | 'deactivated' | 'revoked';
const PRINCIPALS: PrincipalName[] = ['anonymous', 'USER', 'SUPPORT', 'ADMIN', 'deactivated', 'revoked'];
const ROLES: readonly string[] = ['USER', 'SUPPORT', 'ADMIN'];
const roleOf = (p: PrincipalName): Role | undefined => (ROLES.includes(p) ? (p as Role) : undefined);

interface Example {
  query: string;
  /** Variables for the call; `session` is the caller's fresh session when `ownSession` is set. */
  vars?: (cell: { session?: Tokens }) => Promise<Record<string, unknown>> | Record<string, unknown>;
  /** The call ends or changes the caller's sessions: each cell gets a session of its own (see ownToken). */
  ownSession?: true;
  /**
   * 'data', or the error code these arguments must get once the permission lets the call through (never an auth
   * error): for public fields from everyone, for the others from the principals the rule allows.
   */
  outcome?: string;
}

const EXAMPLES: Record<string, Example> = {
  'Mutation.register': {
    query: 'mutation($input: RegisterInput!) { register(input: $input) { expiresIn retryAfter } }',
    vars: () => ({ input: { email: uniqueEmail('reg'), password: PASSWORD } }),
  },
  'Mutation.login': {
    query:
      'mutation($email: String!, $password: String!) { login(email: $email, password: $password) { accessToken } }',
    vars: async () => ({ email: (await spendLogin('USER')).email, password: PASSWORD }),
  },
  'Mutation.requestOtp': {
    query: 'mutation($email: String!) { requestOtp(email: $email, purpose: LOGIN) { expiresIn retryAfter } }',
    vars: () => ({ email: uniqueEmail('otp') }),
  },
  'Mutation.verifyOtp': {
    query: 'mutation($email: String!) { verifyOtp(email: $email, code: "000000", purpose: LOGIN) { accessToken } }',
    vars: () => ({ email: uniqueEmail('verify') }),
    outcome: 'INVALID_OTP',
  },
  'Mutation.resetPassword': {
    query: 'mutation($email: String!, $pw: String!) { resetPassword(email: $email, code: "000000", newPassword: $pw) }',
    vars: () => ({ email: uniqueEmail('reset'), pw: PASSWORD }),
    outcome: 'INVALID_OTP',
  },
  'Mutation.refresh': {
    query: 'mutation($t: String) { refresh(refreshToken: $t) { accessToken refreshToken } }',
    vars: async () => ({ t: (await freshSession('USER')).refreshToken }),
  },
  'Mutation.logout': {
    query: 'mutation($t: String) { logout(refreshToken: $t) }',
    vars: async () => ({ t: (await freshSession('USER')).refreshToken }),
  },
  'Query.me': { query: '{ me { id email roles } }' },
  'Query.sessions': { query: '{ sessions { id current } }' },
  'Query.assurance': { query: '{ assurance { level methods authenticatedAt } }' },
  'Query.myAuditEvents': { query: '{ myAuditEvents { totalCount edges { node { id type } } } }' },
  'Mutation.logoutAll': { query: 'mutation { logoutAll }', ownSession: true },
  'Mutation.changePassword': {
    query: 'mutation($pw: String!) { changePassword(currentPassword: $pw, newPassword: $pw) }',
    vars: () => ({ pw: PASSWORD }),
    ownSession: true,
  },
  'Mutation.revokeSession': {
    query: 'mutation($id: ID!) { revokeSession(id: $id) }',
    // The caller's own session; anonymous callers name a live session of the USER principal.
    vars: ({ session }) => ({ id: sessionIdOf(session?.accessToken ?? principals.USER.token!) }),
    ownSession: true,
  },
  'Query.users': { query: '{ users { totalCount edges { node { id } } } }' },
  'Query.user': { query: 'query($id: ID!) { user(id: $id) { id email } }', vars: () => ({ id: throwaway.id }) },
  'Query.auditEvents': { query: '{ auditEvents { totalCount edges { node { id type } } } }' },
  'Mutation.setUserActive': {
    query: 'mutation($id: ID!) { setUserActive(userId: $id, active: true) { id active } }',
    vars: () => ({ id: throwaway.id }),
  },
  'Mutation.setUserRoles': {
    query: 'mutation($id: ID!) { setUserRoles(userId: $id, roles: [USER]) { id roles } }',
    vars: () => ({ id: throwaway.id }),
  },
  // No identity provider is configured here: the social operations get past the permission and are then refused by
  // their service with a contract code (their own behaviour is in social-sign-in.test.ts and social-attacks.test.ts).
  'Query.identityProviders': { query: '{ identityProviders { id displayName } }' },
  'Mutation.startSocialSignIn': {
    query: `mutation { startSocialSignIn(provider: "none", redirectUri: "https://app.example/cb", codeChallenge: "${'c'.repeat(43)}") { authorizationUrl } }`,
    outcome: 'BAD_USER_INPUT',
  },
  'Mutation.completeSocialSignIn': {
    query: `mutation { completeSocialSignIn(code: "nope", codeVerifier: "${'v'.repeat(43)}") { accessToken } }`,
    outcome: 'INVALID_OTP',
  },
  'Mutation.signInWithIdToken': {
    query: 'mutation { signInWithIdToken(provider: "none", idToken: "a.b.c", nonce: "n") { accessToken } }',
    outcome: 'BAD_USER_INPUT',
  },
  'Mutation.startSocialLink': {
    query: `mutation { startSocialLink(provider: "none", redirectUri: "https://app.example/cb", codeChallenge: "${'c'.repeat(43)}") { authorizationUrl } }`,
    outcome: 'BAD_USER_INPUT',
  },
  'Mutation.completeSocialLink': {
    query: `mutation { completeSocialLink(code: "nope", codeVerifier: "${'v'.repeat(43)}") { id } }`,
    outcome: 'INVALID_OTP',
  },
  'Mutation.unlinkIdentity': {
    query: 'mutation { unlinkIdentity(id: "00000000-0000-4000-8000-000000000000") }',
    outcome: 'BAD_USER_INPUT',
  },
  'Mutation.unlockUser': {
    query: 'mutation($id: ID!) { unlockUser(userId: $id) { id } }',
    vars: () => ({ id: throwaway.id }),
  },
};

// ---- the schema ------------------------------------------------------------------------------------

const fileSchema = buildSchema(readFileSync(join(__dirname, '..', 'schema.graphql'), 'utf8'));

function rootFields(schema: GraphQLSchema): Array<[string, GraphQLField<unknown, unknown>]> {
  const out: Array<[string, GraphQLField<unknown, unknown>]> = [];
  for (const root of [schema.getQueryType(), schema.getMutationType()]) {
    for (const field of Object.values(root?.getFields() ?? {})) out.push([`${root!.name}.${field.name}`, field]);
  }
  return out.sort(([a], [b]) => a.localeCompare(b));
}

const FIELDS = rootFields(fileSchema).map(([key]) => key);

/** The auth directives a field carries, read straight from its AST. */
function authDirectives(schema: GraphQLSchema, field: GraphQLField<unknown, unknown>) {
  const names = (field.astNode?.directives ?? []).map((d) => d.name.value);
  // type-graphql gives a field an AST node only when it has directives.
  const scopes = field.astNode
    ? (getDirectiveValues(schema.getDirective('requiresScopes')!, field.astNode)?.scopes ?? null)
    : null;
  return {
    authenticated: names.filter((n) => n === 'authenticated').length,
    requiresScopes: names.filter((n) => n === 'requiresScopes').length,
    scopes,
  };
}

function expectedDirectives(rule: Rule | undefined) {
  if (rule === undefined) return 'no rule in EXPECTED';
  return rule === 'PUBLIC'
    ? { authenticated: 0, requiresScopes: 0, scopes: null }
    : { authenticated: 1, requiresScopes: 1, scopes: [[rule]] };
}

describe('the expectation tables', () => {
  it('cover every Query and Mutation field of schema.graphql, and name no field it lacks', () => {
    expect({
      fieldsWithoutRule: FIELDS.filter((k) => !(k in EXPECTED)),
      fieldsWithoutExample: FIELDS.filter((k) => !(k in EXAMPLES)),
      rulesForUnknownFields: Object.keys(EXPECTED).filter((k) => !FIELDS.includes(k)),
      examplesForUnknownFields: Object.keys(EXAMPLES).filter((k) => !FIELDS.includes(k)),
    }).toEqual({
      fieldsWithoutRule: [],
      fieldsWithoutExample: [],
      rulesForUnknownFields: [],
      examplesForUnknownFields: [],
    });
  });
});

describe.each([
  ['schema.graphql', async () => fileSchema],
  ['the schema built from the code', () => buildTypeSchema()],
] as const)('directives in %s', (_name, load) => {
  it('has the same root fields as schema.graphql', async () => {
    expect(rootFields(await load()).map(([key]) => key)).toEqual(FIELDS);
  });
  it.each(FIELDS)('%s carries exactly the directives of its expected rule', async (key) => {
    const schema = await load();
    const field = rootFields(schema).find(([k]) => k === key)?.[1];
    expect(field).toBeDefined();
    expect(authDirectives(schema, field!)).toEqual(expectedDirectives(EXPECTED[key]));
  });
});

// ---- the principals -----------------------------------------------------------------------------

let app: TestApp;
const principals = {} as Record<PrincipalName, { token?: string }>;
/** A plain USER the admin cells act on: setUserActive(true) and setUserRoles([USER]) leave it as it was. */
let throwaway: { id: string };

interface Account {
  id: string;
  email: string;
  role: Role;
  logins: number;
}

/** A verified user with `role`, set in the database before any token with that role is issued. */
async function newAccount(role: Role): Promise<Account> {
  const { id, email } = await createUser(app, { roles: [role] });
  return { id, email, role, logins: 0 };
}

/** Accounts for cells that need sessions of their own; each signs in at most 4 times (login limit 5 / 5 s). */
const pool: Account[] = [];
async function spendLogin(role: Role): Promise<Account> {
  let account = pool.find((a) => a.role === role && a.logins < 4);
  if (!account) {
    account = await newAccount(role);
    pool.push(account);
  }
  account.logins += 1;
  return account;
}

async function signIn(account: Account): Promise<Tokens> {
  const res = await login(app, account.email);
  if (!res.data?.login) throw new Error(`login as ${account.role} failed: ${JSON.stringify(res.errors)}`);
  return res.data.login;
}

async function freshSession(role: Role): Promise<Tokens> {
  return signIn(await spendLogin(role));
}

/** A token of `principal` on a session of its own, so that a call ending sessions cannot affect other cells. */
async function ownToken(principal: PrincipalName): Promise<Tokens | undefined> {
  if (principal === 'anonymous') return undefined;
  const account = await spendLogin(roleOf(principal) ?? 'USER');
  const session = await signIn(account);
  if (principal === 'deactivated') {
    await app.sql('update users set active = false where id = ?', [account.id]);
    account.logins = 4; // retired from the pool
  }
  if (principal === 'revoked') {
    const out = await app.gql('mutation { logout }', {}, { token: session.accessToken });
    if (out.data?.logout !== true) throw new Error(`logout failed: ${JSON.stringify(out.errors)}`);
  }
  return session;
}

function sessionIdOf(accessToken: string): string {
  const claims = JSON.parse(Buffer.from(accessToken.split('.')[1]!, 'base64url').toString('utf8')) as { sid: string };
  return claims.sid;
}

beforeAll(async () => {
  app = await startTestApp({ env: { RATE_LIMIT_PER_MINUTE: '100000' } });
  principals.anonymous = {};
  for (const role of ['USER', 'SUPPORT', 'ADMIN'] as const) {
    const account = await newAccount(role);
    account.logins += 1;
    const tokens = await signIn(account);
    const me = await app.gql('{ me { roles scopes } }', {}, { token: tokens.accessToken });
    expect(me.data?.me).toEqual({ roles: [role], scopes: [...ROLE_SCOPES[role]].sort() });
    principals[role] = { token: tokens.accessToken };
  }

  principals.deactivated = { token: (await ownToken('deactivated'))!.accessToken };
  principals.revoked = { token: (await ownToken('revoked'))!.accessToken };
  throwaway = (await signUp(app)).user;
});

afterAll(async () => {
  await app?.stop();
});

// ---- the matrix ---------------------------------------------------------------------------------

type Outcome = 'allowed' | 'UNAUTHENTICATED' | 'FORBIDDEN' | 'NO RULE';

function outcomeOf(key: string, principal: PrincipalName): Outcome {
  const rule = EXPECTED[key];
  if (rule === undefined) return 'NO RULE';
  if (rule === 'PUBLIC') return 'allowed';
  const role = roleOf(principal);
  if (role === undefined) return 'UNAUTHENTICATED';
  return ROLE_SCOPES[role].includes(rule) ? 'allowed' : 'FORBIDDEN';
}

const codeOf = (res: GraphQLResponse) => res.errors?.[0]?.extensions?.code as string | undefined;

async function runCell(key: string, principal: PrincipalName, outcome: Outcome): Promise<void> {
  const rule = EXPECTED[key];
  const example = EXAMPLES[key];
  if (rule === undefined) throw new Error(`${key} has no rule: add it to EXPECTED (PUBLIC or its scope)`);
  if (example === undefined) throw new Error(`${key} has no example call: add it to EXAMPLES`);
  const field = key.split('.')[1]!;
  const session = example.ownSession ? await ownToken(principal) : undefined;
  const token = example.ownSession ? session?.accessToken : principals[principal].token;
  const variables = example.vars ? await example.vars({ session }) : {};
  const res = await app.gql(example.query, variables, token === undefined ? {} : { token });
  const value = (res.data as Record<string, unknown> | null | undefined)?.[field] ?? null;
  const report = JSON.stringify(res);

  if (rule === 'PUBLIC') {
    const codes = (res.errors ?? []).map((e) => e.extensions?.code);
    expect(codes).not.toContain('UNAUTHENTICATED');
    expect(codes).not.toContain('FORBIDDEN');
    const wanted = example.outcome ?? 'data';
    if (wanted === 'data') {
      expect({ errors: res.errors, present: value !== null }).toEqual({ errors: undefined, present: true });
      if (typeof value === 'boolean') expect(value).toBe(true);
    } else {
      expect({ code: codeOf(res), value }).toEqual({ code: wanted, value: null });
    }
    return;
  }

  if (outcome === 'allowed') {
    if (example.outcome !== undefined && example.outcome !== 'data') {
      expect({ code: codeOf(res), value }).toEqual({ code: example.outcome, value: null });
      return;
    }
    if (res.errors !== undefined) throw new Error(`${key} as ${principal} was refused: ${report}`);
    expect(value).not.toBeNull();
    if (typeof value === 'boolean') expect(value).toBe(true);
    return;
  }
  // Refused: the right code, the scope named for FORBIDDEN, and nothing of the field's data.
  expect(codeOf(res)).toBe(outcome);
  expect(value).toBeNull();
  const extensions = res.errors![0]!.extensions ?? {};
  if (outcome === 'FORBIDDEN') expect(extensions.requiredScopes).toEqual([[rule]]);
  else expect(extensions.requiredScopes).toBeUndefined();
}

describe.each(FIELDS)('%s', (key) => {
  it.each(PRINCIPALS.map((p) => [p, outcomeOf(key, p)] as const))('as %s → %s', async (principal, outcome) => {
    await runCell(key, principal, outcome);
  });
});

describe('cells that end a session', () => {
  // The cells that end, rotate or re-key a session run again here: this check needs no other test before it.
  const ENDING = FIELDS.filter(
    (key) => EXAMPLES[key]?.ownSession || ['Mutation.logout', 'Mutation.refresh'].includes(key),
  );

  it('leave the principals signed in and the throwaway user as it was (other cells run with live tokens)', async () => {
    const ends = ['Mutation.logout', 'Mutation.logoutAll', 'Mutation.changePassword', 'Mutation.revokeSession'];
    expect(ENDING).toEqual(expect.arrayContaining(ends));
    for (const key of ENDING)
      for (const principal of PRINCIPALS) await runCell(key, principal, outcomeOf(key, principal));
    for (const key of ['Mutation.setUserActive', 'Mutation.setUserRoles']) await runCell(key, 'ADMIN', 'allowed');

    for (const role of ['USER', 'SUPPORT', 'ADMIN'] as const) {
      const res = await app.gql('{ me { roles } }', {}, { token: principals[role].token });
      expect(res.data?.me).toEqual({ roles: [role] });
    }
    const user = await app.gql(
      'query($id: ID!) { user(id: $id) { active roles } }',
      { id: throwaway.id },
      { token: principals.ADMIN.token },
    );
    expect(user.data?.user).toEqual({ active: true, roles: ['USER'] });
  });
});
