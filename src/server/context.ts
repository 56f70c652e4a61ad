// The per-request GraphQL context: client info, lazy authentication and an EntityManager forked on first use.
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import type { Authenticator } from '../modules/sessions/authenticator';
import type { ClientInfo, GraphQLContext, Principal, RefreshCookie } from '../common/request-context';

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
      .authenticate(this.orm.em, this.bearerToken) // one SQL statement on its connection, no fork, when not cached
      .then((p) => {
        this.signedIn = p.user.id;
        return p;
      }));
  }

  userId(): string | null {
    return this.signedIn;
  }
}
