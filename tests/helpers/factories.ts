// Accounts as tests need them: signed up through the API as a person would, then given roles or deactivated in
// the database (the one place tests promote a user by SQL: the API has no way to make the first admin).
import type { GraphQLClient } from './client';
import { login, PASSWORD, register, signUp, uniqueEmail, type Tokens, type WithMail } from './flows';
import { queryDatabase } from './test-database';

/** A server with its database: a TestApp, or a child process with the database and SMTP server it was given. */
export interface WithDatabase extends WithMail {
  readonly db: { readonly url: string };
}

export type Role = 'USER' | 'SUPPORT' | 'ADMIN';

export interface UserOptions {
  /** Set in the database after sign-up; default: USER, as registered. */
  roles?: Role[];
  /** false: deactivated in the database after sign-up. */
  active?: boolean;
  /** false: registered only, its emailed code never used. */
  verified?: boolean;
  email?: string;
  password?: string;
  /** Sent with the sign-up requests (an X-Forwarded-For, say). */
  headers?: Record<string, string>;
}

export interface TestUser {
  readonly id: string;
  readonly email: string;
  readonly password: string;
  readonly roles: Role[];
}

/** A new account; no token is issued after its roles are set (signIn() for one that carries them). */
export async function createUser(app: WithDatabase, options: UserOptions = {}): Promise<TestUser> {
  const { roles = ['USER'], active = true, verified = true, password = PASSWORD, headers } = options;
  const email = options.email ?? uniqueEmail();
  let id: string;
  if (verified) {
    id = (await signUp(app, email, password, headers)).user.id;
  } else {
    await register(app, email, password, headers);
    const rows = await queryDatabase<{ id: string }>(app.db.url, 'select id from users where email = lower($1)', [
      email,
    ]);
    id = rows[0]!.id;
  }
  if (roles.join() !== 'USER' || !active) {
    await queryDatabase(app.db.url, 'update users set roles = $1, active = $2 where id = $3', [roles, active, id]);
  }
  return { id, email, password, roles };
}

/** A fresh sign-in of `user`: its tokens carry the roles it has now. */
export async function signIn(app: GraphQLClient, user: Pick<TestUser, 'email' | 'password'>): Promise<Tokens> {
  const res = await login(app, user.email, user.password);
  if (!res.data?.login) throw new Error(`login of ${user.email} failed: ${JSON.stringify(res.errors)}`);
  return res.data.login;
}

/** The access token of a new ADMIN, signed in after the promotion. */
export async function adminToken(app: WithDatabase): Promise<string> {
  return (await signIn(app, await createUser(app, { roles: ['ADMIN'] }))).accessToken;
}
