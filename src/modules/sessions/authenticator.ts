// Turns a bearer token into the signed-in principal, checking on every request that its session is live:
// from the session cache when it holds the session, else from the database (and then cached).
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Clock } from '../../common/clock';
import { UnauthenticatedError } from '../../common/errors';
import { scopesOf } from '../../common/roles';
import { UnknownKeyError, type AccessTokenService } from './access-token.service';
import type { LiveSession, SessionCache } from './session-cache';
import type { SessionService } from './session.service';
import type { AccessClaims, Principal } from '../../common/request-context';

export class Authenticator {
  constructor(
    private readonly accessTokens: AccessTokenService,
    private readonly sessions: SessionService,
    private readonly cache: SessionCache,
    private readonly clock: Clock,
    /** Reads the signing keys again for a token naming a key this instance has not loaded; false when throttled. */
    private readonly reloadKeys?: (em: EntityManager) => Promise<boolean>,
    /** Bearer credentials that are API keys (`pcl_…`, modules/api-keys/). */
    private readonly apiKeys?: { authenticate(em: EntityManager, secret: string): Promise<Principal> },
  ) {}

  /** `em`'s connection reads the session when it is not in the cache (one statement; `em` itself is not used). */
  async authenticate(em: EntityManager, bearerToken: string | null): Promise<Principal> {
    if (bearerToken === null) throw new UnauthenticatedError();
    if (bearerToken.startsWith('pcl_') && this.apiKeys) return this.apiKeys.authenticate(em, bearerToken);
    let claims: AccessClaims;
    try {
      claims = this.accessTokens.verify(bearerToken);
    } catch (err) {
      // A key another instance made a moment ago (its notification not here yet): read the keys once, then decide.
      if (!(err instanceof UnknownKeyError && err.withKid && (await this.reloadKeys?.(em)))) throw err;
      claims = this.accessTokens.verify(bearerToken);
    }
    const live = this.cache.get(claims.sid) ?? (await this.load(em, claims.sid));
    const { user } = live;
    if (live.expiresAt <= this.clock.now().getTime() || user.id !== claims.sub || !user.active) {
      throw new UnauthenticatedError();
    }
    // Roles changed since the token was issued: refuse it, so the client refreshes and gets the new scopes.
    if ([...claims.roles].sort().join(',') !== [...user.roles].sort().join(',')) {
      throw new UnauthenticatedError('The access token predates a role change; refresh it');
    }
    return { user, sessionId: live.sessionId, claims, scopes: scopesOf(user.roles) };
  }

  private async load(em: EntityManager, sessionId: string): Promise<LiveSession> {
    const generation = this.cache.generation;
    const live = await this.sessions.findLiveSession(em, sessionId);
    if (live === null) throw new UnauthenticatedError();
    this.cache.set(live, generation);
    return live;
  }
}
