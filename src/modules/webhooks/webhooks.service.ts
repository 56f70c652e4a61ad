// Webhook deliveries: queued in the transaction of the change they report (one row per endpoint, from the audit
// event's in-transaction listener), listed for admins by status, and put back in the queue on an admin's request.
import type { EntityManager } from '@mikro-orm/postgresql';
import { randomBytes } from 'node:crypto';
import type { Clock } from '../../common/clock';
import { BadUserInputError } from '../../common/errors';
import type { Page } from '../../common/pagination';
import type { WebhooksConfig } from '../../config/webhooks';
import type { AfterCommit } from '../../database/after-commit';
import { keysetPage } from '../../database/keyset-page';
import type { AuditEntry } from '../audit/audit.service';
import { User } from '../users/user.entity';
import { WebhookDelivery } from './webhook-delivery.entity';
import { webhookEventFor, type WebhookEvent } from './webhook-events';

export enum WebhookDeliveryStatus {
  /** Not delivered yet: waiting for its first try or a retry. */
  PENDING = 'PENDING',
  DELIVERED = 'DELIVERED',
  /** Every try failed (the dead letter): only redeliverWebhook sends it again. */
  DEAD = 'DEAD',
}

const BIGINT_ID = /^\d{1,18}$/;

const STATUS_WHERE: Readonly<Record<WebhookDeliveryStatus, Record<string, unknown>>> = {
  PENDING: { deliveredAt: null, deadAt: null },
  DELIVERED: { deliveredAt: { $ne: null } },
  DEAD: { deadAt: { $ne: null } },
};

export function statusOf(delivery: WebhookDelivery): WebhookDeliveryStatus {
  if (delivery.deliveredAt !== null) return WebhookDeliveryStatus.DELIVERED;
  return delivery.deadAt !== null ? WebhookDeliveryStatus.DEAD : WebhookDeliveryStatus.PENDING;
}

/** A Standard Webhooks message id: `msg_` and 128 random bits. */
function newMessageId(): string {
  return `msg_${randomBytes(16).toString('base64url')}`;
}

/**
 * The account's address for a user.* event: as the change left it when the account is loaded in this unit of work
 * (a changed email is the new one), else the one the audit entry names.
 */
function accountEmail(em: EntityManager, entry: AuditEntry): string | null {
  const userId = entry.subjectUserId;
  const loaded = userId ? em.getUnitOfWork().getById<User>(User.name, userId) : undefined;
  return loaded?.email ?? entry.email ?? null;
}

export class WebhookService {
  private readonly listeners = new Set<() => void>();

  constructor(
    private readonly config: WebhooksConfig,
    private readonly clock: Clock,
    private readonly afterCommit: AfterCommit,
  ) {}

  /** WEBHOOK_URLS is set. */
  get enabled(): boolean {
    return this.config.urls.length > 0;
  }

  /** The audit trail's in-transaction listener: the entry's event, if it makes one, queued for every endpoint. */
  onAudit(em: EntityManager, entry: AuditEntry, at: Date): void {
    if (!this.enabled) return;
    const event = webhookEventFor(entry, accountEmail(em, entry));
    if (event !== null) this.enqueue(em, event, at);
  }

  /** One delivery per endpoint in `em`'s unit of work: written with the caller's change, or not at all. */
  enqueue(em: EntityManager, event: WebhookEvent, at: Date): void {
    const payload = JSON.stringify({ type: event.type, timestamp: at.toISOString(), data: event.data });
    for (const endpoint of this.config.urls) {
      em.create(WebhookDelivery, {
        messageId: newMessageId(),
        endpoint,
        type: event.type,
        payload,
        createdAt: at,
        nextAttemptAt: at,
      });
    }
    this.afterCommit.add(em, () => this.notify());
  }

  /** Newest first; the cursor is the (createdAt, id) of the last delivery seen. */
  list(
    em: EntityManager,
    status: WebhookDeliveryStatus,
    first: number,
    after: string | null | undefined,
  ): Promise<Page<WebhookDelivery>> {
    return keysetPage(em, WebhookDelivery, STATUS_WHERE[status], {
      first,
      after,
      idPattern: BIGINT_ID,
      newestFirst: true,
    });
  }

  /**
   * Puts a delivery (dead, or any other) back in the queue: due now, its tries counted from zero again, the same
   * message id (a receiver that has it already may drop it). BAD_USER_INPUT for an id no delivery has.
   */
  async redeliver(em: EntityManager, id: string): Promise<WebhookDelivery> {
    const delivery = BIGINT_ID.test(id) ? await em.findOne(WebhookDelivery, { id }) : null;
    if (delivery === null) throw new BadUserInputError('id', ['no webhook delivery has this id']);
    Object.assign(delivery, {
      attempts: 0,
      nextAttemptAt: this.clock.now(),
      deliveredAt: null,
      deadAt: null,
      lastError: null,
      lastStatus: null,
    });
    this.afterCommit.add(em, () => this.notify());
    await em.flush();
    return delivery;
  }

  /** `listener` hears that deliveries were committed (the sender then need not wait for its next poll). */
  onCommitted(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private notify(): void {
    for (const listener of this.listeners) listener();
  }
}
