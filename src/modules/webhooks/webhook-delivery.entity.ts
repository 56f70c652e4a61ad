// One event to one webhook endpoint: queued in the transaction of the change it reports, then POSTed (signed) by the
// sender until it is delivered or dead. The payload holds no secret, so it is stored as is and kept for redelivery.
import { type Opt, Entity, Index, PrimaryKey, Property, Unique } from '@mikro-orm/core';

@Entity({ tableName: 'webhook_deliveries' })
@Index({ properties: ['deliveredAt', 'deadAt', 'nextAttemptAt'] })
export class WebhookDelivery {
  @PrimaryKey({ type: 'bigint', autoincrement: true })
  id!: string;

  /** The Standard Webhooks `webhook-id` (`msg_…`): the same on every try, so a receiver can drop a repeat. */
  @Property({ type: 'text' })
  @Unique()
  messageId!: string;

  /** The URL (one of WEBHOOK_URLS) it goes to. */
  @Property({ type: 'text' })
  endpoint!: string;

  /** The event type (webhook-events.ts), e.g. `user.created`. */
  @Property({ type: 'text' })
  type!: string;

  /** The exact JSON body sent and signed: `{ type, timestamp, data }`. */
  @Property({ type: 'text' })
  payload!: string;

  @Property({ type: 'timestamptz', length: 3 })
  createdAt!: Date;

  @Property({ type: 'integer' })
  attempts: Opt<number> = 0;

  @Property({ type: 'timestamptz', length: 3 })
  nextAttemptAt!: Date;

  /** Claimed by a sender until then (database/claim-loop.ts). */
  @Property({ type: 'timestamptz', length: 3, nullable: true })
  lockedUntil: Opt<Date> | null = null;

  @Property({ type: 'timestamptz', length: 3, nullable: true })
  deliveredAt: Opt<Date> | null = null;

  /** Set when the last try failed: the dead letter, until an admin redelivers it. */
  @Property({ type: 'timestamptz', length: 3, nullable: true })
  deadAt: Opt<Date> | null = null;

  /** Why the last try failed, short (a status and at most 200 characters of the answer). */
  @Property({ type: 'text', nullable: true })
  lastError: Opt<string> | null = null;

  /** The HTTP status of the last try; null when none came back (refused, timed out). */
  @Property({ type: 'integer', nullable: true })
  lastStatus: Opt<number> | null = null;
}
