// `npm run migrate` says what it applied, in order, or "up to date": never the whole list on every run.
import { MIGRATIONS } from '../src/database/migrations';
import { runDist } from './helpers/run-dist';
import { serverEnv } from './helpers/server-env';
import { createTestDatabase } from './helpers/test-database';

describe('npm run migrate', () => {
  it('lists the migrations it applied to a fresh database, then says "up to date"', async () => {
    const db = await createTestDatabase();
    try {
      const env = serverEnv(db);
      const first = await runDist('scripts/migrate', [], env);
      expect(first).toEqual({ code: 0, stdout: `applied: ${MIGRATIONS.map((m) => m.name).join(', ')}\n`, stderr: '' });
      const second = await runDist('scripts/migrate', [], env);
      expect(second).toEqual({ code: 0, stdout: 'up to date\n', stderr: '' });
    } finally {
      await db.drop();
    }
  }, 60_000);
});
