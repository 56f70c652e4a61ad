// Social sign-in as an app and a browser do it, against the in-process server and a real OpenID provider
// (oidc-provider.ts): the app's PKCE pair, startSocialSignIn, the provider's forms, the callback, the code.
import { createHash, randomBytes } from 'node:crypto';
import { httpRequest, type GraphQLClient, type GraphQLResponse, type HttpAnswer } from './client';
import { AUTH_FIELDS } from './flows';
import type { ProviderRedirect, TestProvider } from './oidc-provider';

/** What tests set PUBLIC_URL to: the provider never calls it, and the tests carry its redirects to the real port. */
export const PUBLIC_URL = 'http://auth.portcullis.test';
export const APP_REDIRECT = 'https://app.example.com/auth/done';

export interface Pkce {
  readonly verifier: string;
  readonly challenge: string;
}

export function pkce(): Pkce {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

/** The provider's settings for a generic provider NAME at `provider`, with client id `client-<name>`. */
export function providerEnv(name: string, provider: TestProvider, extra: Record<string, string> = {}) {
  const N = name.toUpperCase();
  return {
    [`OIDC_${N}_ISSUER`]: provider.issuer,
    [`OIDC_${N}_CLIENT_ID`]: `client-${name}`,
    [`OIDC_${N}_CLIENT_SECRET`]: `secret-${name}-that-is-long-enough`,
    ...extra,
  };
}

/** The app's settings for signing in with the fixture provider `acme` at `provider`: PUBLIC_URL, the app's redirect. */
export function acmeEnv(provider: TestProvider): Record<string, string> {
  return { PUBLIC_URL, OAUTH_REDIRECT_URIS: APP_REDIRECT, ...providerEnv('acme', provider) };
}

/** The fixture's client for `name`, registered with PUBLIC_URL's callback. */
export function fixtureClient(name: string, publicUrl = PUBLIC_URL) {
  return {
    client_id: `client-${name}`,
    client_secret: `secret-${name}-that-is-long-enough`,
    redirect_uris: [`${publicUrl}/oauth/callback`],
  };
}

export async function start(
  app: GraphQLClient,
  provider: string,
  options: { challenge?: string; redirectUri?: string; link?: string } = {},
): Promise<GraphQLResponse<{ start: { authorizationUrl: string; expiresIn: number } }>> {
  const field = options.link === undefined ? 'startSocialSignIn' : 'startSocialLink';
  return app.gql(
    `mutation($p: String!, $r: String!, $c: String!) { start: ${field}(provider: $p, redirectUri: $r, codeChallenge: $c) { authorizationUrl expiresIn } }`,
    { p: provider, r: options.redirectUri ?? APP_REDIRECT, c: options.challenge ?? pkce().challenge },
    { token: options.link },
  );
}

/** The authorization URL of a new flow; fails the test when the server refuses to start one. */
export async function startUrl(app: GraphQLClient, provider: string, challenge: string, link?: string) {
  const res = await start(app, provider, { challenge, link });
  if (!res.data?.start) throw new Error(`start failed: ${JSON.stringify(res.errors)}`);
  return res.data.start.authorizationUrl;
}

/** Delivers the provider's redirect (GET) or form post (POST) to the server's real callback, without following it. */
export async function deliver(app: GraphQLClient, redirect: ProviderRedirect): Promise<HttpAnswer> {
  const target = new URL(redirect.url);
  const server = new URL(app.url);
  target.protocol = server.protocol;
  target.host = server.host;
  if (redirect.method === 'GET') return httpRequest(target, { redirect: 'manual' });
  return httpRequest(target, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: redirect.form!.toString(),
  });
}

/** The app's side of the answer: `code` or `error` from the 303's Location at the app's redirect URI. */
export function landing(answer: HttpAnswer): { code: string | null; error: string | null; location: string } {
  if (answer.status !== 303) throw new Error(`callback answered ${answer.status}: ${answer.text.slice(0, 200)}`);
  const location = answer.headers.get('location')!;
  const url = new URL(location);
  return { code: url.searchParams.get('code'), error: url.searchParams.get('error'), location };
}

export function complete(app: GraphQLClient, code: string, verifier: string) {
  return app.gql<{
    completeSocialSignIn: {
      accessToken: string;
      refreshToken: string;
      user: { id: string; email: string; emailVerified: boolean };
    };
  }>(`mutation($c: String!, $v: String!) { completeSocialSignIn(code: $c, codeVerifier: $v) { ${AUTH_FIELDS} } }`, {
    c: code,
    v: verifier,
  });
}

/** The whole browser round trip as `sub`: start, the provider's forms, the callback; returns the app's landing. */
export async function roundTrip(
  app: GraphQLClient,
  provider: TestProvider,
  providerId: string,
  sub: string,
  options: { link?: string } = {},
) {
  const keys = pkce();
  const url = await startUrl(app, providerId, keys.challenge, options.link);
  const redirect = await provider.authorize(url, sub);
  return { ...landing(await deliver(app, redirect)), verifier: keys.verifier, redirect, url };
}

