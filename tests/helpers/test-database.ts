// Gives each test file a database of its own: a fresh database on the real PostgreSQL of TEST_DATABASE_URL,
// or, on embedded PGlite, this worker's instance with an emptied public schema (files in a worker run in turn).
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';

export interface TestDatabase {
  readonly url: string;
  /** DATABASE_POOL_SIZE for the app: PGlite behind its socket is one backend session, so 1 there. */
  readonly poolSize: number;
  drop(): Promise<void>;
}

/** Runs one statement on `url` over a connection of its own; returns the rows. */
export async function queryDatabase<T = Record<string, unknown>>(
  url: string,
  sql: string,
  params: unknown[] = [],
): Promise<T[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as T[];
  } finally {
    await client.end();
  }
}

async function run(url: string, sql: string): Promise<void> {
  await queryDatabase(url, sql);
}

/** `base`: the PostgreSQL to create the database on (default TEST_DATABASE_URL; none: this worker's PGlite). */
export async function createTestDatabase(base = process.env.TEST_DATABASE_URL): Promise<TestDatabase> {
  if (base) {
    const name = `portcullis_test_${randomBytes(6).toString('hex')}`;
    await run(base, `create database ${name}`);
    const url = new URL(base);
    url.pathname = `/${name}`;
    return {
      url: url.toString(),
      poolSize: 10,
      drop: () => run(base, `drop database if exists ${name} with (force)`),
    };
  }
  const urls = (process.env.TEST_PGLITE_URLS ?? '').split(',').filter(Boolean);
  if (urls.length === 0) throw new Error('no database: set TEST_DATABASE_URL or run through jest global-setup');
  const worker = Number(process.env.JEST_WORKER_ID ?? '1');
  const url = urls[(worker - 1) % urls.length]!;
  await run(url, 'drop schema if exists public cascade; create schema public;');
  return { url, poolSize: 1, drop: async () => {} };
}
