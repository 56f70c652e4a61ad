// The shapes every layer shares about one request: who is calling, from where, and the GraphQL context that
// carries them. A leaf: resolvers, rules and services import these down, never from server/.
import type { Acr } from './assurance';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Role } from './roles';

export interface ClientInfo {
  readonly ip: string | null;
  readonly userAgent: string | null;
}

/** What a request needs to know about its caller: no secret (no password hash) is kept here. */
export interface PrincipalUser {
  readonly id: string;
  readonly email: string;
  readonly fullName: string | null;
  readonly emailVerified: boolean;
  readonly active: boolean;
  readonly roles: readonly Role[];
  readonly createdAt: Date;
}

/** The verified claims of an access token. */
export interface AccessClaims {
  readonly sub: string;
  readonly sid: string;
  readonly jti: string;
  readonly scope: string;
  readonly roles: Role[];
  readonly iat: number;
  readonly exp: number;
  /** `aal1` or `aal2` (common/assurance.ts); tokens from before these claims count as aal1. */
  readonly acr: Acr;
  /** RFC 8176 methods; empty for tokens from before these claims. */
  readonly amr: readonly string[];
  /** Seconds since the epoch; `iat` for tokens from before these claims. */
  readonly authTime: number;
}

export interface Principal {
  readonly user: PrincipalUser;
  readonly sessionId: string;
  readonly claims: AccessClaims;
  /** The scopes of the user's roles (equal to the token's, or the token would have been refused); for an API key, its scopes that the roles grant. */
  readonly scopes: readonly string[];
  /** Set when the caller authenticated with an API key (modules/api-keys/) rather than an access token. */
  readonly apiKeyId?: string;
}

/** The refresh cookie of one request; the context holds null when cookie mode is off. */
export interface RefreshCookie {
  /** The refresh token the client sent in the cookie, or null. */
  read(): string | null;
  /** Asks the client to store `token`, replacing any earlier one. */
  set(token: string): void;
  /** Asks the client to drop the cookie. */
  clear(): void;
}

export interface GraphQLContext {
  readonly requestId: string;
  /** This request's own EntityManager fork. */
  readonly em: EntityManager;
  readonly client: ClientInfo;
  /** The refresh-token cookie in cookie mode (REFRESH_TOKEN_COOKIE=true); null otherwise. */
  readonly refreshCookie: RefreshCookie | null;
  /** The signed-in principal; rejects with UNAUTHENTICATED. Resolved once per request. */
  auth(): Promise<Principal>;
  /** The signed-in user's id once `auth()` has succeeded in this request, else null (for logs). */
  userId(): string | null;
}
