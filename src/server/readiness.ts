// GET /readyz: 200 when the database answers with every migration applied and the rate-limit store is
// healthy; 503 naming the failing part otherwise. A Redis outage reports "degraded" (limits then count in
// memory on each instance).
import type { MikroORM } from '@mikro-orm/postgresql';
import type { RequestHandler } from 'express';
import type { LimitStore } from '../rate-limit/store';

export function readiness(orm: MikroORM, limits: LimitStore): RequestHandler {
  return async (_req, res) => {
    const checks: Record<string, string> = {};
    try {
      const pending = await orm.getMigrator().getPendingMigrations();
      checks.database = pending.length === 0 ? 'ok' : `${pending.length} migrations pending`;
    } catch {
      checks.database = 'not answering';
    }
    if (limits.redis) {
      const answers = await Promise.race([
        limits.redis.ping().then(() => true, () => false),
        new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 1000).unref()),
      ]);
      if (answers) limits.store.markRecovered();
      checks.redis = answers ? 'ok' : 'degraded: counting limits in memory';
    }
    const ready = Object.values(checks).every((v) => v === 'ok');
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not ready', checks });
  };
}
