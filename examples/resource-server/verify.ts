// Verifying Portcullis credentials in another service (a "resource server"): ES256 access tokens locally, against the
// public keys Portcullis publishes (GET /.well-known/jwks.json), and `pcl_…` API keys through introspection
// (POST /oauth/introspect). See README.md for the caching advice behind the settings below.
import {
  createRemoteJWKSet,
  errors as joseErrors,
  jwtVerify,
  type JWTVerifyGetKey,
  type RemoteJWKSetOptions,
} from 'jose';

export interface VerifierOptions {
  /** Portcullis's JWT_ISSUER (`issuer` of /.well-known/openid-configuration). */
  issuer: string;
  /** Portcullis's JWT_AUDIENCE: the `aud` its access tokens carry. */
  audience: string;
  /** `jwks_uri` of /.well-known/openid-configuration: https://auth.example.com/.well-known/jwks.json */
  jwksUrl: string;
  /** `introspection_endpoint`; without it (or `introspectionKey`) API keys are refused. */
  introspectionUrl?: string;
  /** An API key holding `tokens:introspect` (an ADMIN creates one for this service), sent as Bearer. */
  introspectionKey?: string;
  /** The current time for expiry checks; default the system clock (tests pass their fake clock). */
  now?: () => Date;
}

/** Who is calling, as far as the resource server needs to know. */
export interface VerifiedCaller {
  /** The user's id. */
  sub: string;
  scopes: string[];
  /** `aal1` or `aal2` (an API key is always `aal1`). */
  acr: string;
  /** How it was checked: the token's signature, or a question to Portcullis. */
  via: 'jwt' | 'introspection';
}

/** The credential is missing, malformed, forged, expired, revoked or unknown: answer 401 / UNAUTHENTICATED. */
export class InvalidTokenError extends Error {
  override readonly name = 'InvalidTokenError';
}

/** `pcl_` + 40 base62 characters: the shape of a Portcullis API key (secret scanners use the same expression). */
export const API_KEY = /^pcl_[0-9A-Za-z]{40}$/;

/**
 * JOSE errors that say the token itself is bad. The others (JWKS unreachable, timed out, malformed) are failures of
 * this service or of Portcullis: they are thrown as they are, so the caller answers 5xx, not "sign in again".
 */
const TOKEN_ERRORS = new Set<string>([
  'ERR_JOSE_ALG_NOT_ALLOWED',
  'ERR_JOSE_NOT_SUPPORTED',
  'ERR_JWKS_NO_MATCHING_KEY',
  'ERR_JWKS_MULTIPLE_MATCHING_KEYS',
  'ERR_JWS_INVALID',
  'ERR_JWS_SIGNATURE_VERIFICATION_FAILED',
  'ERR_JWT_CLAIM_VALIDATION_FAILED',
  'ERR_JWT_EXPIRED',
  'ERR_JWT_INVALID',
]);

/**
 * How the JWKS is cached: for up to 5 minutes (what Portcullis's Cache-Control says; a new key is published 10
 * minutes before it signs, so the cache holds it before any token uses it). A token whose `kid` the cache lacks makes
 * jose refetch once, unless it fetched less than 30 s ago (the cooldown: forged kids cannot make it hammer Portcullis).
 */
export const JWKS_CACHE: RemoteJWKSetOptions = { cooldownDuration: 30_000, cacheMaxAge: 300_000 };

export type Verify = (authorization: string | undefined | null) => Promise<VerifiedCaller>;

/**
 * `verify(req.headers.authorization)`: the caller of a `Bearer` access token or API key, or InvalidTokenError.
 * Create one verifier per process and share it: it holds the JWKS cache.
 */
export function createVerifier(options: VerifierOptions): Verify {
  const { issuer, audience, introspectionUrl, introspectionKey, now = () => new Date() } = options;
  const jwks: JWTVerifyGetKey = createRemoteJWKSet(new URL(options.jwksUrl), JWKS_CACHE);

  async function verifyJwt(token: string): Promise<VerifiedCaller> {
    try {
      const { payload } = await jwtVerify(token, jwks, {
        issuer,
        audience,
        algorithms: ['ES256'], // never from the token alone; HS256 tokens cannot be checked without the secret
        typ: 'at+jwt', // an access token (RFC 9068), not another JWT signed by the same keys
        currentDate: now(),
        requiredClaims: ['sub', 'exp'],
      });
      if (typeof payload.sub !== 'string') throw new InvalidTokenError('no subject');
      return {
        sub: payload.sub,
        scopes: typeof payload.scope === 'string' ? payload.scope.split(' ').filter(Boolean) : [],
        acr: typeof payload.acr === 'string' ? payload.acr : 'aal1',
        via: 'jwt',
      };
    } catch (err) {
      if (err instanceof joseErrors.JOSEError && TOKEN_ERRORS.has(err.code)) {
        throw new InvalidTokenError(err.message, { cause: err });
      }
      throw err;
    }
  }

  async function introspect(apiKey: string): Promise<VerifiedCaller> {
    if (introspectionUrl === undefined || introspectionKey === undefined) {
      throw new InvalidTokenError('API keys are not accepted here (no introspection configured)');
    }
    // No cache: a revoked key, or one whose owner lost a scope or was deactivated, is refused at once.
    const res = await fetch(introspectionUrl, {
      method: 'POST',
      headers: { authorization: `Bearer ${introspectionKey}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: apiKey }),
    });
    // 401/403 here mean *this service's* key is wrong: a configuration error, not the caller's.
    if (!res.ok) throw new Error(`introspection answered ${res.status}`);
    const answer = (await res.json()) as { active?: unknown; sub?: unknown; scope?: unknown; exp?: unknown };
    if (answer.active !== true || typeof answer.sub !== 'string') throw new InvalidTokenError('inactive API key');
    return {
      sub: answer.sub,
      scopes: typeof answer.scope === 'string' ? answer.scope.split(' ').filter(Boolean) : [],
      acr: 'aal1',
      via: 'introspection',
    };
  }

  return async (authorization) => {
    const token = /^Bearer +(\S+)$/i.exec(authorization ?? '')?.[1];
    if (token === undefined) throw new InvalidTokenError('send Authorization: Bearer <token>');
    return API_KEY.test(token) ? introspect(token) : verifyJwt(token);
  };
}
