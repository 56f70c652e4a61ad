// Writes audit events in the caller's unit of work and reads them back page by page.
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Clock } from '../../common/clock';
import type { Page } from '../../common/pagination';
import { keysetPage } from '../../database/keyset-page';
import { AuditEvent, type AuditType } from './audit-event.entity';
import type { ClientInfo } from '../../common/request-context';

export interface AuditEntry {
  readonly type: AuditType;
  readonly actorUserId?: string | null;
  readonly subjectUserId?: string | null;
  readonly email?: string | null;
  readonly detail?: string | null;
}

export interface AuditFilter {
  readonly subjectUserId?: string;
  readonly type?: string;
}

export class AuditService {
  constructor(
    private readonly clock: Clock,
    /** Told of every event as it is recorded (metrics). */
    private readonly onRecord: (entry: AuditEntry) => void = () => {},
  ) {}

  /** Adds an event to `em`'s unit of work; it is written with the caller's flush or commit. */
  record(em: EntityManager, client: ClientInfo | null, entry: AuditEntry): void {
    em.create(AuditEvent, {
      type: entry.type,
      actorUserId: entry.actorUserId ?? null,
      subjectUserId: entry.subjectUserId ?? null,
      email: entry.email ?? null,
      detail: entry.detail ?? null,
      ip: client?.ip ?? null,
      userAgent: client?.userAgent ?? null,
      createdAt: this.clock.now(),
    });
    this.onRecord(entry);
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
