// Password sign-in lockout per account: after 10 wrong passwords for one email within 15 minutes (from any
// IP; login and changePassword alike), password sign-in and changePassword wait 30 s, doubling with each further
// failure up to 15 minutes. Counted from the audit trail's typed failure reasons, so every instance sees the
// same count. It never blocks code sign-in or password reset; a successful sign-in or an admin's unlockUser
// starts the count afresh. Unknown emails are treated alike.
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Clock } from '../../common/clock';
import { RateLimitedError } from '../../common/errors';
import type { AuditService } from '../audit/audit.service';

export const LOCKOUT_THRESHOLD = 10;
export const LOCKOUT_WINDOW_MS = 15 * 60_000;
export const LOCKOUT_FIRST_DELAY_MS = 30_000;
export const LOCKOUT_MAX_DELAY_MS = 15 * 60_000;

export class LockoutService {
  constructor(
    private readonly clock: Clock,
    private readonly audit: AuditService,
  ) {}

  /** Throws RATE_LIMITED while password sign-in for `email` is locked. */
  async check(em: EntityManager, email: string): Promise<void> {
    const now = this.clock.now().getTime();
    const guesses = await this.audit.recentGuesses(em, email, new Date(now - LOCKOUT_WINDOW_MS));
    if (guesses.count < LOCKOUT_THRESHOLD || guesses.newest === null) return;
    const delay = Math.min(LOCKOUT_MAX_DELAY_MS, LOCKOUT_FIRST_DELAY_MS * 2 ** (guesses.count - LOCKOUT_THRESHOLD));
    const until = guesses.newest + delay;
    if (now < until) throw new RateLimitedError((until - now) / 1000);
  }
}
