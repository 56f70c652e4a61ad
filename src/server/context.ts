// The per-request GraphQL context: one EntityManager fork, client info, and lazy authentication.
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Principal } from '../modules/auth/authenticator';
import type { ClientInfo } from '../modules/auth/session.service';
import type { RefreshCookie } from './refresh-cookie';

export interface GraphQLContext {
  readonly requestId: string;
  readonly em: EntityManager;
  readonly client: ClientInfo;
  /** The refresh-token cookie in cookie mode (REFRESH_TOKEN_COOKIE=true); null otherwise. */
  readonly refreshCookie: RefreshCookie | null;
  /** The signed-in principal; rejects with UNAUTHENTICATED. Resolved once per request. */
  auth(): Promise<Principal>;
  /** The signed-in user's id once `auth()` has succeeded in this request, else null (for logs). */
  userId(): string | null;
}
