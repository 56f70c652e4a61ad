// The permission matrix: every Query and Mutation field × every kind of caller, called over HTTP.
// The expected rules below are written from docs/contract.md, independently of the code; the list of fields
// comes from schema.graphql, so a new field without a rule (or without an example call) fails the suite.
// Step-up (@requiresAssurance) has its own table, and tests of its own at the end of the file.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildSchema, getDirectiveValues, type GraphQLField, type GraphQLSchema } from 'graphql';
import { Secret, TOTP } from 'otpauth';
import { silentLogger } from '../src/common/logger';
import { loadConfig } from '../src/config/config';
import { createServer } from '../src/server/create-server';
import { buildTypeSchema } from '../src/server/schema';
import { graphqlClient, sessionIdOf } from './helpers/client';
import { FakeClock } from './helpers/fake-clock';
import { serverEnv } from './helpers/server-env';
import { createUser, signIn as signInUser } from './helpers/factories';
import { login, PASSWORD, signUp, uniqueEmail, type Tokens } from './helpers/flows';
import { errorCode, startTestApp, type GraphQLResponse, type TestApp } from './helpers/test-server';

type Role = 'USER' | 'SUPPORT' | 'ADMIN';
type Rule =
  | 'PUBLIC'
  | 'self:read'
  | 'self:write'
  | 'users:read'
  | 'users:write'
  | 'roles:write'
  | 'tokens:introspect'
  | 'webhooks:manage';

/** docs/contract.md, "Roles and scopes". */
const ROLE_SCOPES: Record<Role, readonly Rule[]> = {
  USER: ['self:read', 'self:write'],
  SUPPORT: ['self:read', 'self:write', 'users:read'],
  ADMIN: [
    'self:read',
    'self:write',
    'users:read',
    'users:write',
    'roles:write',
    'tokens:introspect',
    'webhooks:manage',
  ],
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
  // "Second factors": finishing a sign-in and passkey sign-in are public; managing one's own factors is self:write,
  // proving oneself again inside a session self:read, and an admin's reset users:write.
  'Mutation.verifyMfa': 'PUBLIC',
  'Mutation.startPasskeySignIn': 'PUBLIC',
  'Mutation.finishPasskeySignIn': 'PUBLIC',
  'Mutation.enrollTotp': 'self:write',
  'Mutation.confirmTotp': 'self:write',
  'Mutation.startPasskeyRegistration': 'self:write',
  'Mutation.finishPasskeyRegistration': 'self:write',
  'Mutation.removeMfaFactor': 'self:write',
  'Mutation.regenerateRecoveryCodes': 'self:write',
  'Mutation.reauthenticate': 'self:read',
  'Mutation.startPasskeyReauthentication': 'self:read',
  'Mutation.resetUserMfa': 'users:write',
  'Query.apiKeys': 'self:read',
  'Mutation.createApiKey': 'self:write',
  'Mutation.revokeApiKey': 'self:write',
  'Mutation.rotateSigningKey': 'roles:write',
  // "Account lifecycle": one's own address, deletion and data; deleting others is users:write.
  'Mutation.requestEmailChange': 'self:write',
  'Mutation.confirmEmailChange': 'self:write',
  'Mutation.deleteAccount': 'self:write',
  'Mutation.deleteUser': 'users:write',
  'Query.myData': 'self:read',
  // "Webhooks": the dead letter and redelivery are an admin's.
  'Query.webhookDeliveries': 'webhooks:manage',
  'Mutation.redeliverWebhook': 'webhooks:manage',
};

/**
 * The fields that need a recent authentication, and at which level (docs/contract.md, "Second factors, assurance,
 * step-up", and the API's "recent authentication" notes); none sets its own maxAge, so STEP_UP_MAX_AGE applies.
 * Every other field carries no @requiresAssurance.
 */
const ASSURANCE: Record<string, 1 | 2> = {
  'Mutation.enrollTotp': 1,
  'Mutation.startPasskeyRegistration': 1,
  'Mutation.removeMfaFactor': 2,
  'Mutation.regenerateRecoveryCodes': 2,
  'Mutation.resetUserMfa': 2,
  'Mutation.createApiKey': 1,
  'Mutation.rotateSigningKey': 2,
  'Mutation.requestEmailChange': 1,
  'Mutation.deleteAccount': 1,
  'Mutation.deleteUser': 2,
  'Mutation.redeliverWebhook': 1,
};

