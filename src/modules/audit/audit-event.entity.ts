// One security-relevant event: who did what to which account, from where. Never a secret.
import { Entity, Index, PrimaryKey, Property } from '@mikro-orm/core';
import type { AuditEventType, FailureReason, SignInMethod } from './audit-event-type';

@Entity({ tableName: 'audit_events' })
@Index({ properties: ['subjectUserId', 'createdAt'] })
@Index({ properties: ['actorUserId'] })
@Index({ properties: ['type', 'createdAt'] })
@Index({ properties: ['createdAt'] })
@Index({ properties: ['email', 'createdAt'] })
@Index({ properties: ['email', 'type', 'createdAt'] })
export class AuditEvent {
  @PrimaryKey({ type: 'bigint', autoincrement: true })
  id!: string;

  @Property({ type: 'text' })
  type!: AuditEventType;

  /** Who acted: the user themselves, an admin, or null (an anonymous caller or the command line). */
  @Property({ type: 'uuid', nullable: true })
  actorUserId: string | null = null;

  /** Whose account the event is about, when it is known. */
  @Property({ type: 'uuid', nullable: true })
  subjectUserId: string | null = null;

  /** The email the request named (kept for failed sign-ins of unknown emails). */
  @Property({ type: 'text', nullable: true })
  email: string | null = null;

  @Property({ type: 'text', nullable: true })
  ip: string | null = null;

  @Property({ type: 'text', nullable: true })
  userAgent: string | null = null;

  /** LOGIN_SUCCEEDED, LOGIN_FAILED: how the user tried to sign in. */
  @Property({ type: 'text', nullable: true })
  method: SignInMethod | null = null;

  /** LOGIN_FAILED: why it was refused (the lockout counts the guesses among them). */
  @Property({ type: 'text', nullable: true })
  reason: FailureReason | null = null;

  /** A short, secret-free note: a purpose, a reason, a role change. */
  @Property({ type: 'text', nullable: true })
  detail: string | null = null;

  /** Millisecond precision, like JavaScript dates, so keyset cursors compare exactly. */
  @Property({ type: 'timestamptz', length: 3 })
  createdAt!: Date;
}
