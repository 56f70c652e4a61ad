// One-time codes: issued with a resend interval, stored as a keyed hash, consumed once. A code belongs to
// the network that asked for it (common/ip.ts): a guess is compared only with its own network's live code,
// so strangers' guesses never use up the owner's code. Budgets: 3 wrong tries per code, a per-(email,
// network) hourly failure budget, and for networks the account has not signed in from (known-networks.ts)
// one shared pool per email: UNKNOWN_POOL_GUESSES wrong guesses and UNKNOWN_POOL_SENDS codes per 24 h.
// Every check runs under a per-email advisory lock, so concurrent requests see each other's effects.
import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { KeyObject } from 'node:crypto';
import { addSeconds, type Clock } from '../../common/clock';
import { hmac, randomDigits, safeEqual } from '../../common/crypto';
import { BadUserInputError, InvalidOtpError, RateLimitedError } from '../../common/errors';
import { failure, success, type Outcome } from '../../common/outcome';
import { isKnownNetwork } from './known-networks';
import { OtpCode } from './otp-code.entity';
import { OtpFailure } from './otp-failure.entity';
import { OtpPurpose } from './otp-purpose';

export const OTP_LENGTH = 6;
const HOUR_MS = 3600_000;
const DAY_MS = 24 * HOUR_MS;
/** Wrong guesses at live codes per email per 24 h, from every unknown network together: 100 / 10^6 = 1 in 10,000. */
export const UNKNOWN_POOL_GUESSES = 100;
/** Codes per email per 24 h sent to unknown networks together: bounds the mail a stranger can send the owner. */
export const UNKNOWN_POOL_SENDS = 40;

export interface OtpSettings {
  readonly key: KeyObject;
  readonly ttl: number;
  readonly maxAttempts: number;
  readonly resendInterval: number;
  readonly maxFailuresPerHour: number;
}

/** Whom a code is sent to: the account, and (VERIFY_EMAIL) the password the code will set when it verifies it. */
export interface CodeRecipient {
  readonly userId: string;
  readonly passwordHash?: string | null;
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
   * Inside the caller's transaction, under a lock on the email: refuses within the resend interval of this
   * network's last code, and for an unknown network once the email's daily send pool is spent; then asks
   * `recipient` for the account to send to (it may create or change one; null means nothing will be sent),
   * retires this network's older codes and stores a new one. The plain code is returned for the email only.
   */
  async issue(
    tx: EntityManager,
    email: string,
    purpose: OtpPurpose,
    network: string,
    recipient: () => Promise<CodeRecipient | null>,
  ): Promise<IssuedCode> {
    await lock(tx, `otp:${email}`);
    const now = this.clock.now();
    const latest = await tx.findOne(OtpCode, { email, purpose, network }, { orderBy: { createdAt: 'desc' } });
    if (latest !== null) {
      const waitMs = latest.createdAt.getTime() + this.settings.resendInterval * 1000 - now.getTime();
      if (waitMs > 0) throw new RateLimitedError(waitMs / 1000);
    }
    const { known, waitMs: poolWait } = await strangersPool(
      tx,
      email,
      network,
      now,
      UNKNOWN_POOL_SENDS,
      async (since) => {
        const sent = await tx.find(
          OtpCode,
          { email, pooled: true, createdAt: { $gt: since } },
          { orderBy: { createdAt: 'asc' }, fields: ['createdAt'] },
        );
        return sent.map((c) => c.createdAt);
      },
    );
    if (poolWait > 0) throw new RateLimitedError(poolWait / 1000);
    const to = await recipient();
    await tx.nativeUpdate(OtpCode, { email, purpose, network, consumedAt: null }, { consumedAt: now });
    const code = randomDigits(OTP_LENGTH);
    tx.create(OtpCode, {
      email,
      purpose,
      network,
      userId: to?.userId ?? null,
      codeHash: this.hash(email, purpose, code),
      passwordHash: purpose === OtpPurpose.VERIFY_EMAIL ? (to?.passwordHash ?? null) : null,
      pooled: !known,
      createdAt: now,
      expiresAt: addSeconds(now, this.settings.ttl),
    });
    return { code, userId: to?.userId ?? null, expiresIn: this.settings.ttl, retryAfter: this.settings.resendInterval };
  }

  /** Whether a live VERIFY_EMAIL code of `email` (from any network) carries a registration's pending password. */
  async hasPendingPassword(tx: EntityManager, email: string): Promise<boolean> {
    const live = await tx.count(OtpCode, {
      email,
      purpose: OtpPurpose.VERIFY_EMAIL,
      consumedAt: null,
      passwordHash: { $ne: null },
      expiresAt: { $gt: this.clock.now() },
      attempts: { $lt: this.settings.maxAttempts },
    });
    return live > 0;
  }

