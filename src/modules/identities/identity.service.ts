// Linked identities: which account a provider's (issuer, subject) signs in to, the linking rules by email and
// email_verified (docs/contract.md, "Sign in with Google / OpenID Connect"), listing and unlinking.
import { LockMode, UniqueConstraintViolationException, type EntityManager } from '@mikro-orm/postgresql';
import type { Clock } from '../../common/clock';
import { AccountDisabledError, BadUserInputError, IdentityConflictError } from '../../common/errors';
import type { ClientInfo } from '../../common/request-context';
import { Role } from '../../common/roles';
import { AuditEventType } from '../audit/audit-event-type';
import type { AuditService } from '../audit/audit.service';
import type { OutboxService } from '../mail/outbox.service';
import { identityLinkedEmail, identityUnlinkedEmail } from '../mail/templates';
import type { OtpService } from '../otp/otp.service';
import type { SessionService } from '../sessions/session.service';
import { OtpPurpose } from '../otp/otp-purpose';
import { User } from '../users/user.entity';
import { normalizeFullName } from '../users/user-input';
import { CONTROL } from '../../common/validation';
import type { IdentityProviderConfig } from '../../config/identity-providers';
import { Identity } from './identity.entity';
import type { ProviderProfile } from './oidc-clients';

export interface Linked {
  readonly user: User;
  readonly identity: Identity;
}

export class IdentityService {
  constructor(
    private readonly clock: Clock,
    private readonly otp: OtpService,
    private readonly audit: AuditService,
    private readonly outbox: OutboxService,
    private readonly sessions: SessionService,
    private readonly providers: readonly IdentityProviderConfig[],
  ) {}

  /**
   * The account a provider sign-in lands on: the one already linked to (issuer, subject), else by the provider's
   * email — a new account, or an existing one linked when the provider verified the email (an unverified local
   * account then loses its pending registration), else IDENTITY_CONFLICT. Races retry once (unique indexes).
   */
  signIn(em: EntityManager, provider: IdentityProviderConfig, profile: ProviderProfile, client: ClientInfo) {
    return this.retryOnce(em, (tx) => this.resolveSignIn(tx, provider, profile, client));
  }

  /** Links (issuer, subject) to the signed-in `userId`; IDENTITY_CONFLICT when another account has it. */
  link(
    em: EntityManager,
    provider: IdentityProviderConfig,
    profile: ProviderProfile,
    userId: string,
    client: ClientInfo,
  ): Promise<Linked> {
    return this.retryOnce(em, async (tx) => {
      const existing = await this.find(tx, profile);
      if (existing !== null) {
        if (existing.user.id !== userId) throw new IdentityConflictError();
        this.touch(existing, profile);
        return { user: existing.user, identity: existing };
      }
      const user = await tx.findOneOrFail(User, userId);
      if (!user.active) throw new AccountDisabledError();
      return { user, identity: this.attach(tx, user, provider, profile, client) };
    });
  }

  list(em: EntityManager, userId: string): Promise<Identity[]> {
    return em.find(Identity, { user: userId }, { orderBy: { createdAt: 'asc', id: 'asc' } });
  }

  async hasPassword(em: EntityManager, userId: string): Promise<boolean> {
    const user = await em.findOne(User, userId, { fields: ['passwordHash'] });
    return user?.passwordHash != null;
  }

  /**
   * Removes one of the user's identities unless it is the account's last way in: a password or another identity
   * must remain (emailed codes are a way to recover, not counted). The account row is locked, so two unlinks at
   * once cannot each leave the other's identity as the last one and then remove it.
   */
  async unlink(em: EntityManager, userId: string, identityId: string, client: ClientInfo): Promise<boolean> {
    return em.transactional(async (tx) => {
      const user = await tx.findOneOrFail(User, userId, { lockMode: LockMode.PESSIMISTIC_WRITE });
      const identities = await tx.find(Identity, { user: userId });
      const identity = identities.find((i) => i.id === identityId);
      if (identity === undefined) throw new BadUserInputError('id', ['no identity with this id is linked to you']);
      if (user.passwordHash === null && identities.length === 1) {
        throw new BadUserInputError('id', [
          'this is the only way to sign in to the account: set a password (resetPassword) or link another provider first',
        ]);
      }
      tx.remove(identity);
      this.audit.record(tx, client, {
        type: AuditEventType.IDENTITY_UNLINKED,
        actorUserId: userId,
        subjectUserId: userId,
        detail: identity.provider,
      });
      const name = this.providers.find((p) => p.id === identity.provider)?.displayName ?? identity.provider;
      this.outbox.notify(tx, user, identityUnlinkedEmail(name));
      return true;
    });
  }

