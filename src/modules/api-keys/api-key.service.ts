// API keys: created by a signed-in user with a subset of their scopes, listed, revoked, and accepted as Bearer
// credentials. Each request reads the key with its owner in one statement, so a revocation, the owner's
// deactivation or a role change that removes a scope counts on every instance at once.
import type { EntityManager } from '@mikro-orm/postgresql';
import { addSeconds, epochSeconds, type Clock } from '../../common/clock';
import { sha256 } from '../../common/crypto';
import { BadUserInputError, UnauthenticatedError } from '../../common/errors';
import type { ClientInfo, Principal } from '../../common/request-context';
import { scopesOf } from '../../common/roles';
import { CONTROL } from '../../common/validation';
import { AuditEventType } from '../audit/audit-event-type';
import type { AuditService } from '../audit/audit.service';
import type { OutboxService } from '../mail/outbox.service';
import { apiKeyCreatedEmail } from '../mail/templates';
import { toPrincipalUser, type PrincipalUserSource } from '../users/principal-user';
import { User } from '../users/user.entity';
import { API_KEY_PATTERN, newApiKeySecret, visiblePrefix } from './api-key-secret';
import { ApiKey } from './api-key.entity';

/** The session id an API key's principal carries: no session has it, so session operations find nothing. */
export const NO_SESSION = '00000000-0000-0000-0000-000000000000';
export const MAX_API_KEYS = 50;
const NAME_MAX = 64;
/** `lastUsedAt` is written at most this often per key. */
const LAST_USED_PRECISION_MS = 60_000;
/** expiresIn at most 10 years. */
const MAX_EXPIRES_IN = 10 * 365 * 86_400;

const KEY_WITH_OWNER = `select k.id as "keyId", k.scopes as "keyScopes", k.created_at as "keyCreatedAt",
  k.expires_at as "expiresAt", k.last_used_at as "lastUsedAt", u.id, u.email, u.full_name as "fullName",
  u.email_verified as "emailVerified", u.active, u.roles, u.created_at as "createdAt"
from api_keys k join users u on u.id = k.user_id
where k.secret_hash = ? and k.revoked_at is null`;

type KeyRow = PrincipalUserSource & {
  readonly keyId: string;
  readonly keyScopes: string[];
  readonly keyCreatedAt: Date | string;
  readonly expiresAt: Date | string | null;
  readonly lastUsedAt: Date | string | null;
};

export interface CreatedApiKey {
  readonly apiKey: ApiKey;
  readonly secret: string;
}

export class ApiKeyService {
  constructor(
    private readonly clock: Clock,
    private readonly audit: AuditService,
    private readonly outbox: OutboxService,
  ) {}

  /** Makes a key for `principal` with `scopes` (a subset of theirs); the secret is returned only here. */
  async create(
    em: EntityManager,
    principal: Principal,
    rawName: string,
    scopes: readonly string[],
    expiresIn: number | null | undefined,
    client: ClientInfo,
  ): Promise<CreatedApiKey> {
    const name = rawName.trim();
    if (name === '' || name.length > NAME_MAX || CONTROL.test(name)) {
      throw new BadUserInputError('name', [`1 to ${NAME_MAX} characters, no control characters`]);
    }
    const own = scopesOf(principal.user.roles);
    const wanted = [...new Set(scopes)].sort();
    const beyond = wanted.filter((s) => !own.includes(s));
    if (wanted.length === 0 || beyond.length > 0) {
      throw new BadUserInputError('scopes', [
        wanted.length === 0 ? 'at least one scope' : `not among your scopes: ${beyond.join(', ')}`,
      ]);
    }
    if (expiresIn != null && (expiresIn < 60 || expiresIn > MAX_EXPIRES_IN)) {
      throw new BadUserInputError('expiresIn', [`between 60 and ${MAX_EXPIRES_IN} seconds, or omitted`]);
    }
    const userId = principal.user.id;
    if ((await em.count(ApiKey, { user: userId, revokedAt: null })) >= MAX_API_KEYS) {
      throw new BadUserInputError('name', [`at most ${MAX_API_KEYS} live API keys per account`]);
    }
    const now = this.clock.now();
    const secret = newApiKeySecret();
    const apiKey = em.create(ApiKey, {
      user: em.getReference(User, userId),
      name,
      prefix: visiblePrefix(secret),
      secretHash: sha256(secret),
      scopes: wanted,
      createdAt: now,
      expiresAt: expiresIn == null ? null : addSeconds(now, expiresIn),
    });
    this.audit.record(em, client, {
      type: AuditEventType.API_KEY_CREATED,
      actorUserId: userId,
      subjectUserId: userId,
      detail: `${apiKey.prefix} (${wanted.join(' ')})`,
    });
    this.outbox.notify(em, principal.user, apiKeyCreatedEmail(name, apiKey.prefix));
    await em.flush();
    return { apiKey, secret };
  }

