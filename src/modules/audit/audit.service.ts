// Writes audit events in the caller's unit of work, reads them back page by page, and counts recent password
// guesses for the lockout.
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Clock } from '../../common/clock';
import type { Page } from '../../common/pagination';
import type { ClientInfo } from '../../common/request-context';
import type { AfterCommit } from '../../database/after-commit';
import { keysetPage } from '../../database/keyset-page';
import { AuditEvent } from './audit-event.entity';
import { AuditEventType, FAILURE_LABELS, GUESSES, type FailureReason, type SignInMethod } from './audit-event-type';

export interface AuditEntry {
  readonly type: AuditEventType;
  readonly actorUserId?: string | null;
  readonly subjectUserId?: string | null;
  readonly email?: string | null;
  readonly method?: SignInMethod | null;
  /** LOGIN_FAILED: why; the event's `detail` is its label unless one is given. */
  readonly reason?: FailureReason | null;
  readonly detail?: string | null;
  /** The session the event is about (not stored: the webhooks' session events carry it). */
  readonly sessionId?: string | null;
  /** REGISTER, or admin:create's ROLES_CHANGED: this event made the account (not stored; a renewal does not). */
  readonly accountCreated?: boolean;
  /** Only on the event that switched MFA (not stored): true when this factor turned it on, false when off. */
  readonly mfaEnabled?: boolean;
}

/**
 * Hears each event as it joins the caller's unit of work (`at`: its createdAt), so it can add rows of its own to the
 * same transaction (webhook deliveries). It must not flush or query: `record` is synchronous.
 */
export type AuditListener = (em: EntityManager, entry: AuditEntry, at: Date) => void;

export interface AuditFilter {
  readonly subjectUserId?: string;
  readonly type?: AuditEventType;
}

/** Password guesses for one email since the newest success or unlock (within the window). */
export interface RecentGuesses {
  readonly count: number;
  /** Milliseconds since the epoch of the newest guess; null when there is none. */
  readonly newest: number | null;
}

// One statement on the (email, type, created_at) index: the newest reset (a successful sign-in or an unlock) in the
// window, then the guesses after it, ordered like the trail itself (created_at, then id for events of one ms).
const RECENT_GUESSES = `with reset as (
  select created_at, id from audit_events
  where email = ? and type in (?, ?) and created_at > ?
  order by created_at desc, id desc limit 1
)
select count(*)::int as count, max(g.created_at) as newest from audit_events g
where g.email = ? and g.type = ? and g.reason in (${GUESSES.map(() => '?').join(', ')}) and g.created_at > ?
  and not exists (select 1 from reset r where (g.created_at, g.id) <= (r.created_at, r.id))`;

export class AuditService {
  constructor(
    private readonly clock: Clock,
    private readonly afterCommit: AfterCommit,
    /** Told of every event once it is committed (metrics). */
    private readonly onCommitted: (entry: AuditEntry) => void = () => {},
    /** Told of every event in its transaction (webhooks). */
    private readonly inTransaction: AuditListener = () => {},
  ) {}

  /** Adds an event to `em`'s unit of work; it is written with the caller's flush or commit. */
  record(em: EntityManager, client: ClientInfo | null, entry: AuditEntry): void {
    this.afterCommit.add(em, () => this.onCommitted(entry));
    const createdAt = this.clock.now();
    em.create(AuditEvent, {
      type: entry.type,
      actorUserId: entry.actorUserId ?? null,
      subjectUserId: entry.subjectUserId ?? null,
      email: entry.email ?? null,
      method: entry.method ?? null,
      reason: entry.reason ?? null,
      detail: entry.detail ?? (entry.reason ? FAILURE_LABELS[entry.reason] : null),
      ip: client?.ip ?? null,
      userAgent: client?.userAgent ?? null,
      createdAt,
    });
    this.inTransaction(em, entry, createdAt);
  }

  /** Password guesses (FailureReason GUESSES) for `email` after `since` and after the newest success or unlock. */
  async recentGuesses(em: EntityManager, email: string, since: Date): Promise<RecentGuesses> {
    const [row] = await em
      .getConnection()
      .execute<Array<{ count: number; newest: Date | string | null }>>(RECENT_GUESSES, [
        email,
        AuditEventType.LOGIN_SUCCEEDED,
        AuditEventType.ACCOUNT_UNLOCKED,
        since,
        email,
        AuditEventType.LOGIN_FAILED,
        ...GUESSES,
        since,
      ]);
    return { count: row?.count ?? 0, newest: row?.newest == null ? null : new Date(row.newest).getTime() };
  }

  /** How many events of `type` about `userId` since `since` (in `em`'s transaction), and when the oldest of them was (ms), for budgets. */
  async countSince(
    em: EntityManager,
    userId: string,
    type: AuditEventType,
    since: Date,
  ): Promise<{ count: number; oldest: number | null }> {
    // em.execute runs inside em's transaction when there is one (embedded PGlite would wait on it otherwise).
    const [row] = await em.execute<Array<{ count: number; oldest: Date | string | null }>>(
      'select count(*)::int as count, min(created_at) as oldest from audit_events where subject_user_id = ? and type = ? and created_at > ?',
      [userId, type, since],
    );
    return { count: row?.count ?? 0, oldest: row?.oldest == null ? null : new Date(row.oldest).getTime() };
  }

  /** Newest first; the cursor is the (createdAt, id) of the last event seen. */
  async list(
    em: EntityManager,
    filter: AuditFilter,
    first: number,
    after: string | null | undefined,
  ): Promise<Page<AuditEvent>> {
    const where: Record<string, unknown> = {};
    if (filter.subjectUserId !== undefined) where.subjectUserId = filter.subjectUserId;
    if (filter.type !== undefined) where.type = filter.type;
    return keysetPage(em, AuditEvent, where, { first, after, idPattern: /^\d{1,18}$/, newestFirst: true }); // bigint ids
  }
}
