// Sessions and their rotating refresh tokens. Only SHA-256 hashes of refresh tokens are stored; a rotated
// token is HMAC(server key, previous token . random nonce), so a replay of the previous token within the
// grace window can re-derive the same successor without the successor ever being stored.
import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { KeyObject } from 'node:crypto';
import { addSeconds, type Clock } from '../../common/clock';
import { hmac, randomToken, safeEqual, sha256 } from '../../common/crypto';
import { AccountDisabledError, UnauthenticatedError } from '../../common/errors';
import { failure, success, type Outcome } from '../../common/outcome';
import { AuditEventType } from '../audit/audit-event-type';
import type { AuditService } from '../audit/audit.service';
import type { AfterCommit } from '../../database/after-commit';
import { preparedQuery } from '../../database/prepared-query';
import { toPrincipalUser, type PrincipalUserSource } from '../users/principal-user';
import { User } from '../users/user.entity';
import { RetiredRefreshToken } from './retired-refresh-token.entity';
import type { LiveSession, SessionCache } from './session-cache';
import { Session } from './session.entity';
import { LiveSessionBatch } from './live-session-batch';
import type { ClientInfo, PrincipalUser } from '../../common/request-context';
import type { AuthMethod } from '../../common/assurance';

export interface IssuedSession {
  readonly sessionId: string;
  readonly user: PrincipalUser;
  readonly refreshToken: string;
  /** How the user proved who they are, and when: the access token's amr and auth_time. */
  readonly amr: readonly string[];
  readonly authTime: Date;
}

type RotatedRow = PrincipalUserSource & {
  readonly sessionId: string;
  readonly amr: string[];
  readonly authTime: Date | string;
};

// The common case of `rotate` in one statement: the presented token is the current one of a live session
// whose user is active. It locks the row like the general path, so the two never both rotate one token.
const ROTATE_CURRENT = `with old as (
  select s.id, s.previous_token_hash from sessions s join users u on u.id = s.user_id
  where s.current_token_hash = ? and s.revoked_at is null and s.expires_at > ? and u.active
  for update of s
), retired as (
  insert into retired_refresh_tokens (token_hash, session_id, retired_at)
  select previous_token_hash, id, ? from old where previous_token_hash is not null
), rotated as (
  update sessions s set previous_token_hash = ?, current_token_hash = ?, rotation_nonce = ?, rotated_at = ?,
    last_used_at = ?, ip = coalesce(?, s.ip), user_agent = coalesce(?, s.user_agent)
  from old where s.id = old.id
  returning s.id, s.user_id, s.amr, s.auth_time
)
select r.id as "sessionId", r.amr, r.auth_time as "authTime", u.id, u.email, u.full_name as "fullName",
  u.email_verified as "emailVerified", u.active, u.roles, u.created_at as "createdAt"
from rotated r join users u on u.id = r.user_id`;

// The live session an access token names, with its user, in the property names of PrincipalUser.
// One statement answers the checks of every request in one event-loop turn (live-session-batch.ts).
const LIVE_SESSIONS = {
  name: 'portcullis_live_sessions',
  text: `select s.id as "sessionId", s.expires_at as "expiresAt", u.id, u.email, u.full_name as "fullName",
  u.email_verified as "emailVerified", u.active, u.roles, u.created_at as "createdAt"
from sessions s join users u on u.id = s.user_id
where s.id = any($1::uuid[]) and s.revoked_at is null and s.expires_at > $2`,
};

type LiveRow = PrincipalUserSource & { readonly sessionId: string; readonly expiresAt: Date | string };

export type RevokeReason =
  | 'logout'
  | 'logout_all'
  | 'revoked'
  | 'password_changed'
  | 'password_reset'
  | 'refresh_token_reuse'
  | 'deactivated'
  | 'email_proven'
  | 'mfa_enabled'
  | 'email_changed'
  | 'account_deleted';

export interface SessionSettings {
  readonly refreshKey: KeyObject;
  readonly refreshTtl: number;
  readonly graceWindow: number;
}

export class SessionService {
  constructor(
    private readonly settings: SessionSettings,
    private readonly clock: Clock,
    private readonly audit: AuditService,
    private readonly cache: SessionCache,
    private readonly afterCommit: AfterCommit,
  ) {}

  private readonly liveSessions = new LiveSessionBatch<LiveRow, EntityManager>((ids, em) =>
    preparedQuery<LiveRow>(em, LIVE_SESSIONS, [ids, this.clock.now()]),
  );

