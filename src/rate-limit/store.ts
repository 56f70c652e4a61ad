// Where limit counters live: Redis when REDIS_URL is set (shared by every instance), else memory. If Redis
// fails at run time, counting goes on in memory (never no limits), it is logged, and readiness says degraded.
// Two kinds of counter: graphql-rate-limit's timestamp lists for the per-operation limits (small: 5 per 5 s,
// 20 per hour…), and for the per-IP request limit an express-rate-limit store that keeps one atomic counter
// per IP and window (IpCounterStore), so its cost does not grow with RATE_LIMIT_PER_MINUTE.
import { MemoryStore, type IncrementResponse, type Options, type Store as IpStore } from 'express-rate-limit';
import { InMemoryStore, RedisStore, type Identity, type Store } from 'graphql-rate-limit';
import Redis from 'ioredis';
import { errorFields, type Logger } from '../common/logger';

export class FallbackStore implements Store {
  private readonly memory = new InMemoryStore();
  private failingSince: number | null = null;

  constructor(
    private readonly primary: Store | null,
    private readonly logger: Logger,
  ) {}

  /** True while Redis is configured but not answering. */
  get degraded(): boolean {
    return this.failingSince !== null;
  }

  async getForIdentity(identity: Identity): Promise<readonly number[]> {
    if (this.primary) {
      try {
        const value = await this.primary.getForIdentity(identity);
        this.recovered();
        return value;
      } catch (err) {
        this.failed(err);
      }
    }
    return this.memory.getForIdentity(identity);
  }

  async setForIdentity(identity: Identity, timestamps: readonly number[], windowMs?: number): Promise<void> {
    // Kept in memory too, so a Redis failure mid-window does not forget what was already counted here.
    this.memory.setForIdentity(identity, timestamps);
    if (!this.primary) return;
    try {
      await this.primary.setForIdentity(identity, timestamps, windowMs);
      this.recovered();
    } catch (err) {
      this.failed(err);
    }
  }

  /** Readiness saw Redis answer: counting there resumes without waiting for a request to prove it. */
  markRecovered(): void {
    this.recovered();
  }

  failed(err: unknown): void {
    if (this.failingSince === null) {
      this.failingSince = Date.now();
      this.logger.error('rate-limit store (Redis) failed; counting in memory until it answers again', errorFields(err));
    }
  }

  recovered(): void {
    if (this.failingSince !== null) {
      this.failingSince = null;
      this.logger.warn('rate-limit store (Redis) answers again');
    }
  }
}

// One INCR per request; the window starts with the first hit (fixed window per IP). Loaded once per connection
// by ioredis (EVALSHA, falling back to EVAL), so a Redis restart needs nothing from us.
const IP_HIT_SCRIPT = `local hits = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) ttl = tonumber(ARGV[1]) end
return { hits, ttl }`;

type RedisWithIpHit = Redis & { ipHit(key: string, windowMs: number): Promise<[number, number]> };

/** express-rate-limit store for the per-IP limit: Redis (shared by every instance) with memory as the fallback. */
export class IpCounterStore implements IpStore {
  readonly prefix = 'ip-limit:';
  private readonly memory = new MemoryStore();
  private windowMs = 60_000;

  constructor(
    private readonly redis: RedisWithIpHit | null,
    private readonly health: FallbackStore,
  ) {}

  init(options: Options): void {
    this.windowMs = options.windowMs;
    this.memory.init(options);
  }

  async increment(key: string): Promise<IncrementResponse> {
    if (this.redis) {
      try {
        const [totalHits, ttl] = await this.redis.ipHit(this.prefix + key, this.windowMs);
        this.health.recovered();
        return { totalHits, resetTime: new Date(Date.now() + ttl) };
      } catch (err) {
        this.health.failed(err);
      }
    }
    return this.memory.increment(key);
  }

  async decrement(key: string): Promise<void> {
    if (this.redis && !this.health.degraded) await this.redis.decr(this.prefix + key).catch((err: unknown) => this.health.failed(err));
    else await this.memory.decrement(key);
  }

  async resetKey(key: string): Promise<void> {
    if (this.redis) await this.redis.del(this.prefix + key).catch((err: unknown) => this.health.failed(err));
    await this.memory.resetKey(key);
  }

  shutdown(): void {
    this.memory.shutdown();
  }
}

export interface LimitStore {
  readonly store: FallbackStore;
  /** The per-IP request limit's counters. */
  readonly ipStore: IpCounterStore;
  readonly redis: Redis | null;
  close(): Promise<void>;
}

/** With Redis, waits (up to 2 s) for it to be ready, so the first requests are counted there too. */
export async function createLimitStore(redisUrl: string | undefined, logger: Logger): Promise<LimitStore> {
  if (!redisUrl) {
    const store = new FallbackStore(null, logger);
    const ipStore = new IpCounterStore(null, store);
    return { store, ipStore, redis: null, close: async () => ipStore.shutdown() };
  }
  const redis = new Redis(redisUrl, {
    // Fail fast so requests fall back to memory instead of queueing behind a dead connection.
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    connectTimeout: 2000,
    retryStrategy: (times) => Math.min(times * 200, 2000),
  });
  redis.on('error', () => {}); // reported once through FallbackStore
  redis.defineCommand('ipHit', { numberOfKeys: 1, lua: IP_HIT_SCRIPT });
  const ready = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 2000);
    redis.once('ready', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
  if (!ready) logger.warn('Redis is not answering yet; rate limits count in memory until it does');
  const store = new FallbackStore(new RedisStore(redis), logger);
  const ipStore = new IpCounterStore(redis as RedisWithIpHit, store);
  return {
    store,
    ipStore,
    redis,
    async close() {
      ipStore.shutdown();
      redis.disconnect();
    },
  };
}
