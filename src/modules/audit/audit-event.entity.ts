// One security-relevant event: who did what to which account, from where. Never a secret.
import { Entity, Index, PrimaryKey, Property } from '@mikro-orm/core';

export const AuditType = {
  REGISTER: 'REGISTER',
  LOGIN_SUCCEEDED: 'LOGIN_SUCCEEDED',
  LOGIN_FAILED: 'LOGIN_FAILED',
  OTP_REQUESTED: 'OTP_REQUESTED',
  OTP_ACCEPTED: 'OTP_ACCEPTED',
  OTP_REJECTED: 'OTP_REJECTED',
  REFRESH_TOKEN_REUSE: 'REFRESH_TOKEN_REUSE',
  LOGOUT: 'LOGOUT',
  LOGOUT_ALL: 'LOGOUT_ALL',
  SESSION_REVOKED: 'SESSION_REVOKED',
  PASSWORD_CHANGED: 'PASSWORD_CHANGED',
  PASSWORD_RESET: 'PASSWORD_RESET',
  ROLES_CHANGED: 'ROLES_CHANGED',
  ACTIVATION_CHANGED: 'ACTIVATION_CHANGED',
  ACCOUNT_UNLOCKED: 'ACCOUNT_UNLOCKED',
} as const;
export type AuditType = (typeof AuditType)[keyof typeof AuditType];

@Entity({ tableName: 'audit_events' })
@Index({ properties: ['subjectUserId', 'createdAt'] })
@Index({ properties: ['type', 'createdAt'] })
@Index({ properties: ['createdAt'] })
@Index({ properties: ['email', 'createdAt'] })
export class AuditEvent {
  @PrimaryKey({ type: 'bigint', autoincrement: true })
  id!: string;

  @Property({ type: 'text' })
  type!: AuditType;

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

  /** A short, secret-free note: a purpose, a reason, a role change. */
  @Property({ type: 'text', nullable: true })
  detail: string | null = null;

  /** Millisecond precision, like JavaScript dates, so keyset cursors compare exactly. */
  @Property({ type: 'timestamptz', length: 3 })
  createdAt!: Date;
}