  /** Starts a new refresh-token family for `user`, authenticated by `amr` now; the caller flushes. */
  create(em: EntityManager, user: User, client: ClientInfo, amr: readonly AuthMethod[]): IssuedSession {
    const now = this.clock.now();
    const refreshToken = randomToken(32);
    const session = em.create(Session, {
      user,
      currentTokenHash: sha256(refreshToken),
      userAgent: client.userAgent,
      ip: client.ip,
      createdAt: now,
      lastUsedAt: now,
      expiresAt: addSeconds(now, this.settings.refreshTtl),
      amr: [...amr],
      authTime: now,
    });
    return { sessionId: session.id, user: toPrincipalUser(user), refreshToken, amr: session.amr, authTime: now };
  }

  /**
   * Rotates `refreshToken`. A replay of the previous token within the grace window gets the same successor;
   * any older token, or the previous one after the window, ends the session (committed before the error).
   */
  async rotate(em: EntityManager, refreshToken: string, client: ClientInfo): Promise<IssuedSession> {
    const hash = sha256(refreshToken);
    const rotated = await this.rotateCurrent(em, refreshToken, hash, client);
    if (rotated !== null) return rotated;
    const outcome = await em.transactional(async (tx): Promise<Outcome<IssuedSession>> => {
      const session = await tx.findOne(
        Session,
        { $or: [{ currentTokenHash: hash }, { previousTokenHash: hash }] },
        { lockMode: LockMode.PESSIMISTIC_WRITE },
      );
      if (session === null) {
        await this.endFamilyOfRetired(tx, hash, client);
        return failure(new UnauthenticatedError('Refresh token is not valid'));
      }
      const now = this.clock.now();
      if (!this.isLive(session, now)) return failure(new UnauthenticatedError('Refresh token is not valid'));
      const user = await tx.findOneOrFail(User, session.user.id);
      if (!user.active) return failure(new AccountDisabledError());

      // ROTATE_CURRENT rotates every current token of a live session of an active user: one found here was
      // refused above. Never reached; refused rather than rotated a second way.
      if (safeEqual(session.currentTokenHash, hash))
        return failure(new UnauthenticatedError('Refresh token is not valid'));

      // The previous token: a client's own concurrent refresh within the window, or a replay after it.
      const rotatedAt = session.rotatedAt ?? session.createdAt;
      const withinGrace = now.getTime() - rotatedAt.getTime() <= this.settings.graceWindow * 1000;
      const successor = hmac(this.settings.refreshKey, `${refreshToken}.${session.rotationNonce ?? ''}`);
      if (withinGrace && safeEqual(sha256(successor), session.currentTokenHash)) {
        this.touch(session, client, now);
        return success({
          sessionId: session.id,
          user: toPrincipalUser(user),
          refreshToken: successor,
          amr: session.amr,
          authTime: session.authTime,
        });
      }
      this.end(tx, session, now, 'refresh_token_reuse');
      this.recordReuse(tx, session.id, user.id, client);
      return failure(new UnauthenticatedError('Refresh token is not valid'));
    });
    if (!outcome.ok) throw outcome.error;
    return outcome.value;
  }

  /** ROTATE_CURRENT; null when it does not apply (the general path then decides). */
  private async rotateCurrent(
    em: EntityManager,
    refreshToken: string,
    hash: string,
    client: ClientInfo,
  ): Promise<IssuedSession | null> {
    const now = this.clock.now();
    const nonce = randomToken(16);
    const successor = hmac(this.settings.refreshKey, `${refreshToken}.${nonce}`);
    const [row] = await em
      .getConnection()
      .execute<RotatedRow[]>(ROTATE_CURRENT, [
        hash,
        now,
        now,
        hash,
        sha256(successor),
        nonce,
        now,
        now,
        client.ip,
        client.userAgent,
      ]);
    if (row === undefined) return null;
    return {
      sessionId: row.sessionId,
      user: toPrincipalUser(row),
      refreshToken: successor,
      amr: row.amr,
      authTime: new Date(row.authTime),
    };
  }

  /** The live session a refresh token (current, or retired: it still names the family) belongs to. */
  async findByRefreshToken(em: EntityManager, refreshToken: string): Promise<Session | null> {
    const hash = sha256(refreshToken);
    let session = await em.findOne(Session, { $or: [{ currentTokenHash: hash }, { previousTokenHash: hash }] });
    if (session === null) {
      const retired = await em.findOne(RetiredRefreshToken, { tokenHash: hash }, { populate: ['session'] });
      session = retired?.session ?? null;
    }
    return session !== null && this.isLive(session, this.clock.now()) ? session : null;
  }

  /**
   * What the authenticator needs of the live session an access token names, in one statement and without the
   * unit of work (no fork, no hydration): every signed-in request whose session is not cached comes here.
   */
  async findLiveSession(em: EntityManager, sessionId: string): Promise<LiveSession | null> {
    const row = await this.liveSessions.load(sessionId, em);
    if (row === null) return null;
    return { sessionId: row.sessionId, expiresAt: new Date(row.expiresAt).getTime(), user: toPrincipalUser(row) };
  }

