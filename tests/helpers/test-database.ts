// Gives each test file a database of its own: a fresh database on the real PostgreSQL of TEST_DATABASE_URL,
// or, on embedded PGlite, this worker's instance with an emptied public schema (files in a worker run in turn).
// On TEST_DATABASE_URL, a database for an app (startTestApp) is a copy of a template that global-setup.ts migrated
// once (TEST_TEMPLATE_DATABASE): the app finds it up to date instead of migrating an empty one (the migrations on an
// empty database are tested by the PGlite pass, migrate-script and migrate-together).
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { checkTestDatabaseUse, runningFile } from './groups';

export interface TestDatabase {
  readonly url: string;
  /** DATABASE_POOL_SIZE for the app: PGlite behind its socket is one backend session, so 1 there. */
  readonly poolSize: number;
  drop(): Promise<void>;
}

/** A connection of its own to `url`; the caller ends it. */
export async function connectTo(url: string): Promise<Client> {
  const client = new Client({ connectionString: url });
  await client.connect();
  return client;
}

/** Runs one statement on `url` over a connection of its own; returns the rows. */
export async function queryDatabase<T = Record<string, unknown>>(
  url: string,
  sql: string,
  params: unknown[] = [],
): Promise<T[]> {
  const client = await connectTo(url);
  try {
    return (await client.query(sql, params)).rows as T[];
  } finally {
    await client.end();
  }
}

async function run(url: string, sql: string): Promise<void> {
  await queryDatabase(url, sql);
}

/** Drops database `name` on `base`, connections and all; nothing when it is gone already. */
export async function dropDatabase(base: string, name: string): Promise<void> {
  await run(base, `drop database if exists ${name} with (force)`);
}

/** A new database's name on the test PostgreSQL. */
export function testDatabaseName(kind = 'test'): string {
  return `portcullis_${kind}_${randomBytes(6).toString('hex')}`;
}

/** `url` with database `name`. */
export function withDatabase(url: string, name: string): string {
  const other = new URL(url);
  other.pathname = `/${name}`;
  return other.toString();
}

/**
 * Whether this worker's PGlite holds a test database not yet dropped. It has one schema for one database at a time:
 * a second database made meanwhile would empty the first under its app (on TEST_DATABASE_URL each is a database of
 * its own).
 */
let pgliteInUse = false;
const PGLITE_IN_USE =
  "this worker's PGlite already holds a test database that was not dropped: stop the app using it (or drop it) " +
  'before making another; files in a worker run one after another, and each drops what it made';

/**
 * `on`: a real PostgreSQL to create the database on; by default the run's test database (TEST_DATABASE_URL, or
 * none: this worker's PGlite). In a group, a file must be counted as using the test database to make one there
 * (groups.ts, checkTestDatabaseUse). `migrated`: on TEST_DATABASE_URL, a copy of the migrated template (when global
 * setup made one); else empty.
 */
export async function createTestDatabase(
  on?: string,
  { migrated = false }: { migrated?: boolean } = {},
): Promise<TestDatabase> {
  const file = runningFile();
  if (on === undefined && file !== undefined) checkTestDatabaseUse(file);
  const base = on ?? process.env.TEST_DATABASE_URL;
  if (base) {
    const name = testDatabaseName();
    const template = process.env.TEST_TEMPLATE_DATABASE;
    const fromTemplate = migrated && template !== undefined && base === process.env.TEST_DATABASE_URL;
    await run(base, `create database ${name}${fromTemplate ? ` template ${template}` : ''}`);
    return {
      url: withDatabase(base, name),
      poolSize: 10,
      drop: () => dropDatabase(base, name),
    };
  }
  const urls = (process.env.TEST_PGLITE_URLS ?? '').split(',').filter(Boolean);
  if (urls.length === 0) throw new Error('no database: set TEST_DATABASE_URL or run through jest global-setup');
  const worker = Number(process.env.JEST_WORKER_ID ?? '1');
  const url = urls[(worker - 1) % urls.length]!;
  if (pgliteInUse) throw new Error(PGLITE_IN_USE);
  pgliteInUse = true;
  try {
    // One backend session serves every file of the worker: what a file left in it (temporary tables, settings,
    // prepared statements, LISTENs) goes with its schema. DISCARD ALL cannot run in the multi-statement transaction.
    await run(url, 'discard all');
    await run(url, 'drop schema if exists public cascade; create schema public;');
  } catch (err) {
    pgliteInUse = false;
    throw err;
  }
  return {
    url,
    poolSize: 1,
    drop: async () => {
      pgliteInUse = false;
    },
  };
}
