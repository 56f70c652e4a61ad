// Without TEST_DATABASE_URL, tests run on embedded PGlite: one in-memory instance per jest worker (the
// app uses one connection; a few more let a test or a child process look at the same database),
// started here because PGlite cannot start inside a test file's VM. Workers find theirs by JEST_WORKER_ID.
import type { Config } from '@jest/types';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../src/database/embedded';

declare global {
  // eslint-disable-next-line no-var
  var __PGLITE__: EmbeddedPostgres[] | undefined;
}

export default async function globalSetup(globalConfig: Config.GlobalConfig): Promise<void> {
  if (process.env.TEST_DATABASE_URL) return;
  const count = Math.max(1, globalConfig.maxWorkers);
  const instances = await Promise.all(Array.from({ length: count }, () => startEmbeddedPostgres(undefined, 4)));
  globalThis.__PGLITE__ = instances;
  process.env.TEST_PGLITE_URLS = instances.map((i) => i.url).join(',');
}
