// The benchmark's database: the default one is dropped and created afresh on every run; a DATABASE_URL given
// by the caller is never dropped, only cleared of the bench's own users.
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'pg';
import { sha256 } from '../src/common/crypto';
import { newApiKeySecret, visiblePrefix } from '../src/modules/api-keys/api-key-secret';
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

/**
 * The login scenario's user (verified, with a hash at the configured cost; the seeded users have cost 4), or the
 * introspection scenario's ADMIN.
 */
export async function upsertUser(
  db: Client,
  email: string,
  passwordHash: string,
  roles: readonly string[] = ['USER'],
): Promise<void> {
  await db.query(
    `insert into users (id, email, password_hash, email_verified, active, roles, created_at, updated_at)
     values (gen_random_uuid(), $1, $2, true, true, $3::text[], now(), now())
     on conflict (email) do update set password_hash = excluded.password_hash, roles = excluded.roles`,
    [email, passwordHash, roles],
  );
}

export async function removeUser(db: Client, email: string): Promise<void> {
  await db.query('delete from users where email = $1', [email]); // their sessions and API keys go with them
}

/**
 * One API key with `scopes` for each of these users, written straight into api_keys as createApiKey stores them (the
 * secret's SHA-256 only), without its audit event and notice email; returns the secrets, in the users' order.
 */
export async function insertApiKeys(
  db: Client,
  emails: readonly string[],
  scopes: readonly string[],
): Promise<string[]> {
  const secrets = emails.map(() => newApiKeySecret());
  await db.query(
    `insert into api_keys (id, user_id, name, prefix, secret_hash, scopes, created_at)
     select gen_random_uuid(), u.id, 'bench', k.prefix, k.hash, $4::text[], now()
     from unnest($1::text[], $2::text[], $3::text[]) as k(email, prefix, hash)
     join users u on u.email = k.email`,
    [emails, secrets.map(visiblePrefix), secrets.map(sha256), scopes],
  );
  const { rows } = await db.query<{ n: string }>('select count(*) as n from api_keys where secret_hash = any($1)', [
    secrets.map(sha256),
  ]);
  if (Number(rows[0]!.n) !== emails.length) throw new Error(`only ${rows[0]!.n} of ${emails.length} API keys written`);
  return secrets;
}

/** Waits until the outbox has no mail left to send (createApiKey's notices), so no delivery falls into a later run. */
export async function outboxDrained(db: Client, timeoutMs = 30_000): Promise<void> {
  const started = Date.now();
  for (;;) {
    const { rows } = await db.query<{ n: string }>(
      'select count(*) as n from mail_outbox where sent_at is null and failed_at is null',
    );
    if (rows[0]!.n === '0') return;
    if (Date.now() - started > timeoutMs) throw new Error(`${rows[0]!.n} emails still unsent after ${timeoutMs} ms`);
    await sleep(200);
  }
}

export async function postgresVersion(db: Client): Promise<string> {
  const { rows } = await db.query<{ server_version: string }>('show server_version');
  return rows[0]!.server_version;
}

export async function userCount(db: Client): Promise<number> {
  const { rows } = await db.query<{ n: string }>('select count(*) as n from users');
  return Number(rows[0]!.n);
}
