// The per-request GraphQL context: client info, lazy authentication and an EntityManager forked on first use.
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import type { Authenticator, Principal } from '../modules/auth/authenticator';
import type { ClientInfo } from '../modules/auth/session.service';
import type { RefreshCookie } from './refresh-cookie';

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

/**
 * `em` and `auth` live on the prototype: Apollo copies a context's own properties (Object.assign) into the
 * object it executes with, which would run an own getter and fork an EntityManager for every request —
 * while a signed-in request answered from the session cache needs none.
 */
export class RequestContext implements GraphQLContext {
  private forked: EntityManager | undefined;
  private principal: Promise<Principal> | undefined;
  private signedIn: string | null = null;

  constructor(
    readonly requestId: string,
    readonly client: ClientInfo,
    readonly refreshCookie: RefreshCookie | null,
    private readonly orm: MikroORM,
    private readonly authenticator: Authenticator,
    private readonly bearerToken: string | null,
  ) {}

  get em(): EntityManager {
    return (this.forked ??= this.orm.em.fork());
  }

  auth(): Promise<Principal> {
    return (this.principal ??= this.authenticator
      .authenticate(() => this.em, this.bearerToken)
      .then((p) => {
        this.signedIn = p.user.id;
        return p;
      }));
  }

  userId(): string | null {
    return this.signedIn;
  }
}
