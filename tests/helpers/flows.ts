// Common sign-up and sign-in steps, done through the API as a client would.
import type { TestApp } from './test-server';

export const PASSWORD = 'Correct-Horse-9';

export const AUTH_FIELDS = 'accessToken refreshToken tokenType expiresIn user { id email emailVerified roles scopes }';

export interface Tokens {
  accessToken: string;
  refreshToken: string;
  tokenType: string;
  expiresIn: number;
  user: { id: string; email: string };
}

let counter = 0;
export function uniqueEmail(prefix = 'user'): string {
  counter += 1;
  return `${prefix}${counter}.${Date.now()}@example.com`;
}

export async function register(app: TestApp, email: string, password = PASSWORD): Promise<void> {
  const res = await app.gql('mutation($input: RegisterInput!) { register(input: $input) { expiresIn retryAfter } }', {
    input: { email, password },
  });
  if (res.errors) throw new Error(`register failed: ${JSON.stringify(res.errors)}`);
}

export async function verifyOtp(app: TestApp, email: string, code: string, purpose = 'VERIFY_EMAIL') {
  return app.gql<{ verifyOtp: Tokens }>(
    `mutation($email: String!, $code: String!, $purpose: OtpPurpose!) {
       verifyOtp(email: $email, code: $code, purpose: $purpose) { ${AUTH_FIELDS} } }`,
    { email, code, purpose },
  );
}

/** register → code by email → verifyOtp: a verified, signed-in user. */
export async function signUp(app: TestApp, email = uniqueEmail(), password = PASSWORD): Promise<Tokens> {
  const before = app.smtp.messages.length;
  await register(app, email, password);
  const code = await app.smtp.codeFor(email, /confirm/i, before);
  const res = await verifyOtp(app, email, code);
  if (!res.data?.verifyOtp) throw new Error(`verifyOtp failed: ${JSON.stringify(res.errors)}`);
  return res.data.verifyOtp;
}

export async function login(app: TestApp, email: string, password = PASSWORD, headers?: Record<string, string>) {
  return app.gql<{ login: Tokens }>(
    `mutation($email: String!, $password: String!) { login(email: $email, password: $password) { ${AUTH_FIELDS} } }`,
    { email, password },
    { headers },
  );
}

export async function refresh(app: TestApp, refreshToken: string) {
  return app.gql<{ refresh: Tokens }>(`mutation($t: String) { refresh(refreshToken: $t) { ${AUTH_FIELDS} } }`, {
    t: refreshToken,
  });
}

export async function me(app: TestApp, token: string) {
  return app.gql<{ me: { id: string; email: string } }>(
    '{ me { id email emailVerified roles scopes } }',
    {},
    { token },
  );
}

export async function requestOtp(app: TestApp, email: string, purpose: string) {
  return app.gql<{ requestOtp: { expiresIn: number; retryAfter: number } }>(
    'mutation($email: String!, $purpose: OtpPurpose!) { requestOtp(email: $email, purpose: $purpose) { expiresIn retryAfter } }',
    { email, purpose },
  );
}
