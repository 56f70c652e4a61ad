// The account lifecycle (email change, deletion, export) as clients call it, and the checks its tests share: the
// mail queued for an address, the rows that still name a user, an admin signed in with a second factor.
import { randomBytes } from 'node:crypto';
import type { GraphQLClient, GraphQLResponse } from './client';
import { createUser, signIn, type TestUser, type WithDatabase } from './factories';
import { AUTH_FIELDS, login, type Tokens } from './flows';
import { enableTotp, mfaTicketOf, nextTotpCode, verifyMfa, type EnabledTotp, type WithClock } from './mfa';
import type { TestProvider } from './oidc-provider';
import { idTokenSignIn, nonceClaim } from './social';

/** Subjects of the lifecycle's emails (after the `APP_NAME: ` prefix). */
export const CHANGE_CODE_SUBJECT = /Confirm your new email address/;
export const EMAIL_CHANGED_SUBJECT = /Your email address was changed/;
export const DELETED_SUBJECT = /Your account was deleted/;

/** A server whose database tests read (a TestApp). */
export interface WithSql {
  sql<T = Record<string, unknown>>(query: string, params?: unknown[]): Promise<T[]>;
}

export function requestEmailChange(
  app: GraphQLClient,
  token: string,
  newEmail: string,
): Promise<GraphQLResponse<{ requestEmailChange: { expiresIn: number; retryAfter: number } }>> {
  return app.gql(
    'mutation($e: String!) { requestEmailChange(newEmail: $e) { expiresIn retryAfter } }',
    { e: newEmail },
    { token },
  );
}

export function confirmEmailChange(
  app: GraphQLClient,
  token: string,
  code: string,
): Promise<GraphQLResponse<{ confirmEmailChange: { id: string; email: string; emailVerified: boolean } }>> {
  return app.gql(
    'mutation($c: String!) { confirmEmailChange(code: $c) { id email emailVerified } }',
    { c: code },
    { token },
  );
}

export function deleteAccount(app: GraphQLClient, token: string): Promise<GraphQLResponse<{ deleteAccount: boolean }>> {
  return app.gql('mutation { deleteAccount }', {}, { token });
}

export function deleteUser(
  app: GraphQLClient,
  token: string,
  userId: string,
): Promise<GraphQLResponse<{ deleteUser: boolean }>> {
  return app.gql('mutation($id: ID!) { deleteUser(userId: $id) }', { id: userId }, { token });
}

export function myData(app: GraphQLClient, token: string): Promise<GraphQLResponse<{ myData: Record<string, any> }>> {
  return app.gql('{ myData }', {}, { token });
}

export function reauthenticate(
  app: GraphQLClient,
  token: string,
  proof: { password?: string; code?: string },
): Promise<GraphQLResponse<{ reauthenticate: Tokens }>> {
  return app.gql(
    `mutation($p: String, $c: String) { reauthenticate(password: $p, code: $c) { ${AUTH_FIELDS} } }`,
    { p: proof.password, c: proof.code },
    { token },
  );
}

export interface CreatedKey {
  secret: string;
  apiKey: { id: string; prefix: string };
}

/** createApiKey in the (recent) session of `token`; fails the test when the server refuses it. */
export async function newApiKey(app: GraphQLClient, token: string, scopes: string[], name = 'script') {
  const res = await app.gql<{ createApiKey: CreatedKey }>(
    'mutation($n: String!, $s: [String!]!) { createApiKey(name: $n, scopes: $s) { secret apiKey { id prefix } } }',
    { n: name, s: scopes },
    { token },
  );
  if (!res.data?.createApiKey) throw new Error(`createApiKey failed: ${JSON.stringify(res.errors)}`);
  return res.data.createApiKey;
}

/** A 6-digit code that is certainly not `code`. */
export function otherCode(code: string): string {
  return String((Number(code) + 1) % 1_000_000).padStart(6, '0');
}

/** The kinds of mail queued (sent or not) for `recipient`, oldest first. Rows are written with the request's work. */
export async function outboxKinds(app: WithSql, recipient: string, onlyUnsent = false): Promise<string[]> {
  const rows = await app.sql<{ kind: string }>(
    `select kind from mail_outbox where recipient = ? ${onlyUnsent ? 'and sent_at is null' : ''} order by id`,
    [recipient.toLowerCase()],
  );
  return rows.map((r) => r.kind);
}

/**
 * Every row, in a table other than audit_events, whose JSON names `needle` (a user id, an email): the rows a
 * deletion must not leave behind, whatever table a later feature adds.
 */
export async function rowsNaming(app: WithSql, needle: string, except: string[] = []): Promise<string[]> {
  const tables = await app.sql<{ table_name: string }>(
    `select table_name from information_schema.tables
      where table_schema = current_schema() and table_type = 'BASE TABLE' order by table_name`,
  );
  const found: string[] = [];
  for (const { table_name: table } of tables) {
    if (table === 'audit_events' || except.includes(table)) continue;
    const rows = await app.sql<{ j: string }>(
      `select row_to_json(t)::text as j from "${table}" t where strpos(lower(row_to_json(t)::text), ?) > 0`,
      [needle.toLowerCase()],
    );
    found.push(...rows.map((r) => `${table}: ${r.j}`));
  }
  return found;
}

/** The audit rows about or by `userId`, with the columns a deletion must empty. */
export function auditRowsOf(app: WithSql, userId: string) {
  return app.sql<{
    type: string;
    actor: string | null;
    subject: string | null;
    email: string | null;
    ip: string | null;
    user_agent: string | null;
  }>(
    `select type, actor_user_id::text as actor, subject_user_id::text as subject, email, ip, user_agent
       from audit_events where actor_user_id = ? or subject_user_id = ? order by id`,
    [userId, userId],
  );
}

export interface MfaAdmin {
  readonly user: TestUser;
  readonly totp: EnabledTotp;
  /** A session signed in with password + TOTP just now (aal2). */
  readonly tokens: Tokens;
}

/** A new ADMIN with TOTP on, signed in with both factors just now: what deleteUser needs. */
export async function mfaAdmin(app: WithDatabase & WithClock): Promise<MfaAdmin> {
  const user = await createUser(app, { roles: ['ADMIN'] });
  const totp = await enableTotp(app, await signIn(app, user));
  const ticket = mfaTicketOf(await login(app, user.email, user.password));
  const res = await verifyMfa(app, ticket, { code: nextTotpCode(app, totp.secret) });
  if (!res.data?.verifyMfa) throw new Error(`verifyMfa failed: ${JSON.stringify(res.errors)}`);
  return { user, totp, tokens: res.data.verifyMfa };
}

/** Links an account of `provider` (configured as `providerId`) to the local account of `email` by an ID token
 *  whose verified email is that address; returns the provider's subject. */
export async function linkIdentity(
  app: GraphQLClient,
  provider: TestProvider,
  providerId: string,
  email: string,
  sub = `sub-${randomBytes(6).toString('hex')}`,
): Promise<{ sub: string; res: Awaited<ReturnType<typeof idTokenSignIn>> }> {
  const raw = randomBytes(32).toString('base64url');
  const token = await provider.mintIdToken({
    aud: `client-${providerId}`,
    sub,
    email,
    email_verified: true,
    nonce: nonceClaim(raw),
  });
  return { sub, res: await idTokenSignIn(app, providerId, token, raw) };
}