  /**
   * An unverified account's address was proven by a code (AuthService): its identities were linked while the
   * address was unproven, so by providers that did not vouch for it; they go (the contract's IDENTITY_CONFLICT rule,
   * whichever came first). Their owner can link them again from a signed-in session.
   */
  async dropUnproven(tx: EntityManager, userId: string): Promise<void> {
    const identities = await tx.find(Identity, { user: userId });
    for (const identity of identities) {
      tx.remove(identity);
      this.audit.record(tx, null, {
        type: AuditEventType.IDENTITY_UNLINKED,
        subjectUserId: userId,
        detail: `${identity.provider}: linked before the address was proven`,
      });
    }
  }

  private async resolveSignIn(
    tx: EntityManager,
    provider: IdentityProviderConfig,
    profile: ProviderProfile,
    client: ClientInfo,
  ): Promise<Linked> {
    const existing = await this.find(tx, profile);
    if (existing !== null) {
      this.touch(existing, profile); // by (issuer, subject): the provider's email may have changed since
      return { user: existing.user, identity: existing };
    }
    if (profile.email === null) {
      throw new BadUserInputError('provider', ['the provider shared no email address (the email scope is needed)']);
    }
    const now = this.clock.now();
    let user = await tx.findOne(User, { email: profile.email });
    if (user === null) {
      user = tx.create(User, {
        email: profile.email,
        passwordHash: null,
        fullName: nameFromProvider(profile.name),
        emailVerified: profile.emailVerified,
        active: true,
        roles: [Role.USER],
        createdAt: now,
        updatedAt: now,
      });
      this.audit.record(tx, client, {
        type: AuditEventType.REGISTER,
        subjectUserId: user.id,
        email: profile.email,
        detail: `created by ${provider.id}`,
        accountCreated: true,
      });
    } else if (!profile.emailVerified) {
      throw new IdentityConflictError();
    } else if (!user.emailVerified) {
      // The pre-registration takeover: whoever claimed this address first never proved it; the provider did. Their
      // pending password (kept on the VERIFY_EMAIL codes) goes with those codes, and any identity and session they
      // got through a provider that did not vouch for the address goes too.
      await this.otp.retireAll(tx, profile.email, OtpPurpose.VERIFY_EMAIL);
      await this.dropUnproven(tx, user.id);
      await this.sessions.endAllOfUser(tx, user.id, 'email_proven');
      user.passwordHash = null;
      user.emailVerified = true;
      user.updatedAt = now;
    }
    return { user, identity: this.attach(tx, user, provider, profile, client) };
  }

  private find(tx: EntityManager, profile: ProviderProfile): Promise<Identity | null> {
    return tx.findOne(Identity, { issuer: profile.issuer, subject: profile.subject }, { populate: ['user'] });
  }

  private touch(identity: Identity, profile: ProviderProfile): void {
    identity.email = profile.email;
    identity.lastUsedAt = this.clock.now();
  }

  private attach(
    tx: EntityManager,
    user: User,
    provider: IdentityProviderConfig,
    profile: ProviderProfile,
    client: ClientInfo,
  ): Identity {
    const now = this.clock.now();
    const identity = tx.create(Identity, {
      user,
      provider: provider.id,
      issuer: profile.issuer,
      subject: profile.subject,
      email: profile.email,
      createdAt: now,
      lastUsedAt: now,
    });
    this.audit.record(tx, client, {
      type: AuditEventType.IDENTITY_LINKED,
      actorUserId: user.id,
      subjectUserId: user.id,
      email: user.email,
      detail: provider.id,
    });
    // Not to an address nobody proved (a new account from a provider that does not vouch for it): that would let
    // anyone with a provider account make Portcullis mail any address.
    this.outbox.notify(tx, user, identityLinkedEmail(provider.displayName));
    return identity;
  }

  /** Runs `work` in a transaction, once more if a concurrent one took the same identity or email first. */
  private async retryOnce<T>(em: EntityManager, work: (tx: EntityManager) => Promise<T>): Promise<T> {
    try {
      return await em.transactional(work);
    } catch (err) {
      if (!(err instanceof UniqueConstraintViolationException)) throw err;
      return em.fork().transactional(work);
    }
  }
}

/** The provider's display name as a full name: control characters dropped, at most 100 characters. */
function nameFromProvider(name: string | null): string | null {
  if (name === null) return null;
  return normalizeFullName([...name.replace(new RegExp(CONTROL.source, 'gu'), '')].slice(0, 100).join(''));
}
