// An email waiting to be sent. The body is encrypted (it holds one-time codes) and wiped once sent.
import { type Opt, Entity, Index, PrimaryKey, Property } from '@mikro-orm/core';

@Entity({ tableName: 'mail_outbox' })
@Index({ properties: ['sentAt', 'nextAttemptAt'] })
export class MailOutbox {
  @PrimaryKey({ type: 'bigint', autoincrement: true })
  id!: string;

  @Property({ type: 'text' })
  recipient!: string;

  /** Which template: verify-email, login-code, reset-code, already-registered. */
  @Property({ type: 'text' })
  kind!: string;

  /** AES-GCM sealed JSON {subject, text, html}; null once sent. */
  @Property({ type: 'text', nullable: true, hidden: true })
  payload: string | null = null;

  @Property({ type: 'integer' })
  attempts: Opt<number> = 0;

  @Property({ type: 'timestamptz' })
  createdAt!: Date;

  @Property({ type: 'timestamptz' })
  nextAttemptAt!: Date;

  @Property({ type: 'timestamptz', nullable: true })
  lockedUntil: Date | null = null;

  @Property({ type: 'timestamptz', nullable: true })
  sentAt: Date | null = null;

  /** Set when retries are exhausted: the message is given up. */
  @Property({ type: 'timestamptz', nullable: true })
  failedAt: Date | null = null;

  @Property({ type: 'text', nullable: true })
  lastError: string | null = null;
}
