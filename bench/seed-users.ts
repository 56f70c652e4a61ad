// Seeds verified benchmark users (and one idle session each, as real users have) straight into PostgreSQL with
// one INSERT … SELECT generate_series. Idempotent: user n is `user-n@bench.portcullis.invalid`, so running it
// again only adds the missing ones. CLI: `DATABASE_URL=… node dist/bench/seed-users.js 1000000`.
import bcrypt from 'bcrypt';
import { createHash } from 'node:crypto';
import { Client } from 'pg';

export const BENCH_DOMAIN = 'bench.portcullis.invalid';
export const BENCH_PASSWORD = 'Bench-Passw0rd!';

export function benchEmail(n: number): string {
  return `user-${n}@${BENCH_DOMAIN}`;
}

/** The hash Portcullis stores (password.service.ts): bcrypt of the base64 SHA-256 of the password. */
export function benchPasswordHash(cost: number, password = BENCH_PASSWORD): Promise<string> {
  return bcrypt.hash(createHash('sha256').update(password, 'utf8').digest('base64'), cost);
}

export async function countBenchUsers(db: Client): Promise<number> {
  const { rows } = await db.query<{ n: string }>(`select count(*) as n from users where email like $1`, [
    `user-%@${BENCH_DOMAIN}`,
  ]);
  return Number(rows[0]!.n);
}

/** Brings the bench users up to `total` (users 1..total); returns how many were added. */
export async function seedUsers(db: Client, total: number, passwordHash: string): Promise<number> {
  const from = (await countBenchUsers(db)) + 1;
  if (from > total) return 0;
  await db.query('set synchronous_commit = off'); // a lost seed is simply seeded again
  // Sessions: one live but never-presented session per user; its token hash matches no real token.
  const { rowCount } = await db.query(
    `with added as (
       insert into users (id, email, password_hash, full_name, email_verified, active, roles, created_at, updated_at)
       select gen_random_uuid(), 'user-' || n || '@${BENCH_DOMAIN}', $3, 'Bench User ' || n, true, true, '{USER}', now(), now()
       from generate_series($1::int, $2::int) as n
       on conflict (email) do nothing
       returning id)
     insert into sessions (id, user_id, current_token_hash, created_at, auth_time, last_used_at, expires_at)
     select gen_random_uuid(), id, 'seed-' || gen_random_uuid(), now(), now(), now(), now() + interval '7 days'
     from added`,
    [from, total, passwordHash],
  );
  await settle(db);
  return rowCount ?? 0;
}

/**
 * Leaves no seeding work for PostgreSQL to do later in the background (during a measurement): vacuum and
 * statistics now, and the WAL written by the seed flushed by a checkpoint (skipped without the privilege).
 */
export async function settle(db: Client): Promise<void> {
  await db.query('vacuum (analyze) users, sessions');
  await db.query('checkpoint').catch(() => undefined);
}

/** Adds `perUser` fresh sessions to each of these users; returns their ids (for tokens minted by the bench). */
export async function addSessions(
  db: Client,
  emails: readonly string[],
  perUser: number,
): Promise<{ sessionId: string; userId: string }[]> {
  const { rows } = await db.query<{ id: string; user_id: string }>(
    `insert into sessions (id, user_id, current_token_hash, created_at, auth_time, last_used_at, expires_at)
     select gen_random_uuid(), u.id, 'seed-' || gen_random_uuid(), now(), now(), now(), now() + interval '7 days'
     from users u cross join generate_series(1, $2::int)
     where u.email = any($1::text[])
     returning id, user_id`,
    [emails, perUser],
  );
  await settle(db);
  return rows.map((r) => ({ sessionId: r.id, userId: r.user_id }));
}

/** Removes every bench user (their sessions and retired tokens go with them: on delete cascade). */
export async function removeBenchUsers(db: Client): Promise<void> {
  await db.query(`delete from users where email like $1`, [`%@${BENCH_DOMAIN}`]);
}

async function cli(): Promise<void> {
  const total = Number(process.argv[2]);
  if (!Number.isInteger(total) || total < 1) throw new Error('usage: seed-users.js <number of users>');
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('DATABASE_URL is not set (the server must have migrated that database once)');
  const db = new Client({ connectionString: url });
  await db.connect();
  try {
    const started = Date.now();
    const added = await seedUsers(db, total, await benchPasswordHash(4));
    console.log(`${added} users added in ${((Date.now() - started) / 1000).toFixed(1)} s; password ${BENCH_PASSWORD}`);
  } finally {
    await db.end();
  }
}

if (require.main === module) {
  cli().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