type PrincipalName = 'anonymous' | Role | 'deactivated' | 'revoked';
const PRINCIPALS: PrincipalName[] = ['anonymous', 'USER', 'SUPPORT', 'ADMIN', 'deactivated', 'revoked'];
const ROLES: readonly string[] = ['USER', 'SUPPORT', 'ADMIN'];
const roleOf = (p: PrincipalName): Role | undefined => (ROLES.includes(p) ? (p as Role) : undefined);

interface Example {
  query: string;
  /**
   * Variables for the call; `session` is the caller's fresh session when `ownSession` is set, `token` the access
   * token the call is made with (undefined for anonymous callers).
   */
  vars?: (cell: { session?: Tokens; token?: string }) => Promise<Record<string, unknown>> | Record<string, unknown>;
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
  // Second factors. The callers let through have fresh sessions and no MFA, so step-up lets them through too; the
  // factors made here stay unconfirmed (MFA stays off for every principal). Ids come from a call the caller's own
  // token may make, else a random one (a refused caller never reaches the lookup).
  'Mutation.enrollTotp': {
    query: 'mutation { enrollTotp(name: "Matrix") { factorId otpauthUri secret qrCodeSvg } }',
  },
  'Mutation.confirmTotp': {
    query: 'mutation($id: ID!, $code: String!) { confirmTotp(factorId: $id, code: $code) }',
    vars: async ({ token }) => {
      const enrollment = await enrollTotpAs(token);
      return { id: enrollment?.factorId ?? NO_SUCH_ID, code: enrollment ? wrongTotp(enrollment.secret) : '000000' };
    },
    outcome: 'INVALID_OTP',
  },
  'Mutation.startPasskeyRegistration': {
    query: 'mutation { startPasskeyRegistration { challengeId options expiresIn } }',
  },
  'Mutation.finishPasskeyRegistration': {
    query:
      'mutation($id: ID!, $response: JSON!) { finishPasskeyRegistration(challengeId: $id, response: $response, name: "Key") }',
    vars: async ({ token }) => ({ id: (await registrationChallengeOf(token)) ?? NO_SUCH_ID, response: BOGUS_RESPONSE }),
    outcome: 'BAD_USER_INPUT',
  },
  'Mutation.removeMfaFactor': {
    // The caller's own unconfirmed TOTP enrolment: removed, so true.
    query: 'mutation($id: ID!) { removeMfaFactor(id: $id) }',
    vars: async ({ token }) => ({ id: (await enrollTotpAs(token))?.factorId ?? NO_SUCH_ID }),
  },
  'Mutation.regenerateRecoveryCodes': {
    // Past the permission and step-up; refused by the service because the caller has no second factor.
    query: 'mutation { regenerateRecoveryCodes }',
    outcome: 'BAD_USER_INPUT',
  },
  'Mutation.resetUserMfa': {
    // The throwaway user has no factor: the reset leaves it as it was.
    query: 'mutation($id: ID!) { resetUserMfa(userId: $id) { id mfaEnabled } }',
    vars: () => ({ id: throwaway.id }),
  },
  'Query.apiKeys': { query: '{ apiKeys { id name prefix scopes } }' },
  'Mutation.createApiKey': {
    query: 'mutation { createApiKey(name: "matrix", scopes: ["self:read"]) { secret apiKey { id } } }',
  },
  'Mutation.revokeApiKey': {
    // The caller's own key, made for the call (anonymous callers name a random id).
    query: 'mutation($id: ID!) { revokeApiKey(id: $id) }',
    vars: async ({ token }) => {
      if (token === undefined) return { id: '00000000-0000-4000-8000-000000000000' };
      const made = await app.gql<{ createApiKey: { apiKey: { id: string } } }>(
        'mutation { createApiKey(name: "to revoke", scopes: ["self:read"]) { apiKey { id } } }',
        {},
        { token },
      );
      return { id: made.data?.createApiKey.apiKey.id ?? '00000000-0000-4000-8000-000000000000' };
    },
  },
  'Mutation.rotateSigningKey': {
    // The standby key made at start has not been published for 10 minutes yet: the rotation waits.
    query: 'mutation { rotateSigningKey }',
    outcome: 'RATE_LIMITED',
  },
  'Mutation.requestEmailChange': {
    query: 'mutation($e: String!) { requestEmailChange(newEmail: $e) { expiresIn retryAfter } }',
    vars: () => ({ e: uniqueEmail('moving') }),
  },
  'Mutation.confirmEmailChange': {
    // Past the permission; no change was asked for, so no code can be right.
    query: 'mutation { confirmEmailChange(code: "000000") { id email } }',
    outcome: 'INVALID_OTP',
  },
  'Mutation.deleteAccount': {
    // The cell's own account goes: it leaves the pool of accounts other cells sign in with.
    query: 'mutation { deleteAccount }',
    ownSession: true,
    vars: async ({ token }) => {
      if (token === undefined) return {};
      const me = await app.gql<{ me: { id: string } }>('{ me { id } }', {}, { token });
      const account = pool.find((a) => a.id === me.data?.me.id);
      if (account) account.logins = 4;
      return {};
    },
  },
  'Mutation.deleteUser': {
    // A user made for the call.
    query: 'mutation($id: ID!) { deleteUser(userId: $id) }',
    vars: async () => ({ id: (await createUser(app)).id }),
  },
  'Query.myData': { query: '{ myData }' },
  // Webhooks are off here: the list is empty, and no delivery has the id.
  'Query.webhookDeliveries': { query: '{ webhookDeliveries(status: DEAD) { totalCount edges { node { id } } } }' },
  'Mutation.redeliverWebhook': {
    query: 'mutation { redeliverWebhook(id: "1") { id status } }',
    outcome: 'BAD_USER_INPUT',
  },
  'Mutation.verifyMfa': {
    // A real ticket (a sign-in of a user with TOTP on that answered MFA_REQUIRED) and a wrong recovery code.
    query: 'mutation($ticket: String!, $rc: String) { verifyMfa(ticket: $ticket, recoveryCode: $rc) { accessToken } }',
    vars: async () => ({ ticket: await mfaTicket(), rc: 'zzzzz-zzzzz' }),
    outcome: 'INVALID_OTP',
  },
  'Mutation.startPasskeySignIn': {
    query: 'mutation($email: String) { startPasskeySignIn(email: $email) { challengeId options expiresIn } }',
    vars: () => ({ email: uniqueEmail('passkey') }),
  },
  'Mutation.finishPasskeySignIn': {
    // A live sign-in ceremony answered with something no authenticator made.
    query:
      'mutation($id: ID!, $response: JSON!) { finishPasskeySignIn(challengeId: $id, response: $response) { accessToken } }',
    vars: async () => ({ id: await signInChallenge(), response: BOGUS_RESPONSE }),
    outcome: 'INVALID_CREDENTIALS',
  },
  'Mutation.reauthenticate': {
    // Proving the password again: same session, a new access token.
    query: 'mutation($pw: String!) { reauthenticate(password: $pw) { accessToken refreshToken } }',
    vars: () => ({ pw: PASSWORD }),
  },
  'Mutation.startPasskeyReauthentication': {
    // Past the permission; refused by the service because the caller has no passkey.
    query: 'mutation { startPasskeyReauthentication { challengeId } }',
    outcome: 'BAD_USER_INPUT',
  },
};

