// Administration of accounts: listing, roles, activation, and the first admin from the command line.
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Clock } from '../../common/clock';
import { BadUserInputError } from '../../common/errors';
import type { Page } from '../../common/pagination';
import { keysetPage } from '../../database/keyset-page';
import { Role } from '../../common/roles';
import { AuditEventType } from '../audit/audit-event-type';
import type { AuditService } from '../audit/audit.service';
import { clearCodeCounters } from '../otp/otp.service';
import type { PasswordService } from '../passwords/password.service';
import type { SessionService } from '../sessions/session.service';
import { User } from '../users/user.entity';
import type { ClientInfo } from '../../common/request-context';
import { UUID, checkSearchText } from '../../common/validation';
import { assertAnotherActiveAdmin, lockAdmins } from './last-admin';

export interface UserFilterInput {
  readonly email?: string | null;
  readonly role?: Role | null;
  readonly active?: boolean | null;
}

export interface Actor {
  readonly userId: string | null;
  readonly client: ClientInfo | null;
}

/** Told after an admin's unlock, to clear counters kept outside the database (the request limits' email keys). */
export type UnlockHook = (email: string) => Promise<void>;

export class UserAdminService {
  constructor(
    private readonly clock: Clock,
    private readonly sessions: SessionService,
    private readonly audit: AuditService,
    private readonly passwords: PasswordService,
    private readonly onUnlock: UnlockHook = async () => {},
  ) {}

  /** Oldest first, by (createdAt, id); `first` is capped at 100. */
  async list(
    em: EntityManager,
    filter: UserFilterInput,
    first: number,
    after: string | null | undefined,
  ): Promise<Page<User>> {
    const where: Record<string, unknown> = {};
    if (filter.email) {
      const needle = checkSearchText(filter.email.trim().toLowerCase(), 'filter.email');
      where.email = { $ilike: `%${needle.replace(/[\\%_]/g, (c) => `\\${c}`)}%` };
    }
    if (filter.role) where.roles = { $contains: [filter.role] };
    if (filter.active !== null && filter.active !== undefined) where.active = filter.active;
    return keysetPage(em, User, where, { first, after, idPattern: UUID, newestFirst: false });
  }

  get(em: EntityManager, id: string): Promise<User | null> {
    return em.findOne(User, { id });
  }

  /**
   * Replaces a user's roles. A user keeps at least one role and the last active ADMIN keeps ADMIN.
   * Access tokens issued with the old roles stop working at once (the authenticator compares a token's
   * roles with the user's); refreshing issues one with the new roles.
   */
  async setRoles(em: EntityManager, actor: Actor, userId: string, roles: Role[]): Promise<User> {
    const wanted = [...new Set(roles)].sort();
    if (wanted.length === 0) throw new BadUserInputError('roles', ['a user keeps at least one role']);
    const changed = await em.transactional(async (tx) => {
      await lockAdmins(tx);
      const user = await this.mustFind(tx, userId);
      if (user.roles.includes(Role.ADMIN) && !wanted.includes(Role.ADMIN) && user.active) {
        await assertAnotherActiveAdmin(tx, user.id, 'roles', 'the last active ADMIN cannot lose ADMIN');
      }
      const before = [...user.roles].sort().join(',');
      user.roles = wanted;
      user.updatedAt = this.clock.now();
      this.audit.record(tx, actor.client, {
        type: AuditEventType.ROLES_CHANGED,
        actorUserId: actor.userId,
        subjectUserId: user.id,
        detail: `${before} -> ${wanted.join(',')}`,
      });
      this.sessions.userChanged(tx, user.id);
      return user;
    });
    return changed;
  }

  /** Deactivating ends every session of the user; the last active ADMIN cannot be deactivated. */
  async setActive(em: EntityManager, actor: Actor, userId: string, active: boolean): Promise<User> {
    return em.transactional(async (tx) => {
      await lockAdmins(tx);
      const user = await this.mustFind(tx, userId);
      if (!active && user.active && user.roles.includes(Role.ADMIN)) {
        await assertAnotherActiveAdmin(tx, user.id, 'active', 'the last active ADMIN cannot be deactivated');
      }
      if (user.active !== active) {
        user.active = active;
        user.updatedAt = this.clock.now();
        this.audit.record(tx, actor.client, {
          type: AuditEventType.ACTIVATION_CHANGED,
          actorUserId: actor.userId,
          subjectUserId: user.id,
          detail: active ? 'activated' : 'deactivated',
        });
      }
      if (!active) await this.sessions.endAllOfUser(tx, user.id, 'deactivated');
      return user;
    });
  }

  /**
   * Clears every counter of the account: the password lockout (lockout.service.ts counts failures since the last
   * unlock), the wrong-code budgets and strangers' pools (otp.service.ts), and through `onUnlock` the request limits.
   */
  async unlock(em: EntityManager, actor: Actor, userId: string): Promise<User> {
    const user = await em.transactional(async (tx) => {
      const found = await this.mustFind(tx, userId);
      this.audit.record(tx, actor.client, {
        type: AuditEventType.ACCOUNT_UNLOCKED,
        actorUserId: actor.userId,
        subjectUserId: found.id,
        email: found.email,
      });
      await clearCodeCounters(tx, found.email);
      return found;
    });
    await this.onUnlock(user.email);
    return user;
  }

  /**
   * For `npm run admin:create`: promotes the account of `email` to ADMIN (verified, active), or creates a
   * verified ADMIN with `password`. Returns whether it created the account.
   */
  async createOrPromoteAdmin(
    em: EntityManager,
    email: string,
    password: () => Promise<string>,
  ): Promise<{ user: User; created: boolean }> {
    const existing = await em.findOne(User, { email });
    const now = this.clock.now();
    if (existing) {
      const before = [...existing.roles].sort().join(',');
      existing.roles = [...new Set([...existing.roles, Role.ADMIN])].sort();
      existing.emailVerified = true;
      existing.active = true;
      existing.updatedAt = now;
      this.audit.record(em, null, {
        type: AuditEventType.ROLES_CHANGED,
        subjectUserId: existing.id,
        detail: `${before} -> ${existing.roles.join(',')} (command line)`,
      });
      await em.flush();
      return { user: existing, created: false };
    }
    const passwordHash = await this.passwords.hash(await password());
    const user = em.create(User, {
      email,
      passwordHash,
      fullName: null,
      emailVerified: true,
      active: true,
      roles: [Role.ADMIN],
      createdAt: now,
      updatedAt: now,
    });
    this.audit.record(em, null, {
      type: AuditEventType.ROLES_CHANGED,
      subjectUserId: user.id,
      detail: '-> ADMIN (command line)',
      accountCreated: true,
    });
    await em.flush();
    return { user, created: true };
  }

  private async mustFind(em: EntityManager, userId: string): Promise<User> {
    const user = await em.findOne(User, { id: userId });
    if (user === null) throw new BadUserInputError('userId', ['no user has this id']);
    return user;
  }
}