  list(em: EntityManager, userId: string): Promise<ApiKey[]> {
    return em.find(ApiKey, { user: userId, revokedAt: null }, { orderBy: { createdAt: 'desc', id: 'asc' } });
  }

  /** Ends one of `userId`'s keys; false when it is not theirs or already ended. */
  async revoke(em: EntityManager, userId: string, id: string, client: ClientInfo): Promise<boolean> {
    const ended = await em.nativeUpdate(ApiKey, { id, user: userId, revokedAt: null }, { revokedAt: this.clock.now() });
    if (ended === 0) return false;
    this.audit.record(em, client, {
      type: AuditEventType.API_KEY_REVOKED,
      actorUserId: userId,
      subjectUserId: userId,
      detail: `API key ${id}`,
    });
    await em.flush();
    return true;
  }

  /**
   * The principal of a Bearer API key: its owner, with the key's scopes that the owner's roles still grant, level 1
   * and no authentication time (never "recent"). UNAUTHENTICATED for an unknown, revoked or expired key or an
   * inactive owner.
   */
  async authenticate(em: EntityManager, secret: string): Promise<Principal> {
    const found = await this.find(em, secret);
    if (found === null) throw new UnauthenticatedError('The API key is not valid');
    return found;
  }

  /** Like authenticate, null instead of the error (introspection). */
  async find(em: EntityManager, secret: string): Promise<(Principal & { apiKeyId: string }) | null> {
    if (!API_KEY_PATTERN.test(secret)) return null;
    const [row] = await em.getConnection().execute<KeyRow[]>(KEY_WITH_OWNER, [sha256(secret)]);
    const now = this.clock.now();
    if (row === undefined || !row.active) return null;
    if (row.expiresAt !== null && new Date(row.expiresAt) <= now) return null;
    if (row.lastUsedAt === null || now.getTime() - new Date(row.lastUsedAt).getTime() >= LAST_USED_PRECISION_MS) {
      await em
        .getConnection()
        .execute('update api_keys set last_used_at = ? where id = ? and (last_used_at is null or last_used_at < ?)', [
          now,
          row.keyId,
          new Date(now.getTime() - LAST_USED_PRECISION_MS),
        ]);
    }
    const user = toPrincipalUser(row);
    const granted = scopesOf(user.roles);
    const scopes = row.keyScopes.filter((s) => granted.includes(s));
    const iat = epochSeconds(new Date(row.keyCreatedAt));
    return {
      user,
      sessionId: NO_SESSION,
      apiKeyId: row.keyId,
      scopes,
      claims: {
        sub: user.id,
        sid: NO_SESSION,
        jti: row.keyId,
        scope: scopes.join(' '),
        roles: [...user.roles],
        iat,
        exp: row.expiresAt === null ? Number.MAX_SAFE_INTEGER : epochSeconds(new Date(row.expiresAt)),
        acr: 'aal1',
        amr: [],
        authTime: 0,
      },
    };
  }
}
