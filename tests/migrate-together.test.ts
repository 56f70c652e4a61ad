// Instances started at the same moment on an empty database (docker compose up --scale, a cold cluster) all
// come up: migrations run under an advisory lock (database/database.ts), so they never race to create the
// same tables. Needs a real PostgreSQL: TEST_DATABASE_URL, else the local one.
import { Client } from 'pg';
import { startMain, stopMain, type MainProcess } from './helpers/main-process';
import { realPostgresUrl } from './helpers/real-postgres';
import { serverEnv } from './helpers/server-env';
import { createTestDatabase } from './helpers/test-database';

const pgUrl = realPostgresUrl('tests/migrate-together.test.ts');

(pgUrl ? describe : describe.skip)('three instances started at once on an empty database', () => {
  jest.setTimeout(120_000);

  it.each([1, 2, 3])('all start, and every migration is applied once (round %i)', async () => {
    const db = await createTestDatabase(pgUrl);
    const env = serverEnv(db);
    const started = await Promise.allSettled([startMain(env), startMain(env), startMain(env)]);
    const running = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    try {
      expect(started.map((r) => (r.status === 'rejected' ? String(r.reason).slice(0, 400) : 'started'))).toEqual([
        'started',
        'started',
        'started',
      ]);
      const client = new Client({ connectionString: db.url });
      await client.connect();
      try {
        const { rows } = await client.query<{ name: string; n: string }>(
          'select name, count(*) as n from mikro_orm_migrations group by name',
        );
        expect(rows.length).toBeGreaterThan(0);
        expect(rows.every((r) => r.n === '1')).toBe(true);
      } finally {
        await client.end();
      }
    } finally {
      await Promise.all(running.map((m: MainProcess) => stopMain(m)));
      await db.drop();
    }
  });
});
