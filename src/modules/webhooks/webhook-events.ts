// The webhook events (docs/webhooks.md): the one list of their types, and the one mapping from the audit trail to
// them. Every change a webhook reports is already an audit event recorded in the change's own transaction, so the
// webhook is derived from that event there: the two can never tell different stories. A payload carries ids, the
// account's email and typed reasons only — never a secret, code, token, hash, IP address or user agent.
import { AuditEventType } from '../audit/audit-event-type';
import type { AuditEntry } from '../audit/audit.service';

export const WEBHOOK_EVENT_TYPES = [
  'user.created',
  'user.updated',
  'user.deleted',
  'session.created',
  'session.revoked',
  'mfa.enabled',
  'mfa.disabled',
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/** What a `user.updated` changed. */
export type UserChange = 'email' | 'password' | 'roles' | 'active';

/** Why a `session.revoked`: the same words as the sessions' own revoke reasons. */
export type SessionEnd = 'logout' | 'revoked' | 'logout_all' | 'refresh_token_reuse';

/** Every event's data: whose account, and who acted (the user, an admin; null for the command line or the system). */
interface Subject {
  readonly userId: string;
  readonly actorId: string | null;
}

export type WebhookEvent =
  | { readonly type: 'user.created' | 'user.deleted'; readonly data: Subject & { readonly email: string | null } }
  | {
      readonly type: 'user.updated';
      readonly data: Subject & { readonly email: string | null; readonly changes: readonly UserChange[] };
    }
  | {
      readonly type: 'session.created';
      readonly data: Subject & { readonly sessionId: string | null; readonly method: string | null };
    }
  | {
      readonly type: 'session.revoked';
      /** `sessionId` null: every session of the user (logout_all). */
      readonly data: Subject & { readonly sessionId: string | null; readonly reason: SessionEnd };
    }
  | { readonly type: 'mfa.enabled' | 'mfa.disabled'; readonly data: Subject };

const USER_CHANGES: Partial<Record<AuditEventType, UserChange>> = {
  [AuditEventType.EMAIL_CHANGED]: 'email',
  [AuditEventType.PASSWORD_CHANGED]: 'password',
  [AuditEventType.PASSWORD_RESET]: 'password',
  [AuditEventType.ROLES_CHANGED]: 'roles',
  [AuditEventType.ACTIVATION_CHANGED]: 'active',
};

const SESSION_ENDS: Partial<Record<AuditEventType, SessionEnd>> = {
  [AuditEventType.LOGOUT]: 'logout',
  [AuditEventType.SESSION_REVOKED]: 'revoked',
  [AuditEventType.LOGOUT_ALL]: 'logout_all',
  [AuditEventType.REFRESH_TOKEN_REUSE]: 'refresh_token_reuse',
};

/** The webhook event an audit entry makes, or null; `email` is the account's address where known. */
export function webhookEventFor(entry: AuditEntry, email: string | null): WebhookEvent | null {
  const userId = entry.subjectUserId ?? null;
  if (userId === null) return null;
  const subject: Subject = { userId, actorId: entry.actorUserId ?? null };
  // REGISTER also renews a pending account or notices a taken address: only the one that made the account counts.
  if (entry.accountCreated === true) return { type: 'user.created', data: { ...subject, email } };
  const change = USER_CHANGES[entry.type];
  if (change !== undefined) return { type: 'user.updated', data: { ...subject, email, changes: [change] } };
  const end = SESSION_ENDS[entry.type];
  if (end !== undefined) {
    return { type: 'session.revoked', data: { ...subject, sessionId: entry.sessionId ?? null, reason: end } };
  }
  switch (entry.type) {
    case AuditEventType.ACCOUNT_DELETED:
      return { type: 'user.deleted', data: { ...subject, email } };
    case AuditEventType.LOGIN_SUCCEEDED:
      return {
        type: 'session.created',
        data: { ...subject, sessionId: entry.sessionId ?? null, method: entry.method ?? null },
      };
    case AuditEventType.MFA_FACTOR_ADDED:
      return entry.mfaEnabled === true ? { type: 'mfa.enabled', data: subject } : null;
    case AuditEventType.MFA_FACTOR_REMOVED:
      return entry.mfaEnabled === false ? { type: 'mfa.disabled', data: subject } : null;
    default:
      return null;
  }
}
