// In-process limit counters: one small counter per key in an LRU with a TTL (lru-cache), used when there is no
// Redis or while it is failing. A counter lives for its window from its first hit (a fixed window, as in Redis);
// a hit costs O(1) (a map lookup and an increment in place); the cache never holds more than `max` counters.
import { LRUCache } from 'lru-cache';

/** The most counters one process keeps in memory; past it the least recently used counter is dropped. */
export const MEMORY_COUNTERS_MAX = 100_000;

export interface Hit {
  /** False when the key had already reached `max` in this window (the hit was then not counted). */
  readonly allowed: boolean;
  /** Hits counted in the current window, this one included when it was counted. */
  readonly count: number;
  /** Milliseconds until the window ends and the counter is gone. */
  readonly resetMs: number;
}

interface Counter {
  count: number;
}

export interface MemoryCountersOptions {
  readonly max?: number;
  /** Milliseconds since some origin; a test moves it by hand. Defaults to lru-cache's (performance.now). */
  readonly now?: () => number;
}

export class MemoryCounters {
  private readonly cache: LRUCache<string, Counter>;

  constructor(options: MemoryCountersOptions = {}) {
    const now = options.now;
    this.cache = new LRUCache<string, Counter>({
      max: options.max ?? MEMORY_COUNTERS_MAX,
      ttlAutopurge: false, // expired counters are dropped when read, when evicted, or by sweep(): no timer per key
      ...(now ? { perf: { now }, ttlResolution: 0 } : {}),
    });
  }

  /** The bound this store keeps to. */
  get max(): number {
    return this.cache.max;
  }

  /** Counters held, expired ones not yet swept included. */
  get size(): number {
    return this.cache.size;
  }

  /**
   * Counts a hit on `key` in a window of `windowMs` starting with the key's first hit. With `max` (> 0) a hit
   * over it is refused and not counted; with 0 every hit counts (the per-IP limit decides on the total itself).
   */
  hit(key: string, windowMs: number, max = 0): Hit {
    const counter = this.cache.get(key);
    const resetMs = counter === undefined ? 0 : this.cache.getRemainingTTL(key);
    if (counter === undefined || resetMs <= 0) {
      // lru-cache drops an entry only once it is older than its TTL; at exactly its end the window is over too.
      this.cache.set(key, { count: 1 }, { ttl: windowMs });
      return { allowed: true, count: 1, resetMs: windowMs };
    }
    if (max > 0 && counter.count >= max) return { allowed: false, count: counter.count, resetMs };
    counter.count++; // in place: the window (the entry's TTL) stays where it started
    return { allowed: true, count: counter.count, resetMs };
  }

  /** The count of `key` in its current window (0 when it has none). */
  count(key: string): number {
    // peek: reading does not make the key recently used
    return this.cache.getRemainingTTL(key) > 0 ? (this.cache.peek(key)?.count ?? 0) : 0;
  }

  decrement(key: string): void {
    const counter = this.cache.get(key);
    if (counter !== undefined && counter.count > 0) counter.count--;
  }

  delete(key: string): void {
    this.cache.delete(key);
  }

  /** Deletes every key starting with `prefix`; O(size), for rare administrative resets. */
  deletePrefix(prefix: string): number {
    let deleted = 0;
    for (const key of [...this.cache.keys()]) {
      if (key.startsWith(prefix) && this.cache.delete(key)) deleted++;
    }
    return deleted;
  }

  /** Drops expired counters now (they would otherwise wait to be read or evicted). */
  sweep(): void {
    this.cache.purgeStale();
  }

  clear(): void {
    this.cache.clear();
  }
}
