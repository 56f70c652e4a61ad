// The migrated template database of a test run on TEST_DATABASE_URL (global-setup.ts makes it, global-teardown.ts
// drops it): `create database … template` copies it in about the time an empty database takes, where migrating an
// empty one costs each test app ~0.2 s of CPU and ~170 ms.
import { dropDatabase, queryDatabase, testDatabaseName, withDatabase } from './test-database';
import { runDist } from './run-dist';

/** Creates and migrates (`npm run migrate`, compiled) a template database on `base`; returns its name. */
export async function createTemplateDatabase(base: string): Promise<string> {
  const name = testDatabaseName('template');
  await queryDatabase(base, `create database ${name}`);
  const migrated = await runDist('scripts/migrate', [], { DATABASE_URL: withDatabase(base, name) });
  if (migrated.code !== 0) {
    await dropDatabase(base, name);
    throw new Error(`migrating the template database failed:\n${migrated.stdout}${migrated.stderr}`);
  }
  return name;
}
