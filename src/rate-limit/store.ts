// Where limit counters live: Redis when REDIS_URL is set (shared by every instance), else memory. Each counter is
// one integer per key and window, counted atomically by a Lua script in Redis (no read-modify-write across
// instances), or in a bounded LRU in memory (memory-counters.ts). If Redis fails or does not answer within the
// command timeout (REDIS_COMMAND_TIMEOUT_MS, 200 ms by default), counting goes on in memory (never no limits) until a
// probe sees it answer again; memory is used only meanwhile. Per-operation counters of an email share the prefix
// `limit:{<email>}:`.
import type { IncrementResponse, Options, Store as IpStore } from 'express-rate-limit';
import Redis from 'ioredis';
import { errorFields, type Logger } from '../common/logger';
import { DEFAULT_REDIS_COMMAND_TIMEOUT_MS } from '../config/limits';
import { MemoryCounters, type Hit, type MemoryCountersOptions } from './memory-counters';

export type { Hit } from './memory-counters';

/** While Redis is failing, how often one PING checks whether it answers again. */
const PROBE_INTERVAL_MS = 1000;
/** How often expired in-memory counters are dropped (they are ignored as soon as they expire either way). */
const SWEEP_INTERVAL_MS = 60_000;

// Counts a hit in one round trip: with ARGV[2] = max > 0 a hit at max is refused and not counted (its window
// does not move); with 0 every hit counts. The window starts with the key's first hit (PEXPIRE once). Loaded
// once per connection by ioredis (EVALSHA, falling back to EVAL), so a Redis restart needs nothing from us.
const HIT_SCRIPT = `local max = tonumber(ARGV[2])
local n = tonumber(redis.call('GET', KEYS[1])) or 0
local counted = 0
if max == 0 or n < max then n = redis.call('INCR', KEYS[1]) counted = 1 end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) ttl = tonumber(ARGV[1]) end
return { counted, n, ttl }`;

/**
 * `command`, or a rejection once `timeoutMs` have passed without its answer. The decision waits for one more turn
 * of the event loop (setImmediate runs after the I/O poll): when this process was busy rather than Redis slow, an
 * answer already in the socket is read first (ioredis's own commandTimeout would give it up). A command given up
 * may still be applied by Redis.
 */
