// Common sign-up and sign-in steps, done through the API as a client would, on any server (in-process or not).
import type { GraphQLClient } from './client';
import type { TestSmtp } from './smtp';

/** A server to sign up on: its API, and the SMTP server its emails go to. */
export interface WithMail extends GraphQLClient {
  readonly smtp: TestSmtp;
}

export const PASSWORD = 'Correct-Horse-9';

export const AUTH_FIELDS = 'accessToken refreshToken tokenType expiresIn user { id email emailVerified roles scopes }';

export interface Tokens {
  accessToken: string;
  refreshToken: string;
  tokenType: string;
  expiresIn: number;
  user: { id: string; email: string; roles: string[] };
}

let counter = 0;
export function uniqueEmail(prefix = 'user'): string {
  counter += 1;
  return `${prefix}${counter}.${Date.now()}@example.com`;
}

export async function register(
  app: GraphQLClient,
  email: string,
  password = PASSWORD,
  headers?: Record<string, string>,
): Promise<void> {
  const res = await app.gql(
    'mutation($input: RegisterInput!) { register(input: $input) { expiresIn retryAfter } }',
    { input: { email, password } },
    { headers },
  );
  if (res.errors) throw new Error(`register failed: ${JSON.stringify(res.errors)}`);
}

export async function verifyOtp(
  app: GraphQLClient,
  email: string,
  code: string,
  purpose = 'VERIFY_EMAIL',
  headers?: Record<string, string>,
) {
  return app.gql<{ verifyOtp: Tokens }>(
    `mutation($email: String!, $code: String!, $purpose: OtpPurpose!) {
       verifyOtp(email: $email, code: $code, purpose: $purpose) { ${AUTH_FIELDS} } }`,
    { email, code, purpose },
    { headers },
  );
}

/** register → code by email → verifyOtp: a verified, signed-in user. */
export async function signUp(
  app: WithMail,
  email = uniqueEmail(),
  password = PASSWORD,
  headers?: Record<string, string>,
): Promise<Tokens> {
  const before = app.smtp.messages.length;
  await register(app, email, password, headers);
  const code = await app.smtp.codeFor(email, /confirm/i, before);
  const res = await verifyOtp(app, email, code, 'VERIFY_EMAIL', headers);
  if (!res.data?.verifyOtp) throw new Error(`verifyOtp failed: ${JSON.stringify(res.errors)}`);
  return res.data.verifyOtp;
}

export async function login(app: GraphQLClient, email: string, password = PASSWORD, headers?: Record<string, string>) {
  return app.gql<{ login: Tokens }>(
    `mutation($email: String!, $password: String!) { login(email: $email, password: $password) { ${AUTH_FIELDS} } }`,
    { email, password },
    { headers },
  );
}

export async function refresh(app: GraphQLClient, refreshToken: string) {
  return app.gql<{ refresh: Tokens }>(`mutation($t: String) { refresh(refreshToken: $t) { ${AUTH_FIELDS} } }`, {
    t: refreshToken,
  });
}

export async function me(app: GraphQLClient, token: string) {
  return app.gql<{ me: { id: string; email: string } }>(
    '{ me { id email emailVerified roles scopes } }',
    {},
    { token },
  );
}

export async function resetPassword(
  app: GraphQLClient,
  email: string,
  code: string,
  newPassword: string,
  headers?: Record<string, string>,
) {
  return app.gql<{ resetPassword: boolean }>(
    'mutation($e: String!, $c: String!, $p: String!) { resetPassword(email: $e, code: $c, newPassword: $p) }',
    { e: email, c: code, p: newPassword },
    { headers },
  );
}

export async function requestOtp(app: GraphQLClient, email: string, purpose: string, headers?: Record<string, string>) {
  return app.gql<{ requestOtp: { expiresIn: number; retryAfter: number } }>(
    'mutation($email: String!, $purpose: OtpPurpose!) { requestOtp(email: $email, purpose: $purpose) { expiresIn retryAfter } }',
    { email, purpose },
    { headers },
  );
}