/** An id nothing has. */
const NO_SUCH_ID = '00000000-0000-4000-8000-000000000000';

/** The shape of a WebAuthn response (credential JSON) that no authenticator made. */
const BOGUS_RESPONSE = {
  id: 'AAAA',
  rawId: 'AAAA',
  type: 'public-key',
  response: { clientDataJSON: 'e30', attestationObject: 'AA', authenticatorData: 'AA', signature: 'AA' },
  clientExtensionResults: {},
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
  const valuesOf = (directive: string) =>
    field.astNode ? (getDirectiveValues(schema.getDirective(directive)!, field.astNode) ?? null) : null;
  return {
    authenticated: names.filter((n) => n === 'authenticated').length,
    requiresScopes: names.filter((n) => n === 'requiresScopes').length,
    scopes: valuesOf('requiresScopes')?.scopes ?? null,
    requiresAssurance: names.filter((n) => n === 'requiresAssurance').length,
    assurance: valuesOf('requiresAssurance'),
  };
}

function expectedDirectives(rule: Rule | undefined, level: 1 | 2 | undefined) {
  if (rule === undefined) return 'no rule in EXPECTED';
  const stepUp =
    level === undefined ? { requiresAssurance: 0, assurance: null } : { requiresAssurance: 1, assurance: { level } };
  return rule === 'PUBLIC'
    ? { authenticated: 0, requiresScopes: 0, scopes: null, ...stepUp }
    : { authenticated: 1, requiresScopes: 1, scopes: [[rule]], ...stepUp };
}

