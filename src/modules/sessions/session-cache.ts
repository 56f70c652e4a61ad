// Per-instance cache of live sessions for the access-token check that every signed-in request makes.
// An entry goes as soon as its session or user changes: at once on this instance (SessionService and
// UserAdminService evict), and on every instance through PostgreSQL NOTIFY (database/change-feed.ts).
// While the change feed is not connected the cache is off, so a missed notification cannot keep a revoked
// session alive; the TTL is a last bound on staleness should the feed die silently.
import { LRUCache } from 'lru-cache';
import type { PrincipalUser } from '../../common/request-context';

export interface LiveSession {
  readonly sessionId: string;
  /** Milliseconds since the epoch. */
  readonly expiresAt: number;
  readonly user: PrincipalUser;
}

export interface SessionCacheSettings {
  readonly maxEntries: number;
  readonly ttlMs: number;
}

export const DEFAULT_SESSION_CACHE: SessionCacheSettings = { maxEntries: 50_000, ttlMs: 30_000 };

export class SessionCache {
  private readonly entries: LRUCache<string, LiveSession>;
  /** userId → its cached session ids, so a change to a user drops all of them. */
  private readonly byUser = new Map<string, Set<string>>();
  /** Bumped by every eviction: a value read from the database before it must not be stored after it. */
  private generationCounter = 0;
  private on = false;
  /** Lookups answered from the cache, and lookups that went to the database while it was on. */
  readonly stats = { hits: 0, misses: 0 };

  constructor(settings: SessionCacheSettings = DEFAULT_SESSION_CACHE) {
    this.entries = new LRUCache<string, LiveSession>({
      max: settings.maxEntries,
      ttl: settings.ttlMs,
      dispose: (value, sessionId) => {
        const ids = this.byUser.get(value.user.id);
        ids?.delete(sessionId);
        if (ids?.size === 0) this.byUser.delete(value.user.id);
      },
    });
  }

  get enabled(): boolean {
    return this.on;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Take this before reading a session from the database; pass it to `set`. */
  get generation(): number {
    return this.generationCounter;
  }

  get(sessionId: string): LiveSession | undefined {
    if (!this.on) return undefined;
    const live = this.entries.get(sessionId);
    if (live === undefined) this.stats.misses += 1;
    else this.stats.hits += 1;
    return live;
  }

  /** Stores `live` unless the cache is off or something was evicted since `generation` was taken. */
  set(live: LiveSession, generation: number): void {
    if (!this.on || generation !== this.generationCounter) return;
    this.entries.set(live.sessionId, live);
    let ids = this.byUser.get(live.user.id);
    if (ids === undefined) this.byUser.set(live.user.id, (ids = new Set()));
    ids.add(live.sessionId);
  }

  evictSession(sessionId: string): void {
    this.generationCounter += 1;
    this.entries.delete(sessionId);
  }

  evictUser(userId: string): void {
    this.generationCounter += 1;
    for (const sessionId of [...(this.byUser.get(userId) ?? [])]) this.entries.delete(sessionId);
    this.byUser.delete(userId);
  }

  /** The change feed is listening: start caching, from empty (anything cached before may be stale). */
  enable(): void {
    this.clear();
    this.on = true;
  }

  /** The change feed is down: stop caching until it is back. */
  disable(): void {
    this.on = false;
    this.clear();
  }

  private clear(): void {
    this.generationCounter += 1;
    this.entries.clear();
    this.byUser.clear();
  }
}
