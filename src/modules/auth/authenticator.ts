// Turns a bearer token into the signed-in principal, checking on every request that its session is live.
import type { EntityManager } from '@mikro-orm/postgresql';
import { UnauthenticatedError } from '../../common/errors';
import { scopesOf } from '../../permissions/roles';
import type { User } from '../users/user.entity';
import type { AccessClaims, AccessTokenService } from './access-token.service';
import type { Session } from './session.entity';
import type { SessionService } from './session.service';

export interface Principal {
  readonly user: User;
  readonly session: Session;
  readonly claims: AccessClaims;
  /** The scopes of the user's roles (equal to the token's, or the token would have been refused). */
  readonly scopes: readonly string[];
}

export class Authenticator {
  constructor(
    private readonly accessTokens: AccessTokenService,
    private readonly sessions: SessionService,
  ) {}

  async authenticate(em: EntityManager, bearerToken: string | null): Promise<Principal> {
    if (bearerToken === null) throw new UnauthenticatedError();
    const claims = this.accessTokens.verify(bearerToken);
    const session = await this.sessions.findLive(em, claims.sid);
    if (session === null || session.user.id !== claims.sub || !session.user.active) {
      throw new UnauthenticatedError();
    }
    // Roles changed since the token was issued: refuse it, so the client refreshes and gets the new scopes.
    if ([...claims.roles].sort().join(',') !== [...session.user.roles].sort().join(',')) {
      throw new UnauthenticatedError('The access token predates a role change; refresh it');
    }
    return { user: session.user, session, claims, scopes: scopesOf(session.user.roles) };
  }
}
