// Deleting an account, by its owner (deleteAccount) or an admin (deleteUser): in one transaction the users row
// goes, and with it (foreign keys, on delete cascade) its sessions and retired refresh tokens, identities, MFA
// factors, recovery codes, tickets, passkey ceremonies, API keys and known networks and devices; the rest tied to it
// by id or address is deleted here (one-time codes and their failures, provider sign-in flows, unsent mail). The audit
// trail keeps its events with the account anonymised (no address, IP or user agent; the id alone names nobody once
// the account is gone). Other instances hear of it through the users table's NOTIFY trigger and drop what they cached,
// so the account's tokens and API keys stop working everywhere at once. The address gets a notice and may sign up again.
import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { BadUserInputError } from '../../common/errors';
import type { ClientInfo } from '../../common/request-context';
import { Role } from '../../common/roles';
import { assertAnotherActiveAdmin, lockAdmins } from '../admin/last-admin';
import { AuditEventType } from '../audit/audit-event-type';
import type { AuditService } from '../audit/audit.service';
import type { OutboxService } from '../mail/outbox.service';
import { accountDeletedEmail } from '../mail/templates';
import type { SessionService } from '../sessions/session.service';
import { User } from '../users/user.entity';

/** Who deletes: the owner themselves, or an admin (their user id). */
export interface Deleter {
  readonly userId: string;
  readonly client: ClientInfo;
}

// What the users row's foreign keys do not remove: rows tied to the account by id without a key, or by address.
function forget(id: string, email: string): Array<[sql: string, params: unknown[]]> {
  return [
    ['delete from otp_codes where user_id = ? or email = ?', [id, email]],
    ['delete from otp_failures where email = ?', [email]],
    ['delete from oauth_flows where link_user_id = ? or result_user_id = ?', [id, id]],
    ['delete from mail_outbox where recipient = ? and sent_at is null', [email]],
    // Webhooks already delivered (or given up) about the account; pending ones still go out, then age away.
    [
      `delete from webhook_deliveries where (delivered_at is not null or dead_at is not null)
        and payload::jsonb -> 'data' ->> 'userId' = ?`,
      [id],
    ],
    // Anonymised, not deleted: events about or by the account, and those naming its address (failed sign-ins).
    [
      `update audit_events set email = null, ip = null, user_agent = null
        where subject_user_id = ? or actor_user_id = ? or email = ?`,
      [id, id, email],
    ],
  ];
}

export class AccountDeletionService {
  constructor(
    private readonly sessions: SessionService,
    private readonly audit: AuditService,
    private readonly outbox: OutboxService,
  ) {}

  /** Deletes `userId`'s account; `field` names the argument a refusal points at. */
  async delete(em: EntityManager, deleter: Deleter, userId: string, field: string): Promise<void> {
    await em.transactional(async (tx) => {
      await lockAdmins(tx);
      const user = await tx.findOne(User, userId, { lockMode: LockMode.PESSIMISTIC_WRITE });
      if (user === null) throw new BadUserInputError(field, ['no user has this id']);
      if (user.active && user.roles.includes(Role.ADMIN)) {
        await assertAnotherActiveAdmin(tx, user.id, field, 'the last active ADMIN cannot be deleted');
      }
      const { id, email } = user;
      // Ends the sessions first, so this instance's cache forgets them once the deletion commits.
      await this.sessions.endAllOfUser(tx, id, 'account_deleted');
      for (const [sql, params] of forget(id, email)) await tx.execute(sql, params);
      await tx.nativeDelete(User, { id });
      this.audit.record(tx, deleter.userId === id ? null : deleter.client, {
        type: AuditEventType.ACCOUNT_DELETED,
        actorUserId: deleter.userId,
        subjectUserId: id,
        detail: deleter.userId === id ? 'by the account holder' : 'by an admin',
      });
      this.outbox.notify(tx, user, accountDeletedEmail());
    });
  }
}
