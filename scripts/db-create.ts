// `npm run db:create`: creates the database DATABASE_URL names, on its server, and says "created" or "already
// exists". The server and `npm run migrate` never create one themselves, so a typo in DATABASE_URL is refused.
import '../src/config/env-file'; // loads .env before anything reads process.env
import { Client } from 'pg';
import { OperatorError } from '../src/config/config-helpers';
import { loadConfig } from '../src/config/config';
import { serverOf } from '../src/database/missing-database';

/** The database of a postgres:// URL: its path, or (as libpq does) the user's name. */
function databaseOf(url: URL): string {
  return decodeURIComponent(url.pathname.slice(1)) || decodeURIComponent(url.username) || 'postgres';
}

/** Creates `name`; false when it exists already (also when created meanwhile by someone else). */
async function create(client: Client, name: string): Promise<boolean> {
  const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [name]);
  if (rowCount !== 0) return false;
  try {
    await client.query(`create database ${client.escapeIdentifier(name)}`);
    return true;
  } catch (err) {
    if ((err as { code?: unknown }).code === '42P04') return false; // duplicate_database: a race lost
    throw err;
  }
}

async function main(): Promise<void> {
  const { databaseUrl, dataDir } = loadConfig();
  if (databaseUrl === undefined) {
    console.log(
      `nothing to create: DATABASE_URL is not set (the embedded database under ${dataDir} is created on first start)`,
    );
    return;
  }
  const name = databaseOf(new URL(databaseUrl));
  // Connect to the server's maintenance database (as createdb does), with the same credentials and options.
  const maintenance = new URL(databaseUrl);
  maintenance.pathname = '/postgres';
  const client = new Client({ connectionString: maintenance.toString() });
  await client.connect();
  try {
    const where = serverOf(databaseUrl);
    if (await create(client, name)) {
      console.log(`database "${name}" created on ${where}; npm start (or npm run migrate) creates its tables`);
    } else {
      console.log(`database "${name}" already exists on ${where}`);
    }
  } finally {
    await client.end();
  }
}

main().catch((err: unknown) => {
  console.error(
    err instanceof OperatorError
      ? err.message
      : `db:create failed: ${err instanceof Error ? err.message : String(err)}`,
  );
  process.exit(1);
});