describe('the expectation tables', () => {
  it('cover every Query and Mutation field of schema.graphql, and name no field it lacks', () => {
    expect({
      fieldsWithoutRule: FIELDS.filter((k) => !(k in EXPECTED)),
      fieldsWithoutExample: FIELDS.filter((k) => !(k in EXAMPLES)),
      rulesForUnknownFields: Object.keys(EXPECTED).filter((k) => !FIELDS.includes(k)),
      examplesForUnknownFields: Object.keys(EXAMPLES).filter((k) => !FIELDS.includes(k)),
      stepUpForUnknownFields: Object.keys(ASSURANCE).filter((k) => !FIELDS.includes(k)),
    }).toEqual({
      fieldsWithoutRule: [],
      fieldsWithoutExample: [],
      rulesForUnknownFields: [],
      examplesForUnknownFields: [],
      stepUpForUnknownFields: [],
    });
  });

  it('ask step-up only of fields that need a signed-in caller', () => {
    expect(Object.keys(ASSURANCE).filter((k) => EXPECTED[k] === 'PUBLIC')).toEqual([]);
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
    expect(authDirectives(schema, field!)).toEqual(expectedDirectives(EXPECTED[key], ASSURANCE[key]));
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

/** A TOTP enrolment of the caller, or undefined when the token may not make one (anonymous, dead sessions). */
async function enrollTotpAs(token: string | undefined): Promise<{ factorId: string; secret: string } | undefined> {
  if (token === undefined) return undefined;
  const res = await app.gql('mutation { enrollTotp(name: "Example") { factorId secret } }', {}, { token });
  return (res.data?.enrollTotp as { factorId: string; secret: string } | null | undefined) ?? undefined;
}

/** The RFC 6238 code of `secret` at the app's time, `offset` steps away (SHA-1, 6 digits, 30 s). */
function totpAt(secret: string, offset = 0): string {
  return new TOTP({ secret: Secret.fromBase32(secret) }).generate({
    timestamp: app.clock.now().getTime() + offset * 30_000,
  });
}

/** A six-digit code the TOTP window (±1 step) of `secret` does not hold. */
function wrongTotp(secret: string): string {
  const valid = [-1, 0, 1].map((offset) => totpAt(secret, offset));
  return ['000000', '111111', '222222', '333333'].find((c) => !valid.includes(c))!;
}

/** A REGISTER ceremony of the caller, or undefined when the token may not begin one. */
async function registrationChallengeOf(token: string | undefined): Promise<string | undefined> {
  if (token === undefined) return undefined;
  const res = await app.gql('mutation { startPasskeyRegistration { challengeId } }', {}, { token });
  return (res.data?.startPasskeyRegistration as { challengeId: string } | null | undefined)?.challengeId;
}

/** A live passkey sign-in ceremony. */
async function signInChallenge(): Promise<string> {
  const res = await app.gql('mutation { startPasskeySignIn { challengeId } }');
  const id = (res.data?.startPasskeySignIn as { challengeId: string } | null | undefined)?.challengeId;
  if (id === undefined) throw new Error(`startPasskeySignIn failed: ${JSON.stringify(res.errors)}`);
  return id;
}

/** Users with TOTP on, each signing in at most 4 times (its wrong second factors stay far below 10 an hour). */
const mfaPool: Account[] = [];

/** The mfaTicket of a password sign-in that answered MFA_REQUIRED. */
async function mfaTicket(): Promise<string> {
  let account = mfaPool.find((a) => a.logins < 4);
  if (!account) {
    account = await newAccount('USER');
    account.logins += 1;
    const { accessToken: token } = await signIn(account);
    const enrollment = (await enrollTotpAs(token))!;
    const codes = await app.gql(
      'mutation($id: ID!, $code: String!) { confirmTotp(factorId: $id, code: $code) }',
      { id: enrollment.factorId, code: totpAt(enrollment.secret) },
      { token },
    );
    if ((codes.data?.confirmTotp as string[] | undefined)?.length !== 10) {
      throw new Error(`confirmTotp failed: ${JSON.stringify(codes)}`);
    }
    mfaPool.push(account);
  }
  account.logins += 1;
  const res = await login(app, account.email);
  const ticket = res.errors?.[0]?.extensions?.mfaTicket as unknown;
  if (codeOf(res) !== 'MFA_REQUIRED' || typeof ticket !== 'string') {
    throw new Error(`login with MFA on did not answer MFA_REQUIRED: ${JSON.stringify(res)}`);
  }
  return ticket;
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
  const variables = example.vars ? await example.vars({ session, token }) : {};
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

// ---- step-up over HTTP ----------------------------------------------------------------------------

describe('step-up (@requiresAssurance) over HTTP', () => {
  // These tests move the app's clock past STEP_UP_MAX_AGE; each moves it back when it ends, so the matrix's
  // principals (signed in once, at the start) still have fresh sessions whatever runs before or after.
  let moved = 0;
  function advance(seconds: number): void {
    app.clock.advance(seconds);
    moved += seconds;
  }
  afterEach(() => {
    app.clock.advance(-moved);
    moved = 0;
  });

  /** A new user with `role`, signed in now (password: level 1, no MFA). */
  async function session(role: Role = 'USER'): Promise<Tokens> {
    return signInUser(app, await createUser(app, { roles: [role] }));
  }

  const call = (query: string, token: string, variables: Record<string, unknown> = {}) =>
    app.gql(query, variables, { token });
  const ENROLL = 'mutation { enrollTotp(name: "Phone") { factorId secret } }';
  const REGENERATE = 'mutation { regenerateRecoveryCodes }';
  const RESET = 'mutation($id: ID!) { resetUserMfa(userId: $id) { id mfaEnabled } }';
  const STEP_UP_1 = { code: 'STEP_UP_REQUIRED', maxAge: 300, level: 1 };
  const STEP_UP_2 = { code: 'STEP_UP_REQUIRED', maxAge: 300, level: 2 };

  function refusal(res: GraphQLResponse, field: string) {
    return { extensions: res.errors?.[0]?.extensions, value: res.data?.[field] ?? null };
  }

  function totp(secret: string): string {
    return new TOTP({ secret: Secret.fromBase32(secret) }).generate({ timestamp: app.clock.now().getTime() });
  }

  it('a sign-in 290 s ago is still recent: enrollTotp answers', async () => {
    const { accessToken } = await session();
    advance(290);
    const res = await call(ENROLL, accessToken);
    expect(res.errors).toBeUndefined();
    expect(res.data?.enrollTotp).toMatchObject({ factorId: expect.any(String), secret: expect.any(String) });
  });

  it('a sign-in more than 300 s ago gets STEP_UP_REQUIRED { maxAge: 300, level: 1 } from enrollTotp', async () => {
    const { accessToken } = await session();
    advance(301);
    expect(refusal(await call(ENROLL, accessToken), 'enrollTotp')).toEqual({
      extensions: expect.objectContaining(STEP_UP_1),
      value: null,
    });
    expect(
      refusal(
        await call('mutation { startPasskeyRegistration { challengeId } }', accessToken),
        'startPasskeyRegistration',
      ),
    ).toEqual({
      extensions: expect.objectContaining(STEP_UP_1),
      value: null,
    });
    // The session itself is still good for everything that does not ask for a recent authentication.
    const me = await call('{ me { id } }', accessToken);
    expect(me.errors).toBeUndefined();
  });

  it('reauthenticate with the password makes an old session recent again (same session, a new access token)', async () => {
    const { accessToken } = await session();
    advance(301);
    expect(errorCode(await call(ENROLL, accessToken))).toBe('STEP_UP_REQUIRED');

    const again = await call(
      'mutation($pw: String!) { reauthenticate(password: $pw) { accessToken refreshToken } }',
      accessToken,
      { pw: PASSWORD },
    );
    const fresh = again.data?.reauthenticate as { accessToken: string; refreshToken: string | null };
    expect(fresh.refreshToken).toBeNull();
    expect(sessionIdOf(fresh.accessToken)).toBe(sessionIdOf(accessToken));
    const res = await call(ENROLL, fresh.accessToken);
    expect(res.errors).toBeUndefined();
    expect(res.data?.enrollTotp).not.toBeNull();
  });

  it('a user without MFA and a recent sign-in passes the level-2 fields (regenerateRecoveryCodes is then refused because MFA is off)', async () => {
    const { accessToken } = await session();
    const res = await call(REGENERATE, accessToken);
    expect(refusal(res, 'regenerateRecoveryCodes')).toEqual({
      extensions: expect.objectContaining({ code: 'BAD_USER_INPUT' }),
      value: null,
    });
    const enrollment = (await call(ENROLL, accessToken)).data?.enrollTotp as { factorId: string };
    const removed = await call('mutation($id: ID!) { removeMfaFactor(id: $id) }', accessToken, {
      id: enrollment.factorId,
    });
    expect(removed.body).toEqual({ data: { removeMfaFactor: true } });
  });

  it('a level-2 field on a sign-in more than 300 s ago gets STEP_UP_REQUIRED { maxAge: 300, level: 2 }', async () => {
    const { accessToken } = await session();
    advance(301);
    expect(refusal(await call(REGENERATE, accessToken), 'regenerateRecoveryCodes')).toEqual({
      extensions: expect.objectContaining(STEP_UP_2),
      value: null,
    });
  });

  it('once MFA is on, a recent password-only session passes level 1 but not level 2, until a TOTP reauthenticate', async () => {
    const { accessToken } = await session();
    const enrollment = (await call(ENROLL, accessToken)).data?.enrollTotp as { factorId: string; secret: string };
    const confirmed = await call(
      'mutation($id: ID!, $code: String!) { confirmTotp(factorId: $id, code: $code) }',
      accessToken,
      {
        id: enrollment.factorId,
        code: totp(enrollment.secret),
      },
    );
    expect(confirmed.data?.confirmTotp).toHaveLength(10); // MFA is on; this session (aal1) stays

    expect(refusal(await call(REGENERATE, accessToken), 'regenerateRecoveryCodes')).toEqual({
      extensions: expect.objectContaining(STEP_UP_2),
      value: null,
    });
    expect((await call(ENROLL, accessToken)).errors).toBeUndefined();

    advance(30); // the next time step: the confirming code is spent
    const again = await call('mutation($code: String!) { reauthenticate(code: $code) { accessToken } }', accessToken, {
      code: totp(enrollment.secret),
    });
    const token = (again.data?.reauthenticate as { accessToken: string } | null)?.accessToken;
    expect({ errors: again.errors, token: typeof token }).toEqual({ errors: undefined, token: 'string' });
    const codes = await call(REGENERATE, token!);
    expect(codes.errors).toBeUndefined();
    expect(codes.data?.regenerateRecoveryCodes).toHaveLength(10);
  });

  it('FORBIDDEN comes before STEP_UP_REQUIRED: resetUserMfa by a USER with an old session is FORBIDDEN', async () => {
    const target = await createUser(app);
    const user = await session('USER');
    const admin = await session('ADMIN');
    advance(301);

    expect(refusal(await call(RESET, user.accessToken, { id: target.id }), 'resetUserMfa')).toEqual({
      extensions: expect.objectContaining({ code: 'FORBIDDEN', requiredScopes: [['users:write']] }),
      value: null,
    });
    expect(errorCode(await app.gql(RESET, { id: target.id }))).toBe('UNAUTHENTICATED');
    // The ADMIN holds the scope: the old session is what stops it.
    expect(refusal(await call(RESET, admin.accessToken, { id: target.id }), 'resetUserMfa')).toEqual({
      extensions: expect.objectContaining(STEP_UP_2),
      value: null,
    });
    const recent = await session('ADMIN');
    const res = await call(RESET, recent.accessToken, { id: target.id });
    expect(res.body).toEqual({ data: { resetUserMfa: { id: target.id, mfaEnabled: false } } });
  });

  it('each server judges recency by its own clock: a second server in the process (another instance on the same database, or the next file of a test group) is not ruled by the first', async () => {
    const clock = new FakeClock(app.clock.now());
    const config = loadConfig(serverEnv(app.db, { NODE_ENV: 'test', SMTP_URL: app.smtp.url }));
    const other = await createServer(config, { clock, logger: silentLogger });
    try {
      const port = await other.listen(0, '127.0.0.1');
      const second = graphqlClient(`http://127.0.0.1:${port}/graphql`);
      const { accessToken } = await session();
      expect((await second.gql(ENROLL, {}, { token: accessToken })).errors).toBeUndefined();

      clock.advance(301); // only the second server's time moves
      expect(refusal(await second.gql(ENROLL, {}, { token: accessToken }), 'enrollTotp')).toEqual({
        extensions: expect.objectContaining(STEP_UP_1),
        value: null,
      });
      expect((await call(ENROLL, accessToken)).errors).toBeUndefined();
    } finally {
      await other.stop();
    }
  });
});