function withinTimeout<T>(command: Promise<T>, timeoutMs: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let done = false;
    const timer = setTimeout(
      () =>
        setImmediate(() => {
          if (done) return;
          done = true;
          reject(new Error(`Redis did not answer within ${timeoutMs} ms`));
        }),
      timeoutMs,
    );
    command.then(
      (value) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}

type LimitRedis = Redis & { limitHit(key: string, windowMs: number, max: number): Promise<[number, number, number]> };

/** The key prefix of every per-operation counter of `email` (already normalised: trimmed, lower-case). */
export function emailKeyPrefix(email: string): string {
  return `limit:{${email}}:`;
}

/** `text` with Redis glob characters escaped, for SCAN MATCH. */
const globEscape = (text: string): string => text.replace(/[*?[\]\\]/g, '\\$&');

export interface LimitStoreOptions {
  readonly memory?: MemoryCountersOptions;
  /** REDIS_COMMAND_TIMEOUT_MS: how long a Redis command may take before the request is counted in memory. */
  readonly commandTimeoutMs?: number;
}

export class LimitStore {
  /** The counters used without Redis, or while it is failing. */
  readonly memory: MemoryCounters;
  /** The per-IP request limit's view of these counters. */
  readonly ipStore: IpCounterStore;
  /** A Redis command not answered within this is given up, and counting moves to memory until Redis answers. */
  readonly commandTimeoutMs: number;
  private failingSince: number | null = null;
  private probing: Promise<boolean> | null = null;
  private probeTimer: NodeJS.Timeout | null = null;
  private readonly sweepTimer: NodeJS.Timeout;

  constructor(
    readonly redis: Redis | null,
    private readonly logger: Logger,
    options: LimitStoreOptions = {},
  ) {
    this.memory = new MemoryCounters(options.memory);
    this.commandTimeoutMs = options.commandTimeoutMs ?? DEFAULT_REDIS_COMMAND_TIMEOUT_MS;
    this.ipStore = new IpCounterStore(this);
    this.sweepTimer = setInterval(() => this.memory.sweep(), SWEEP_INTERVAL_MS).unref();
    redis?.defineCommand('limitHit', { numberOfKeys: 1, lua: HIT_SCRIPT });
    // A (re)connection is a good moment to check: recovery need not wait for the next probe tick.
    redis?.on('ready', () => void (this.degraded && this.probe()));
  }

  /** True while Redis is configured but failing or not answering: counting is in memory meanwhile. */
  get degraded(): boolean {
    return this.failingSince !== null;
  }

  /** Counts a hit on `key` (see MemoryCounters.hit for `max`); never rejects. */
  async hit(key: string, windowMs: number, max = 0): Promise<Hit> {
    if (this.redis && !this.degraded) {
      try {
        const [counted, count, resetMs] = await this.within((this.redis as LimitRedis).limitHit(key, windowMs, max));
        return { allowed: max === 0 || counted === 1, count, resetMs };
      } catch (err) {
        this.failed(err);
      }
    }
    return this.memory.hit(key, windowMs, max);
  }

  async decrement(key: string): Promise<void> {
    if (this.redis && !this.degraded) {
      try {
        await this.within(this.redis.decr(key));
        return;
      } catch (err) {
        this.failed(err);
      }
    }
    this.memory.decrement(key);
  }

  async delete(key: string): Promise<void> {
    this.memory.delete(key);
    if (this.redis && !this.degraded)
      await this.within(this.redis.unlink(key)).catch((err: unknown) => this.failed(err));
  }

  /**
   * Clears every per-operation counter of `email` (any IP), in Redis and in memory: for an administrator's
   * unlock. If Redis fails meanwhile, its counters of that email stay until their windows end (logged).
   */
  async resetEmail(email: string): Promise<void> {
    const prefix = emailKeyPrefix(email.trim().toLowerCase());
    this.memory.deletePrefix(prefix);
    if (!this.redis || this.degraded) return;
    try {
      let cursor = '0';
      do {
        const [next, keys] = await this.within(
          this.redis.scan(cursor, 'MATCH', `${globEscape(prefix)}*`, 'COUNT', 1000),
        );
        if (keys.length > 0) await this.within(this.redis.unlink(...keys));
        cursor = next;
      } while (cursor !== '0');
    } catch (err) {
      this.failed(err);
      this.logger.warn(
        'could not clear an account’s limit counters in Redis; they expire with their windows',
        errorFields(err),
      );
    }
  }

  /** One PING (within the command timeout): Redis answering ends a failure, not answering starts one. */
  probe(): Promise<boolean> {
    if (!this.redis) return Promise.resolve(true);
    const redis = this.redis;
    return (this.probing ??= this.within(redis.ping())
      .then(
        () => {
          this.recovered();
          return true;
        },
        (err: unknown) => {
          this.failed(err);
          return false;
        },
      )
      .finally(() => (this.probing = null)));
  }

  async close(): Promise<void> {
    clearInterval(this.sweepTimer);
    this.stopProbing();
    this.memory.clear();
    this.redis?.disconnect();
  }

  private within<T>(command: Promise<T>): Promise<T> {
    return withinTimeout(command, this.commandTimeoutMs);
  }

  private failed(err: unknown): void {
    if (this.failingSince !== null) return;
    this.failingSince = Date.now();
    this.logger.error(
      'rate-limit store (Redis) failed or timed out; counting in memory until it answers again',
      errorFields(err),
    );
    this.probeTimer = setInterval(() => void this.probe(), PROBE_INTERVAL_MS).unref();
  }

  private recovered(): void {
    if (this.failingSince === null) return;
    this.failingSince = null;
    this.stopProbing();
    this.memory.clear(); // counting is back in Redis: memory is used only while it fails
    this.logger.warn('rate-limit store (Redis) answers again; counting there');
  }

  private stopProbing(): void {
    if (this.probeTimer) clearInterval(this.probeTimer);
    this.probeTimer = null;
  }
}

/** express-rate-limit store for the per-IP request limit: one counter per IP and window, in the LimitStore. */
export class IpCounterStore implements IpStore {
  readonly prefix = 'ip-limit:';
  private windowMs = 60_000;

  constructor(private readonly limits: LimitStore) {}

  init(options: Options): void {
    this.windowMs = options.windowMs;
  }

  async increment(key: string): Promise<IncrementResponse> {
    const hit = await this.limits.hit(this.prefix + key, this.windowMs);
    return { totalHits: hit.count, resetTime: new Date(Date.now() + hit.resetMs) };
  }

  decrement(key: string): Promise<void> {
    return this.limits.decrement(this.prefix + key);
  }

  resetKey(key: string): Promise<void> {
    return this.limits.delete(this.prefix + key);
  }
}

/**
 * With Redis, waits (up to 2 s) for it to be ready, so the first requests are counted there too; if it is not,
 * the store starts degraded (in memory) and a probe moves counting to Redis once it answers.
 */
export async function createLimitStore(
  redisUrl: string | undefined,
  logger: Logger,
  options: LimitStoreOptions = {},
): Promise<LimitStore> {
  if (!redisUrl) return new LimitStore(null, logger, options);
  const redis = new Redis(redisUrl, {
    // Fail fast so requests fall back to memory instead of queueing behind a dead connection (a live one to a
    // Redis that does not answer is withinTimeout's).
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    connectTimeout: 2000,
    retryStrategy: (times) => Math.min(times * 200, 2000),
  });
  redis.on('error', () => {}); // reported once through LimitStore
  const store = new LimitStore(redis, logger, options);
  const ready = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 2000);
    redis.once('ready', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
  if (!ready) await store.probe(); // logs the failure and starts probing
  return store;
}
