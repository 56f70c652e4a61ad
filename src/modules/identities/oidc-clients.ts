// The relying-party side of every configured provider, on openid-client: discovery (cached, retried after a
// failure), the authorization URL with state, nonce and PKCE S256, the code exchange with the ID token checked
// against the provider's JWKS, and, for native apps, an ID token verified with jose against the same JWKS.
import * as oidc from 'openid-client';
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import type { IdentityProviderConfig } from '../../config/identity-providers';
import { normalizeEmail } from '../../common/email';
import { ProviderUnavailableError } from './identity-errors';

/** What Portcullis takes from a provider's ID token. */
export interface ProviderProfile {
  readonly issuer: string;
  readonly subject: string;
  /** Normalized; null when the provider did not share one. */
  readonly email: string | null;
  /** True only when the provider says `email_verified: true`. */
  readonly emailVerified: boolean;
  readonly name: string | null;
  /** Google Workspace domain. */
  readonly hostedDomain: string | null;
}

/** The secrets of one authorization request, kept by the flow. */
export interface AuthorizationChecks {
  readonly state: string;
  readonly nonce: string;
  readonly verifier: string;
}

const TIMEOUT_SECONDS = 10;
// ID tokens from a provider are signed asymmetrically; a token "signed" with the client secret (HS*) or none is refused.
const ID_TOKEN_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];

export function profileOf(claims: JWTPayload | oidc.IDToken): ProviderProfile {
  const str = (v: unknown): string | null => (typeof v === 'string' && v.trim() !== '' ? v.trim() : null);
  const email = str(claims.email);
  return {
    issuer: String(claims.iss),
    subject: String(claims.sub),
    email: email === null ? null : normalizeEmail(email),
    emailVerified: claims.email_verified === true,
    name: str(claims.name),
    hostedDomain: str(claims.hd)?.toLowerCase() ?? null,
  };
}

export class OidcClients {
  private readonly configurations = new Map<string, Promise<oidc.Configuration>>();
  private readonly keySets = new Map<string, ReturnType<typeof createRemoteJWKSet>>();

  /** `callbackUrl`: PUBLIC_URL/oauth/callback, the redirect_uri registered at every provider. */
  constructor(private readonly callbackUrl: string) {}

  /** The authorization endpoint URL for a new flow. */
  async authorizationUrl(provider: IdentityProviderConfig, checks: AuthorizationChecks): Promise<string> {
    const config = await this.configuration(provider);
    const params: Record<string, string> = {
      redirect_uri: this.callbackUrl,
      scope: provider.scopes,
      state: checks.state,
      nonce: checks.nonce,
      code_challenge: await oidc.calculatePKCECodeChallenge(checks.verifier),
      code_challenge_method: 'S256',
    };
    // Google pre-selects an account of the domain; the `hd` claim is still checked on the way back.
    if (provider.hostedDomains.length === 1) params.hd = provider.hostedDomains[0]!;
    return oidc.buildAuthorizationUrl(config, params).href;
  }

  /**
   * Checks the provider's answer (`params`: the callback's query or form fields) — state, `iss` (RFC 9207), an
   * error — exchanges the code with the PKCE verifier and validates the ID token (signature through the JWKS,
   * iss, aud, exp, nonce). Throws openid-client's errors, or ProviderUnavailableError when it cannot be reached.
   */
  async exchange(
    provider: IdentityProviderConfig,
    params: URLSearchParams,
    checks: AuthorizationChecks,
  ): Promise<ProviderProfile> {
    const config = await this.configuration(provider);
    const current = new URL(this.callbackUrl);
    current.search = params.toString();
    try {
      const tokens = await oidc.authorizationCodeGrant(config, current, {
        expectedState: checks.state,
        expectedNonce: checks.nonce,
        pkceCodeVerifier: checks.verifier,
        idTokenExpected: true,
      });
      return profileOf(tokens.claims()!);
    } catch (err) {
      throw unreachable(err) ? new ProviderUnavailableError(provider.id, err) : err;
    }
  }

  /** Verifies an ID token a native app got from the provider's SDK; its audience must be a configured client id. */
  async verifyIdToken(
    provider: IdentityProviderConfig,
    idToken: string,
  ): Promise<{ profile: ProviderProfile; claims: JWTPayload }> {
    const config = await this.configuration(provider);
    const metadata = config.serverMetadata();
    let keys = this.keySets.get(provider.id);
    if (keys === undefined) {
      if (metadata.jwks_uri === undefined) throw new ProviderUnavailableError(provider.id);
      keys = createRemoteJWKSet(new URL(metadata.jwks_uri), { timeoutDuration: TIMEOUT_SECONDS * 1000 });
      this.keySets.set(provider.id, keys);
    }
    try {
      const { payload } = await jwtVerify(idToken, keys, {
        issuer: metadata.issuer,
        audience: [...provider.idTokenAudiences],
        algorithms: ID_TOKEN_ALGORITHMS,
        requiredClaims: ['sub', 'exp', 'iat'],
      });
      return { profile: profileOf(payload), claims: payload };
    } catch (err) {
      throw unreachable(err) ? new ProviderUnavailableError(provider.id, err) : err;
    }
  }

  private configuration(provider: IdentityProviderConfig): Promise<oidc.Configuration> {
    let found = this.configurations.get(provider.id);
    if (found === undefined) {
      found = this.discover(provider).catch((err: unknown) => {
        this.configurations.delete(provider.id); // the next request tries again
        throw new ProviderUnavailableError(provider.id, err); // unreachable, or no usable discovery document
      });
      this.configurations.set(provider.id, found);
    }
    return found;
  }

  private async discover(provider: IdentityProviderConfig): Promise<oidc.Configuration> {
    const auth =
      provider.tokenAuth === 'client_secret_basic'
        ? oidc.ClientSecretBasic(provider.clientSecret)
        : oidc.ClientSecretPost(provider.clientSecret);
    // http:// issuers pass config validation only on localhost outside production (a development provider).
    const insecure = new URL(provider.issuer).protocol === 'http:';
    const config = await oidc.discovery(new URL(provider.issuer), provider.clientId, undefined, auth, {
      timeout: TIMEOUT_SECONDS,
      execute: insecure ? [oidc.allowInsecureRequests] : [],
    });
    // The ID token of the code exchange is checked against the provider's JWKS too, not only trusted for its TLS.
    oidc.enableNonRepudiationChecks(config);
    return config;
  }
}

/**
 * A network failure, a timeout or a server error of the provider, as opposed to an answer we refuse. Judged by shape,
 * not `instanceof`: fetch's errors may come from another realm (an embedding runtime, a test VM).
 */
export function unreachable(err: unknown, depth = 0): boolean {
  if (typeof err !== 'object' || err === null || depth > 4) return false;
  const { name, message, code, status, cause } = err as Record<string, unknown>;
  if (name === 'TimeoutError' || name === 'AbortError' || name === 'JWKSTimeout') return true;
  if (name === 'TypeError' && typeof message === 'string' && /fetch failed/i.test(message)) return true;
  // openid-client: a token endpoint answering 5xx, or not with the JSON OAuth says (a proxy's error page).
  if (typeof status === 'number' && status >= 500) return true;
  if (code === 'OAUTH_RESPONSE_IS_NOT_CONFORM' || code === 'OAUTH_RESPONSE_IS_NOT_JSON') return true;
  return cause !== err && unreachable(cause, depth + 1);
}
