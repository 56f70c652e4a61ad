// Social sign-in settings: PUBLIC_URL, OAUTH_REDIRECT_URIS, the Google preset and OIDC_<NAME>_* providers.
import { ConfigError } from './config-helpers';

export type TokenAuthMethod = 'client_secret_post' | 'client_secret_basic';

export interface IdentityProviderConfig {
  /** `google`, or the NAME of OIDC_<NAME>_ISSUER in lower case. */
  readonly id: string;
  readonly displayName: string;
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** Space-separated scopes asked for (always with openid). */
  readonly scopes: string;
  readonly tokenAuth: TokenAuthMethod;
  /** Audiences signInWithIdToken accepts: the client id and the *_ID_TOKEN_AUDIENCES (native apps' client ids). */
  readonly idTokenAudiences: readonly string[];
  /** signInWithIdToken without a nonce (*_ID_TOKEN_NONCE=optional); off by default. */
  readonly idTokenNonceOptional: boolean;
  /** Google's `hd` claim must be one of these (GOOGLE_HOSTED_DOMAINS); empty: any account. */
  readonly hostedDomains: readonly string[];
}

export interface SocialSignInConfig {
  /** The server's own origin as browsers reach it (no trailing slash); the callback is PUBLIC_URL/oauth/callback. */
  readonly publicUrl: string;
  /** The exact URIs apps may return to; empty: social sign-in is refused. */
  readonly redirectUris: readonly string[];
  readonly providers: readonly IdentityProviderConfig[];
}

type Env = Record<string, string | undefined>;

const GOOGLE_ISSUER = 'https://accounts.google.com';
const LOOPBACK = ['localhost', '127.0.0.1', '[::1]'];
/** The settings of a generic provider: OIDC_<NAME>_<SETTING>. */
export const OIDC_SETTINGS = [
  'ISSUER',
  'CLIENT_ID',
  'CLIENT_SECRET',
  'DISPLAY_NAME',
  'SCOPES',
  'TOKEN_AUTH',
  'ID_TOKEN_AUDIENCES',
  'ID_TOKEN_NONCE',
] as const;

function get(env: Env, name: string): string | undefined {
  const v = env[name]?.trim();
  return v === undefined || v === '' ? undefined : v;
}

