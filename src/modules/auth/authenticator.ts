// Turns a bearer token into the signed-in principal, checking on every request that its session is live.
import type { EntityManager } from '@mikro-orm/postgresql';
import { UnauthenticatedError } from '../../common/errors';
import type { User } from '../users/user.entity';
import type { AccessClaims, AccessTokenService } from './access-token.service';
import type { Session } from './session.entity';
import type { SessionService } from './session.service';

export interface Principal {
  readonly user: User;
  readonly session: Session;
  readonly claims: AccessClaims;
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
    return { user: session.user, session, claims };
  }
}
