// Once per test run: builds dist/ (child-process tests run the compiled server and scripts, never a stale copy:
// the build is incremental, so this is quick when nothing changed), then, with TEST_DATABASE_URL, migrates a
// template database there that each test app's database is copied from (test-database.ts); without it, asks
// once whether a local PostgreSQL answers (for the files that need one, real-postgres.ts) and starts embedded
// PGlite: one in-memory instance per jest worker (the app uses one connection; a few more let a test or a
// child process look at the same database), started here because PGlite cannot start inside a test file's VM.
// Workers find theirs by JEST_WORKER_ID.
import type { Config } from '@jest/types';
import type { EmbeddedPostgres } from '../../src/database/embedded';
import { buildDist } from './build-dist';
import { probeLocalPostgres } from './real-postgres';
import { createTemplateDatabase } from './template-database';
import { startTestPglites } from './test-pglite';

declare global {
  var __PGLITE__: EmbeddedPostgres[] | undefined;
}

export default async function globalSetup(globalConfig: Config.GlobalConfig): Promise<void> {
  await buildDist();
  if (process.env.TEST_DATABASE_URL) {
    process.env.TEST_TEMPLATE_DATABASE = await createTemplateDatabase(process.env.TEST_DATABASE_URL);
    return;
  }
  await probeLocalPostgres();
  const count = Math.max(1, globalConfig.maxWorkers);
  const instances = await startTestPglites(count, 4); // from a cached initdb copy: seconds of CPU saved per run
  globalThis.__PGLITE__ = instances;
  process.env.TEST_PGLITE_URLS = instances.map((i) => i.url).join(',');
}
