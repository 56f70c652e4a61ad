// GET /readyz: 200 when the database answers with every migration applied and the rate-limit store is
// healthy; 503 naming the failing part otherwise. Redis that fails or does not answer a PING within the command
// timeout reports "degraded" (true then: limits count in memory on each instance, and requests do not wait for it).
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
      // The probe also moves counting to memory (Redis silent) or back to Redis (it answers again).
      checks.redis = (await limits.probe())
        ? 'ok'
        : `degraded: Redis not answering within ${limits.commandTimeoutMs} ms; counting limits in memory on this instance`;
    }
    const ready = Object.values(checks).every((v) => v === 'ok');
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not ready', checks });
  };
}