  /** The session an access token names, with its user, if it has not ended. */
  async findLive(em: EntityManager, sessionId: string): Promise<Session | null> {
    const session = await em.findOne(Session, { id: sessionId }, { populate: ['user'] });
    return session !== null && this.isLive(session, this.clock.now()) ? session : null;
  }

  async listLive(em: EntityManager, userId: string): Promise<Session[]> {
    return em.find(
      Session,
      { user: userId, revokedAt: null, expiresAt: { $gt: this.clock.now() } },
      { orderBy: { lastUsedAt: 'desc', id: 'asc' } },
    );
  }

  /** Ends a live session of `userId`; false when there is none with that id. */
  async revokeOwn(em: EntityManager, userId: string, sessionId: string, client: ClientInfo): Promise<boolean> {
    const ended = await em.nativeUpdate(
      Session,
      { id: sessionId, user: userId, revokedAt: null, expiresAt: { $gt: this.clock.now() } },
      { revokedAt: this.clock.now(), revokedReason: 'revoked' },
    );
    if (ended === 0) return false;
    this.evictSessionOnCommit(em, sessionId);
    this.audit.record(em, client, {
      type: AuditEventType.SESSION_REVOKED,
      actorUserId: userId,
      subjectUserId: userId,
      detail: `session ${sessionId}`,
      sessionId,
    });
    await em.flush();
    return true;
  }

  /**
   * The user proved who they are again in a live session (reauthenticate): its methods become `amr` and its
   * auth_time now. Returns that time; UNAUTHENTICATED when the session has ended.
   */
  async reassure(em: EntityManager, sessionId: string, amr: readonly AuthMethod[]): Promise<Date> {
    const now = this.clock.now();
    const updated = await em.nativeUpdate(
      Session,
      { id: sessionId, revokedAt: null, expiresAt: { $gt: now } },
      { amr: [...amr], authTime: now },
    );
    if (updated === 0) throw new UnauthenticatedError();
    return now;
  }

  /** Ends one session; the caller flushes or commits `em`. */
  end(em: EntityManager, session: Session, now: Date, reason: RevokeReason): void {
    if (session.revokedAt !== null) return;
    session.revokedAt = now;
    session.revokedReason = reason;
    this.evictSessionOnCommit(em, session.id);
  }

  /** Ends every live session of a user, except `keepSessionId`; returns how many ended. */
  async endAllOfUser(em: EntityManager, userId: string, reason: RevokeReason, keepSessionId?: string): Promise<number> {
    const where: Record<string, unknown> = { user: userId, revokedAt: null };
    if (keepSessionId !== undefined) where.id = { $ne: keepSessionId };
    const ended = await em.nativeUpdate(Session, where, { revokedAt: this.clock.now(), revokedReason: reason });
    this.userChanged(em, userId);
    return ended;
  }

  /**
   * A user's roles, activation or profile changed in `em`'s transaction: once it commits, drop what this instance
   * cached about them. (Other instances hear of it from the database's change notifications.)
   */
  userChanged(em: EntityManager, userId: string): void {
    this.afterCommit.add(em, () => this.cache.evictUser(userId));
  }

  private evictSessionOnCommit(em: EntityManager, sessionId: string): void {
    this.afterCommit.add(em, () => this.cache.evictSession(sessionId));
  }

  private isLive(session: Session, now: Date): boolean {
    return session.revokedAt === null && session.expiresAt.getTime() > now.getTime();
  }

  private touch(session: Session, client: ClientInfo, now: Date): void {
    session.lastUsedAt = now;
    if (client.ip !== null) session.ip = client.ip;
    if (client.userAgent !== null) session.userAgent = client.userAgent;
  }

  /** A token found only among the retired ones is reuse: end its family. */
  private async endFamilyOfRetired(em: EntityManager, hash: string, client: ClientInfo): Promise<void> {
    const retired = await em.findOne(RetiredRefreshToken, { tokenHash: hash }, { populate: ['session'] });
    if (retired === null) return;
    const { session } = retired;
    if (session.revokedAt === null) {
      this.end(em, session, this.clock.now(), 'refresh_token_reuse');
      this.recordReuse(em, session.id, session.user.id, client);
    }
  }

  private recordReuse(em: EntityManager, sessionId: string, userId: string, client: ClientInfo): void {
    this.audit.record(em, client, {
      type: AuditEventType.REFRESH_TOKEN_REUSE,
      subjectUserId: userId,
      detail: `session ${sessionId} ended`,
      sessionId,
    });
  }
}
