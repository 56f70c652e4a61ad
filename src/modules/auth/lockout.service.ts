// Password sign-in lockout per account: after 10 wrong passwords for one email within 15 minutes (from any
// IP; login and changePassword alike), password sign-in and changePassword wait 30 s, doubling with each further
// failure up to 15 minutes. Counted from the audit trail, so every instance sees the same count. It never blocks
// code sign-in or password reset;
// a successful sign-in or an admin's unlockUser starts the count afresh. Unknown emails are treated alike.
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Clock } from '../../common/clock';
import { RateLimitedError } from '../../common/errors';
import { AuditEvent, AuditType } from '../audit/audit-event.entity';

export const LOCKOUT_THRESHOLD = 10;
export const LOCKOUT_WINDOW_MS = 15 * 60_000;
export const LOCKOUT_FIRST_DELAY_MS = 30_000;
export const LOCKOUT_MAX_DELAY_MS = 15 * 60_000;

/** The LOGIN_FAILED detail of a wrong current password given to changePassword. */
export const WRONG_CURRENT_PASSWORD = 'wrong current password';

/**
 * LOGIN_FAILED details that are guesses (not right passwords refused for another reason). An unverified account
 * answers like an unknown email, so it counts alike; so do changePassword's wrong current passwords.
 */
export const GUESS_FAILURES = ['wrong password', 'unknown email', 'email not verified', WRONG_CURRENT_PASSWORD];

export class LockoutService {
  constructor(private readonly clock: Clock) {}

  /** Throws RATE_LIMITED while password sign-in for `email` is locked. */
  async check(em: EntityManager, email: string): Promise<void> {
    const now = this.clock.now().getTime();
    const events = await em.find(
      AuditEvent,
      {
        email,
        createdAt: { $gt: new Date(now - LOCKOUT_WINDOW_MS) },
        type: { $in: [AuditType.LOGIN_FAILED, AuditType.LOGIN_SUCCEEDED, AuditType.ACCOUNT_UNLOCKED] },
      },
      { orderBy: [{ createdAt: 'desc' }, { id: 'desc' }], limit: 200, fields: ['type', 'detail', 'createdAt'] },
    );
    let failures = 0;
    let newest: number | null = null;
    for (const e of events) {
      if (e.type !== AuditType.LOGIN_FAILED) break; // a success or an unlock resets the count
      if (!GUESS_FAILURES.includes(e.detail ?? '')) continue;
      failures += 1;
      newest ??= e.createdAt.getTime();
    }
    if (failures < LOCKOUT_THRESHOLD || newest === null) return;
    const delay = Math.min(LOCKOUT_MAX_DELAY_MS, LOCKOUT_FIRST_DELAY_MS * 2 ** (failures - LOCKOUT_THRESHOLD));
    const until = newest + delay;
    if (now < until) throw new RateLimitedError((until - now) / 1000);
  }
}
