// A real PostgreSQL for the tests that need more than PGlite gives (NOTIFY between connections,
// pg_terminate_backend, advisory locks between processes): TEST_DATABASE_URL, else the local server if it
// answers. In CI having neither is a failure; on a developer's machine without PostgreSQL the file warns and
// its tests are skipped.
import { Client } from 'pg';

export const LOCAL_POSTGRES = 'postgres://postgres@127.0.0.1:5432/postgres';

/**
 * Asks once per run, in jest's global setup, whether the local PostgreSQL answers, and leaves the answer in
 * TEST_LOCAL_POSTGRES for the workers (started after it) to read: no test file waits on a probe of its own.
 */
export async function probeLocalPostgres(): Promise<void> {
  const client = new Client({ connectionString: LOCAL_POSTGRES, connectionTimeoutMillis: 3000 });
  let answers = false;
  try {
    await client.connect();
    answers = true;
  } catch {
    // Nothing there: realPostgresUrl warns, or fails in CI.
  } finally {
    await client.end().catch(() => undefined);
  }
  process.env.TEST_LOCAL_POSTGRES = answers ? 'yes' : 'no';
}

/** The PostgreSQL for `file`'s tests, or undefined (after a warning) where none is available outside CI. */
export function realPostgresUrl(file: string): string | undefined {
  // An explicit TEST_DATABASE_URL must answer; the local default may be missing on a developer's machine.
  if (process.env.TEST_DATABASE_URL) return process.env.TEST_DATABASE_URL;
  if (process.env.TEST_LOCAL_POSTGRES === undefined) throw new Error('jest global setup did not probe PostgreSQL');
  if (process.env.TEST_LOCAL_POSTGRES === 'yes') return LOCAL_POSTGRES;
  const why = `no TEST_DATABASE_URL and nothing answers at ${LOCAL_POSTGRES}`;
  if (process.env.CI) throw new Error(`${file} needs PostgreSQL in CI: ${why}`);
  console.warn(`Skipping ${file}: ${why}.`);
  return undefined;
}
