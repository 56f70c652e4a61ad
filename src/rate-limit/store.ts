// Where limit counters live: Redis when REDIS_URL is set (shared by every instance), else memory. If Redis
// fails at run time, counting goes on in memory (never no limits), it is logged, and readiness says degraded.
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

  private failed(err: unknown): void {
    if (this.failingSince === null) {
      this.failingSince = Date.now();
      this.logger.error('rate-limit store (Redis) failed; counting in memory until it answers again', errorFields(err));
    }
  }

  private recovered(): void {
    if (this.failingSince !== null) {
      this.failingSince = null;
      this.logger.warn('rate-limit store (Redis) answers again');
    }
  }
}

export interface LimitStore {
  readonly store: FallbackStore;
  readonly redis: Redis | null;
  close(): Promise<void>;
}

/** With Redis, waits (up to 2 s) for it to be ready, so the first requests are counted there too. */
export async function createLimitStore(redisUrl: string | undefined, logger: Logger): Promise<LimitStore> {
  if (!redisUrl) return { store: new FallbackStore(null, logger), redis: null, close: async () => {} };
  const redis = new Redis(redisUrl, {
    // Fail fast so requests fall back to memory instead of queueing behind a dead connection.
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    connectTimeout: 2000,
    retryStrategy: (times) => Math.min(times * 200, 2000),
  });
  redis.on('error', () => {}); // reported once through FallbackStore
  const ready = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 2000);
    redis.once('ready', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
  if (!ready) logger.warn('Redis is not answering yet; rate limits count in memory until it does');
  return {
    store: new FallbackStore(new RedisStore(redis), logger),
    redis,
    async close() {
      redis.disconnect();
    },
  };
}