function list(env: Env, name: string): string[] {
  return (get(env, name) ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

function parseUrl(name: string, raw: string): URL {
  try {
    return new URL(raw);
  } catch {
    throw new ConfigError(name, `"${raw}" is not a valid URL`);
  }
}

/** https, or http for a loopback or localhost issuer outside production (development and tests). */
function issuerUrl(name: string, raw: string, isProduction: boolean): string {
  const url = parseUrl(name, raw);
  const local = LOOPBACK.includes(url.hostname);
  if (url.protocol === 'https:' || (url.protocol === 'http:' && local && !isProduction)) return raw.replace(/\/$/, '');
  throw new ConfigError(name, `must be an https:// URL, got "${raw}"`);
}

function required(env: Env, name: string): string {
  const v = get(env, name);
  if (v === undefined) throw new ConfigError(name, 'is required when its provider is configured');
  return v;
}

function tokenAuth(env: Env, name: string): TokenAuthMethod {
  const raw = get(env, name) ?? 'client_secret_post';
  if (raw === 'client_secret_post' || raw === 'client_secret_basic') return raw;
  throw new ConfigError(name, `must be client_secret_post or client_secret_basic, got "${raw}"`);
}

function nonceOptional(env: Env, name: string): boolean {
  const raw = get(env, name) ?? 'required';
  if (raw === 'required' || raw === 'optional') return raw === 'optional';
  throw new ConfigError(name, `must be required or optional, got "${raw}"`);
}

function scopes(env: Env, name: string): string {
  const words = (get(env, name) ?? 'openid email profile').split(/[\s,]+/).filter((w) => w !== '');
  return [...new Set(['openid', ...words])].join(' ');
}

function google(env: Env, isProduction: boolean): IdentityProviderConfig | null {
  const clientId = get(env, 'GOOGLE_CLIENT_ID');
  if (clientId === undefined) return null;
  return {
    id: 'google',
    displayName: 'Google',
    issuer: issuerUrl('GOOGLE_ISSUER', get(env, 'GOOGLE_ISSUER') ?? GOOGLE_ISSUER, isProduction),
    clientId,
    clientSecret: required(env, 'GOOGLE_CLIENT_SECRET'),
    scopes: 'openid email profile',
    tokenAuth: 'client_secret_post',
    idTokenAudiences: [clientId, ...list(env, 'GOOGLE_ID_TOKEN_AUDIENCES')],
    idTokenNonceOptional: nonceOptional(env, 'GOOGLE_ID_TOKEN_NONCE'),
    hostedDomains: list(env, 'GOOGLE_HOSTED_DOMAINS').map((d) => d.toLowerCase()),
  };
}

function generic(env: Env, name: string, isProduction: boolean): IdentityProviderConfig {
  const p = `OIDC_${name}_`;
  const clientId = required(env, `${p}CLIENT_ID`);
  return {
    id: name.toLowerCase(),
    displayName: get(env, `${p}DISPLAY_NAME`) ?? name.charAt(0) + name.slice(1).toLowerCase(),
    issuer: issuerUrl(`${p}ISSUER`, required(env, `${p}ISSUER`), isProduction),
    clientId,
    clientSecret: required(env, `${p}CLIENT_SECRET`),
    scopes: scopes(env, `${p}SCOPES`),
    tokenAuth: tokenAuth(env, `${p}TOKEN_AUTH`),
    idTokenAudiences: [clientId, ...list(env, `${p}ID_TOKEN_AUDIENCES`)],
    idTokenNonceOptional: nonceOptional(env, `${p}ID_TOKEN_NONCE`),
    hostedDomains: [],
  };
}

/** The NAMEs of every OIDC_<NAME>_<SUFFIX> variable set, in order of appearance. */
function genericNames(env: Env): string[] {
  const names = new Set<string>();
  for (const key of Object.keys(env)) {
    if (!key.startsWith('OIDC_') || get(env, key) === undefined) continue;
    const suffix = OIDC_SETTINGS.find((s) => key.endsWith(`_${s}`));
    if (suffix === undefined) continue;
    const name = key.slice('OIDC_'.length, -suffix.length - 1);
    if (!/^[A-Z][A-Z0-9]*$/.test(name)) {
      throw new ConfigError(key, 'the provider name between OIDC_ and the setting must be letters and digits');
    }
    if (name === 'GOOGLE')
      throw new ConfigError(key, 'google is configured with GOOGLE_CLIENT_ID / GOOGLE_CLIENT_SECRET');
    names.add(name);
  }
  return [...names];
}

function redirectUris(env: Env, isProduction: boolean): string[] {
  return list(env, 'OAUTH_REDIRECT_URIS').map((raw) => {
    const url = parseUrl('OAUTH_REDIRECT_URIS', raw);
    if (url.hash !== '') throw new ConfigError('OAUTH_REDIRECT_URIS', `"${raw}" must not have a #fragment`);
    if (['javascript:', 'data:', 'file:', 'blob:'].includes(url.protocol)) {
      throw new ConfigError('OAUTH_REDIRECT_URIS', `"${raw}" is not a URI a browser can be sent back to`);
    }
    // The one-time code travels in it: in production only over TLS, or to this machine (a native app's loopback
    // redirect, RFC 8252), or to an app's own scheme.
    if (isProduction && url.protocol === 'http:' && !LOOPBACK.includes(url.hostname)) {
      throw new ConfigError('OAUTH_REDIRECT_URIS', `"${raw}" must be https:// when NODE_ENV=production`);
    }
    return raw;
  });
}

export function loadSocialSignIn(env: Env, isProduction: boolean, port: number): SocialSignInConfig {
  const providers = [google(env, isProduction), ...genericNames(env).map((n) => generic(env, n, isProduction))].filter(
    (p): p is IdentityProviderConfig => p !== null,
  );
  const rawPublic = get(env, 'PUBLIC_URL');
  if (rawPublic === undefined && isProduction && providers.length > 0) {
    throw new ConfigError('PUBLIC_URL', 'is required when NODE_ENV=production and an identity provider is configured');
  }
  const publicUrl = parseUrl('PUBLIC_URL', rawPublic ?? `http://localhost:${port}`);
  if (publicUrl.protocol !== 'https:' && publicUrl.protocol !== 'http:') {
    throw new ConfigError('PUBLIC_URL', `must be an http(s) origin like https://auth.example.com, got "${rawPublic}"`);
  }
  if (publicUrl.search !== '' || publicUrl.hash !== '') {
    throw new ConfigError('PUBLIC_URL', 'must not have a query or a #fragment');
  }
  return {
    publicUrl: publicUrl.href.replace(/\/$/, ''),
    redirectUris: redirectUris(env, isProduction),
    providers,
  };
}
