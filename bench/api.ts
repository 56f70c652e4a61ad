// Tokens for the load, made the way a client makes them: `login` (and `createApiKey`) through the public API.
import { LOGIN_MUTATION } from './scenarios';

export interface Tokens {
  readonly accessToken: string;
  readonly refreshToken: string;
}

const FULL_LOGIN = LOGIN_MUTATION.replace('{ accessToken }', '{ accessToken refreshToken }');

export async function login(url: string, email: string, password: string): Promise<Tokens> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: FULL_LOGIN, variables: { e: email, p: password } }),
  });
  const body = (await res.json()) as { data?: { login?: Tokens }; errors?: unknown };
  if (!res.ok || !body.data?.login)
    throw new Error(`login ${email} failed (HTTP ${res.status}): ${JSON.stringify(body.errors)}`);
  return body.data.login;
}

/** Logs every email in, `parallel` at a time, in order. */
export async function loginAll(
  url: string,
  emails: readonly string[],
  password: string,
  parallel = 8,
): Promise<Tokens[]> {
  const out: Tokens[] = new Array<Tokens>(emails.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < emails.length) {
      const i = next++;
      out[i] = await login(url, emails[i]!, password);
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return out;
}

const CREATE_API_KEY = 'mutation($n: String!, $s: [String!]!) { createApiKey(name: $n, scopes: $s) { secret } }';

/** An API key for the signed-in user (createApiKey, right after `login`: it needs a recent sign-in); its secret. */
export async function createApiKey(
  url: string,
  accessToken: string,
  name: string,
  scopes: readonly string[],
): Promise<string> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${accessToken}` },
    body: JSON.stringify({ query: CREATE_API_KEY, variables: { n: name, s: scopes } }),
  });
  const body = (await res.json()) as { data?: { createApiKey?: { secret: string } }; errors?: unknown };
  if (!res.ok || !body.data?.createApiKey)
    throw new Error(`createApiKey failed (HTTP ${res.status}): ${JSON.stringify(body.errors)}`);
  return body.data.createApiKey.secret;
}