/** A full sign-in as `sub`; fails the test when any step does not succeed. */
export async function socialSignIn(app: GraphQLClient, provider: TestProvider, providerId: string, sub: string) {
  const trip = await roundTrip(app, provider, providerId, sub);
  if (trip.code === null) throw new Error(`callback redirected with error=${trip.error}`);
  const res = await complete(app, trip.code, trip.verifier);
  if (!res.data?.completeSocialSignIn) throw new Error(`complete failed: ${JSON.stringify(res.errors)}`);
  return res.data.completeSocialSignIn;
}

/** The provider's redirect with some parameters replaced (a string) or removed (null): the query of a GET redirect,
 *  the fields of a form_post. For attacks: another flow's state, a forged `iss`, a code from elsewhere. */
export function alterRedirect(redirect: ProviderRedirect, change: Record<string, string | null>): ProviderRedirect {
  const apply = (params: URLSearchParams) => {
    for (const [name, value] of Object.entries(change)) {
      if (value === null) params.delete(name);
      else params.set(name, value);
    }
  };
  if (redirect.method === 'POST') {
    const form = new URLSearchParams(redirect.form);
    apply(form);
    return { ...redirect, form };
  }
  const url = new URL(redirect.url);
  apply(url.searchParams);
  return { ...redirect, url: url.href };
}

/** A parameter of the provider's redirect (query or form field), or null. */
export function redirectParam(redirect: ProviderRedirect, name: string): string | null {
  return redirect.method === 'POST' ? (redirect.form?.get(name) ?? null) : new URL(redirect.url).searchParams.get(name);
}

/** The ID token `nonce` claim for the raw nonce an app keeps: SHA-256 of it, as hex or base64url. */
export function nonceClaim(raw: string, encoding: 'hex' | 'base64url' = 'hex'): string {
  return createHash('sha256').update(raw, 'utf8').digest(encoding);
}

/** signInWithIdToken as a native app calls it; `nonce` left out when undefined. */
export function idTokenSignIn(app: GraphQLClient, provider: string, idToken: string, nonce?: string) {
  return app.gql<{
    signInWithIdToken: {
      accessToken: string;
      refreshToken: string;
      user: { id: string; email: string; emailVerified: boolean };
    };
  }>(
    `mutation($p: String!, $t: String!, $n: String) { signInWithIdToken(provider: $p, idToken: $t, nonce: $n) { ${AUTH_FIELDS} } }`,
    nonce === undefined ? { p: provider, t: idToken } : { p: provider, t: idToken, n: nonce },
  );
}

/** The fields of an Identity the link and identity tests read. */
export const IDENTITY_FIELDS = 'id provider email createdAt lastUsedAt';

export interface IdentityFields {
  id: string;
  provider: string;
  email: string | null;
  createdAt: string;
  lastUsedAt: string | null;
}

/** completeSocialLink as the signed-in user of `token`. */
export function completeLink(app: GraphQLClient, code: string, verifier: string, token?: string) {
  return app.gql<{ completeSocialLink: IdentityFields }>(
    `mutation($c: String!, $v: String!) { completeSocialLink(code: $c, codeVerifier: $v) { ${IDENTITY_FIELDS} } }`,
    { c: code, v: verifier },
    { token },
  );
}

/** A full link of `sub` to the user of `token` (startSocialLink … completeSocialLink); fails the test otherwise. */
export async function socialLink(
  app: GraphQLClient,
  provider: TestProvider,
  providerId: string,
  sub: string,
  token: string,
): Promise<IdentityFields> {
  const trip = await roundTrip(app, provider, providerId, sub, { link: token });
  if (trip.code === null) throw new Error(`link callback redirected with error=${trip.error}`);
  const res = await completeLink(app, trip.code, trip.verifier, token);
  if (!res.data?.completeSocialLink) throw new Error(`completeSocialLink failed: ${JSON.stringify(res.errors)}`);
  return res.data.completeSocialLink;
}

export function unlinkIdentity(app: GraphQLClient, id: string, token?: string) {
  return app.gql<{ unlinkIdentity: boolean }>('mutation($id: ID!) { unlinkIdentity(id: $id) }', { id }, { token });
}

/** The round trip with `response_mode=form_post`: the provider form-posts its answer to the callback. */
export async function formPostTrip(app: GraphQLClient, provider: TestProvider, providerId: string, sub: string) {
  const keys = pkce();
  const url = `${await startUrl(app, providerId, keys.challenge)}&response_mode=form_post`;
  const redirect = await provider.authorize(url, sub);
  const answer = await deliver(app, redirect);
  return { ...landing(answer), answer, verifier: keys.verifier, redirect };
}
