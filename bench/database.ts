// The benchmark's database: the default one is dropped and created afresh on every run; a DATABASE_URL given
// by the caller is never dropped, only cleared of the bench's own users.
import { Client } from 'pg';
import { BENCH_DOMAIN, removeBenchUsers } from './seed-users';

export async function connect(url: string): Promise<Client> {
  const db = new Client({ connectionString: url });
  await db.connect();
  return db;
}

/** Drops and creates the database `url` names, through the `postgres` database of the same server. */
export async function recreateDatabase(url: string): Promise<void> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.slice(1));
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`unexpected database name "${name}"`);
  target.pathname = '/postgres';
  const admin = await connect(target.href);
  try {
    await admin.query(`drop database if exists "${name}" with (force)`);
    await admin.query(`create database "${name}"`);
  } finally {
    await admin.end();
  }
}

/** Clears the bench's own rows from a database the caller owns, before any server listens to its changes. */
export async function clearBenchRows(db: Client): Promise<void> {
  const { rows } = await db.query<{ t: string | null }>(`select to_regclass('users') as t`);
  if (rows[0]?.t === null) return; // not migrated yet: nothing of ours in it
  await removeBenchUsers(db);
  await db.query(`delete from audit_events where email like $1`, [`%@${BENCH_DOMAIN}`]);
}

/** The login scenario's user: verified, with a hash at the configured cost (the seeded users have cost 4). */
export async function upsertUser(db: Client, email: string, passwordHash: string): Promise<void> {
  await db.query(
    `insert into users (id, email, password_hash, email_verified, active, roles, created_at, updated_at)
     values (gen_random_uuid(), $1, $2, true, true, '{USER}', now(), now())
     on conflict (email) do update set password_hash = excluded.password_hash`,
    [email, passwordHash],
  );
}

export async function postgresVersion(db: Client): Promise<string> {
  const { rows } = await db.query<{ server_version: string }>('show server_version');
  return rows[0]!.server_version;
}

export async function userCount(db: Client): Promise<number> {
  const { rows } = await db.query<{ n: string }>('select count(*) as n from users');
  return Number(rows[0]!.n);
}
