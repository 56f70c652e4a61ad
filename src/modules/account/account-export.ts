// myData: everything Portcullis holds about the signed-in user, as one JSON document — the answer to a data-access
// request (GDPR art. 15). Each section lists its fields by name (the user and API keys as their GraphQL views, which
// have no secret field, plus what only the export shows), so a secret (password or code hash, refresh token, TOTP
// secret, passkey key, API key secret, sealed value) can never slip in with a new column.
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Clock } from '../../common/clock';
import { UnauthenticatedError } from '../../common/errors';
import type { Principal } from '../../common/request-context';
import { ApiKey } from '../api-keys/api-key.entity';
import { toApiKeyView } from '../api-keys/api-key.types';
import { AuditEvent } from '../audit/audit-event.entity';
import { KnownDevice } from '../devices/known-device.entity';
import { Identity } from '../identities/identity.entity';
import { MfaFactor } from '../mfa/mfa-factor.entity';
import { RecoveryCode } from '../mfa/recovery-code.entity';
import { Session } from '../sessions/session.entity';
import { User } from '../users/user.entity';
import { toUserView } from '../users/user.types';

export const EXPORT_FORMAT = 'portcullis.export.v1';
/** The newest audit events an export holds (older ones are summarised by a count). */
export const EXPORT_AUDIT_MAX = 10_000;

export async function exportAccount(em: EntityManager, principal: Principal, clock: Clock): Promise<object> {
  const id = principal.user.id;
  const user = await em.findOne(User, id);
  if (user === null) throw new UnauthenticatedError();
  const [sessions, identities, factors, codesLeft, apiKeys, devices, events, eventCount] = await Promise.all([
    em.find(Session, { user: id }, { orderBy: { createdAt: 'asc' } }),
    em.find(Identity, { user: id }, { orderBy: { createdAt: 'asc' } }),
    em.find(MfaFactor, { user: id, confirmedAt: { $ne: null } }, { orderBy: { createdAt: 'asc' } }),
    em.count(RecoveryCode, { user: id, usedAt: null }),
    em.find(ApiKey, { user: id }, { orderBy: { createdAt: 'asc' } }),
    em.find(KnownDevice, { user: id }, { orderBy: { firstSeenAt: 'asc' } }),
    em.find(AuditEvent, { subjectUserId: id }, { orderBy: { createdAt: 'desc', id: 'desc' }, limit: EXPORT_AUDIT_MAX }),
    em.count(AuditEvent, { subjectUserId: id }),
  ]);
  return {
    format: EXPORT_FORMAT,
    exportedAt: clock.now().toISOString(),
    user: { ...toUserView(user), hasPassword: user.passwordHash !== null, updatedAt: user.updatedAt },
    sessions: sessions.map((s) => ({
      id: s.id,
      current: s.id === principal.sessionId,
      createdAt: s.createdAt,
      lastUsedAt: s.lastUsedAt,
      expiresAt: s.expiresAt,
      revokedAt: s.revokedAt,
      ip: s.ip,
      userAgent: s.userAgent,
      amr: [...s.amr],
    })),
    identities: identities.map((i) => ({
      provider: i.provider,
      email: i.email,
      createdAt: i.createdAt,
      lastUsedAt: i.lastUsedAt,
    })),
    mfaFactors: factors.map((f) => ({
      id: f.id,
      type: f.type,
      name: f.name,
      createdAt: f.createdAt,
      lastUsedAt: f.lastUsedAt,
    })),
    recoveryCodes: { remaining: codesLeft },
    apiKeys: apiKeys.map((k) => ({ ...toApiKeyView(k), revokedAt: k.revokedAt })),
    knownDevices: devices.map((d) => ({
      browser: d.browser,
      os: d.os,
      network: d.network,
      firstSeenAt: d.firstSeenAt,
      lastSeenAt: d.lastSeenAt,
    })),
    auditEvents: events.map((e) => ({
      type: e.type,
      createdAt: e.createdAt,
      ip: e.ip,
      userAgent: e.userAgent,
      method: e.method,
      detail: e.detail,
    })),
    auditEventsOmitted: Math.max(0, eventCount - events.length),
  };
}
