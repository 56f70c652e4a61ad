// One-time codes: issued with a resend interval, stored as a keyed hash, consumed once, with per-code
// attempt limits and a per-email hourly failure budget. Every check runs under a per-email advisory lock,
// so concurrent submissions of the same code see each other's effects.
import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { KeyObject } from 'node:crypto';
import { addSeconds, type Clock } from '../../common/clock';
import { hmac, randomDigits, safeEqual } from '../../common/crypto';
import { BadUserInputError, InvalidOtpError, RateLimitedError } from '../../common/errors';
import { failure, success, type Outcome } from '../../common/outcome';
import { OtpCode } from './otp-code.entity';
import { OtpFailure } from './otp-failure.entity';
import type { OtpPurpose } from './otp-purpose';

export const OTP_LENGTH = 6;
const HOUR_MS = 3600_000;

export interface OtpSettings {
  readonly key: KeyObject;
  readonly ttl: number;
  readonly maxAttempts: number;
  readonly resendInterval: number;
  readonly maxFailuresPerHour: number;
}

export interface IssuedCode {
  readonly code: string;
  readonly userId: string | null;
  readonly expiresIn: number;
  readonly retryAfter: number;
}

export class OtpService {
  constructor(
    private readonly settings: OtpSettings,
    private readonly clock: Clock,
  ) {}

  /**
   * Inside the caller's transaction, under a lock on the email and purpose: refuses within the resend
   * interval, then asks `recipient` for the account to send to (it may create or change one; null means
   * nothing will be sent), retires older codes and stores a new one. The plain code is returned for the
   * email and not kept.
   */
  async issue(
    tx: EntityManager,
    email: string,
    purpose: OtpPurpose,
    recipient: () => Promise<string | null>,
  ): Promise<IssuedCode> {
    await lock(tx, `otp:${email}:${purpose}`);
    const now = this.clock.now();
    const latest = await tx.findOne(OtpCode, { email, purpose }, { orderBy: { createdAt: 'desc' } });
    if (latest !== null) {
      const waitMs = latest.createdAt.getTime() + this.settings.resendInterval * 1000 - now.getTime();
      if (waitMs > 0) throw new RateLimitedError(waitMs / 1000);
    }
    const userId = await recipient();
    await tx.nativeUpdate(OtpCode, { email, purpose, consumedAt: null }, { consumedAt: now });
    const code = randomDigits(OTP_LENGTH);
    tx.create(OtpCode, {
      email,
      purpose,
      userId,
      codeHash: this.hash(email, purpose, code),
      createdAt: now,
      expiresAt: addSeconds(now, this.settings.ttl),
    });
    return { code, userId, expiresIn: this.settings.ttl, retryAfter: this.settings.resendInterval };
  }

  /**
   * Inside the caller's transaction: checks `code` and marks it used. A wrong code is recorded (and must be
   * committed), so this returns the error instead of throwing it.
   */
  async consume(tx: EntityManager, email: string, purpose: OtpPurpose, code: string): Promise<Outcome<OtpCode>> {
    if (!new RegExp(`^\\d{${OTP_LENGTH}}$`).test(code)) {
      return failure(new BadUserInputError('code', [`must be ${OTP_LENGTH} digits`]));
    }
    await lock(tx, `otp-verify:${email}`);
    const now = this.clock.now();
    const windowStart = new Date(now.getTime() - HOUR_MS);
    const failures = await tx.find(
      OtpFailure,
      { email, failedAt: { $gt: windowStart } },
      { orderBy: { failedAt: 'asc' }, fields: ['failedAt'] },
    );
    if (failures.length >= this.settings.maxFailuresPerHour) {
      const oldest = failures[failures.length - this.settings.maxFailuresPerHour]!;
      return failure(new RateLimitedError((oldest.failedAt.getTime() + HOUR_MS - now.getTime()) / 1000));
    }
    const active = await tx.findOne(
      OtpCode,
      { email, purpose, consumedAt: null },
      { orderBy: { createdAt: 'desc' }, lockMode: LockMode.PESSIMISTIC_WRITE },
    );
    const usable =
      active !== null && active.expiresAt.getTime() > now.getTime() && active.attempts < this.settings.maxAttempts;
    if (usable && safeEqual(active.codeHash, this.hash(email, purpose, code))) {
      active.consumedAt = now;
      return success(active);
    }
    if (usable) active.attempts += 1;
    tx.create(OtpFailure, { email, failedAt: now });
    return failure(new InvalidOtpError());
  }

  private hash(email: string, purpose: OtpPurpose, code: string): string {
    return hmac(this.settings.key, `${purpose}:${email}:${code}`);
  }
}

/** A transaction-scoped advisory lock on a string key. */
async function lock(tx: EntityManager, key: string): Promise<void> {
  await tx.execute('select pg_advisory_xact_lock(hashtext(?))', [key]);
}
