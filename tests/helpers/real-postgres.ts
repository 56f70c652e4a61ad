// A real PostgreSQL for the tests that need more than PGlite gives (NOTIFY between connections,
// pg_terminate_backend, advisory locks between processes): TEST_DATABASE_URL, else the local server if it
// answers. In CI having neither is a failure; on a developer's machine without PostgreSQL the file warns and
// its tests are skipped.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

export const LOCAL_POSTGRES = 'postgres://postgres@127.0.0.1:5432/postgres';

function answers(url: string): boolean {
  const probe = `const { Client } = require('pg');
    const c = new Client({ connectionString: process.argv[1], connectionTimeoutMillis: 3000 });
    c.connect().then(() => c.end()).then(() => process.exit(0), () => process.exit(1));`;
  return (
    spawnSync(process.execPath, ['-e', probe, url], { cwd: join(__dirname, '..', '..'), timeout: 10_000 }).status === 0
  );
}

/** The PostgreSQL for `file`'s tests, or undefined (after a warning) where none is available outside CI. */
export function realPostgresUrl(file: string): string | undefined {
  // An explicit TEST_DATABASE_URL must answer; the local default may be missing on a developer's machine.
  if (process.env.TEST_DATABASE_URL) return process.env.TEST_DATABASE_URL;
  if (answers(LOCAL_POSTGRES)) return LOCAL_POSTGRES;
  const why = `no TEST_DATABASE_URL and nothing answers at ${LOCAL_POSTGRES}`;
  if (process.env.CI) throw new Error(`${file} needs PostgreSQL in CI: ${why}`);
  console.warn(`Skipping ${file}: ${why}.`);
  return undefined;
}
