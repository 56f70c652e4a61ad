// Changing the account's email: a CHANGE_EMAIL code to the new address (requestEmailChange, after a recent sign-in),
// then confirmEmailChange with it. The code is an ordinary one-time code (otp/) of the new address, kept under the
// account that asked in place of a network (`account:<id>`): its resend interval, attempts and hourly budget are
// that account's, and no other account asking for the same address can retire it or learn of it. A taken address
// gets the same answer and a code that is stored but never sent, so nobody learns which addresses have accounts and
// no stranger gets mail. Confirming retires every other live code of the account and of its old address: a code
// mailed to the old inbox before the change (a reset, a sign-in) must not open the account after it.
import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Clock } from '../../common/clock';
import { normalizeEmail } from '../../common/email';
import { BadUserInputError, InvalidOtpError, UnauthenticatedError } from '../../common/errors';
import { failure, success, unwrap } from '../../common/outcome';
import type { ClientInfo, Principal } from '../../common/request-context';
import { AuditEventType } from '../audit/audit-event-type';
import type { AuditService } from '../audit/audit.service';
import type { CodeSent } from '../auth/auth.types';
import type { OutboxService } from '../mail/outbox.service';
import { codeEmail, emailChangedEmail } from '../mail/templates';
import { OtpCode } from '../otp/otp-code.entity';
import { OtpPurpose } from '../otp/otp-purpose';
import type { OtpService } from '../otp/otp.service';
import type { SessionService } from '../sessions/session.service';
import { User } from '../users/user.entity';

export interface EmailChangeDeps {
  readonly clock: Clock;
  readonly otp: OtpService;
  readonly outbox: OutboxService;
  readonly audit: AuditService;
  readonly sessions: SessionService;
}

export class EmailChangeService {
  constructor(private readonly deps: EmailChangeDeps) {}

  async request(em: EntityManager, principal: Principal, rawEmail: string, client: ClientInfo): Promise<CodeSent> {
    const newEmail = normalizeEmail(rawEmail, 'newEmail');
    if (newEmail === principal.user.email) {
      throw new BadUserInputError('newEmail', ['is already the email of this account']);
    }
    const sent = await em.transactional(async (tx) => {
      const issued = await this.deps.otp.issue(
        tx,
        newEmail,
        OtpPurpose.CHANGE_EMAIL,
        codeOwner(principal.user.id),
        async () => {
          const taken = (await tx.count(User, { email: newEmail })) > 0;
          return taken ? null : { userId: principal.user.id };
        },
      );
      if (issued.userId !== null) {
        this.deps.outbox.enqueue(tx, newEmail, codeEmail(OtpPurpose.CHANGE_EMAIL, issued.code, issued.expiresIn));
      }
      this.deps.audit.record(tx, client, {
        type: AuditEventType.OTP_REQUESTED,
        actorUserId: principal.user.id,
        subjectUserId: principal.user.id,
        detail: OtpPurpose.CHANGE_EMAIL,
      });
      return issued;
    });
    return { expiresIn: sent.expiresIn, retryAfter: sent.retryAfter };
  }

  /**
   * Spends the newest live CHANGE_EMAIL code of this account and moves the account to its address: verified, the
   * old address told, every other session ended. Provider identities stay linked. Only the account's own sessions
   * can spend its code, so it is not tied to the network that asked (the holder may confirm from their phone).
   */
  async confirm(em: EntityManager, principal: Principal, code: string, client: ClientInfo): Promise<User> {
    const userId = principal.user.id;
    const outcome = await em.transactional(async (tx) => {
      const pending = await tx.findOne(
        OtpCode,
        {
          userId,
          purpose: OtpPurpose.CHANGE_EMAIL,
          consumedAt: null,
          expiresAt: { $gt: this.deps.clock.now() },
        },
        { orderBy: { createdAt: 'desc' }, fields: ['email', 'network'] },
      );
      if (pending === null) {
        if (!/^\d{6}$/.test(code)) return failure(new BadUserInputError('code', ['must be 6 digits']));
        return failure(new InvalidOtpError());
      }
      const newEmail = pending.email;
      const consumed = await this.deps.otp.consume(tx, newEmail, OtpPurpose.CHANGE_EMAIL, pending.network, code);
      if (!consumed.ok || consumed.value.userId !== userId) {
        if (consumed.ok || !(consumed.error instanceof BadUserInputError)) {
          this.deps.audit.record(tx, client, {
            type: AuditEventType.OTP_REJECTED,
            actorUserId: userId,
            subjectUserId: userId,
            detail: OtpPurpose.CHANGE_EMAIL,
          });
        }
        return consumed.ok ? failure(new InvalidOtpError()) : consumed;
      }
      const user = await tx.findOne(User, userId, { lockMode: LockMode.PESSIMISTIC_WRITE });
      if (user === null) throw new UnauthenticatedError();
      if ((await tx.count(User, { email: newEmail, id: { $ne: userId } })) > 0) {
        return failure(new BadUserInputError('newEmail', ['this address now belongs to another account']));
      }
      const old = { email: user.email, emailVerified: user.emailVerified };
      user.email = newEmail;
      user.emailVerified = true;
      user.updatedAt = this.deps.clock.now();
      await tx.nativeUpdate(
        OtpCode,
        { $or: [{ userId }, { email: old.email }], consumedAt: null },
        { consumedAt: this.deps.clock.now() },
      );
      await this.deps.sessions.endAllOfUser(tx, userId, 'email_changed', principal.sessionId || undefined);
      this.deps.outbox.notify(tx, old, emailChangedEmail(newEmail));
      this.deps.audit.record(tx, client, {
        type: AuditEventType.EMAIL_CHANGED,
        actorUserId: userId,
        subjectUserId: userId,
        email: newEmail,
      });
      return success(user);
    });
    return unwrap(outcome);
  }
}

/** Where a CHANGE_EMAIL code is kept in place of a network (otp/): with the account that asked for it. */
function codeOwner(userId: string): string {
  return `account:${userId}`;
}