  /** The password carried by this network's newest live VERIFY_EMAIL code (a resend continues its registration). */
  async pendingPasswordOf(tx: EntityManager, email: string, network: string): Promise<string | null> {
    const now = this.clock.now();
    const newest = await tx.findOne(
      OtpCode,
      { email, purpose: OtpPurpose.VERIFY_EMAIL, network, consumedAt: null },
      { orderBy: { createdAt: 'desc' } },
    );
    const live =
      newest !== null && newest.expiresAt.getTime() > now.getTime() && newest.attempts < this.settings.maxAttempts;
    return live ? newest.passwordHash : null;
  }

  /**
   * Inside the caller's transaction: checks `code` against the live code of `network` only and marks it used.
   * A wrong code is recorded (and must be committed), so this returns the error instead of throwing it.
   */
  async consume(
    tx: EntityManager,
    email: string,
    purpose: OtpPurpose,
    network: string,
    code: string,
  ): Promise<Outcome<OtpCode>> {
    if (!new RegExp(`^\\d{${OTP_LENGTH}}$`).test(code)) {
      return failure(new BadUserInputError('code', [`must be ${OTP_LENGTH} digits`]));
    }
    await lock(tx, `otp-verify:${email}`);
    const now = this.clock.now();
    const failures = await tx.find(
      OtpFailure,
      { email, network, failedAt: { $gt: new Date(now.getTime() - HOUR_MS) } },
      { orderBy: { failedAt: 'asc' }, fields: ['failedAt'] },
    );
    const budgetWaitMs = poolWaitMs(
      failures.map((f) => f.failedAt),
      this.settings.maxFailuresPerHour,
      now,
      HOUR_MS,
    );
    if (budgetWaitMs > 0) return failure(new RateLimitedError(budgetWaitMs / 1000));
    const { known, waitMs: poolWait } = await strangersPool(
      tx,
      email,
      network,
      now,
      UNKNOWN_POOL_GUESSES,
      async (since) => {
        const spent = await tx.find(
          OtpFailure,
          { email, pooled: true, failedAt: { $gt: since } },
          { orderBy: { failedAt: 'asc' }, fields: ['failedAt'] },
        );
        return spent.map((f) => f.failedAt);
      },
    );
    if (poolWait > 0) return failure(new RateLimitedError(poolWait / 1000));
    const active = await tx.findOne(
      OtpCode,
      { email, purpose, network, consumedAt: null },
      { orderBy: { createdAt: 'desc' }, lockMode: LockMode.PESSIMISTIC_WRITE },
    );
    const usable =
      active !== null && active.expiresAt.getTime() > now.getTime() && active.attempts < this.settings.maxAttempts;
    if (usable && safeEqual(active.codeHash, this.hash(email, purpose, code))) {
      active.consumedAt = now;
      return success(active);
    }
    if (usable) active.attempts += 1;
    // Only a guess at a live code can succeed, so only such guesses spend the strangers' pool.
    tx.create(OtpFailure, { email, network, pooled: usable && !known, failedAt: now });
    return failure(new InvalidOtpError());
  }

  /** Retires every live code of `email` for `purpose`, from every network (once the account is verified). */
  async retireAll(tx: EntityManager, email: string, purpose: OtpPurpose): Promise<void> {
    await tx.nativeUpdate(OtpCode, { email, purpose, consumedAt: null }, { consumedAt: this.clock.now() });
  }

  private hash(email: string, purpose: OtpPurpose, code: string): string {
    return hmac(this.settings.key, `${purpose}:${email}:${code}`);
  }
}

/** For an admin's unlock: forgets every wrong code of `email` and empties its strangers' send pool. */
export async function clearCodeCounters(em: EntityManager, email: string): Promise<void> {
  await em.nativeDelete(OtpFailure, { email });
  await em.nativeUpdate(OtpCode, { email, pooled: true }, { pooled: false });
}

/** How long until fewer than `max` of `times` (ascending, inside the window) remain; 0 when already fewer. */
function poolWaitMs(times: readonly Date[], max: number, now: Date, windowMs = DAY_MS): number {
  if (times.length < max) return 0;
  return times[times.length - max]!.getTime() + windowMs - now.getTime();
}

/**
 * Whether `network` is one the account of `email` signed in from, and if not, how long until the strangers' pool
 * (`max` uses in 24 h, shared by every unknown network; `pooledSince` lists them, oldest first) has room again (0: now).
 */
async function strangersPool(
  tx: EntityManager,
  email: string,
  network: string,
  now: Date,
  max: number,
  pooledSince: (since: Date) => Promise<Date[]>,
): Promise<{ known: boolean; waitMs: number }> {
  if (await isKnownNetwork(tx, email, network, now)) return { known: true, waitMs: 0 };
  return { known: false, waitMs: poolWaitMs(await pooledSince(new Date(now.getTime() - DAY_MS)), max, now) };
}

/** A transaction-scoped advisory lock on a string key. */
async function lock(tx: EntityManager, key: string): Promise<void> {
  await tx.execute('select pg_advisory_xact_lock(hashtext(?))', [key]);
}
