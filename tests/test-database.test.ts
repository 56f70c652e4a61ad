// What every test database (helpers/test-database.ts) starts from, on TEST_DATABASE_URL and on PGlite alike. On PGlite
// one backend session serves every file of a jest worker, so a new test database must start it afresh.
import { connectTo, createTestDatabase } from './helpers/test-database';

describe('a new test database', () => {
  it('carries no session state from the one before: temporary tables, settings, prepared statements', async () => {
    const before = await createTestDatabase();
    try {
      const client = await connectTo(before.url);
      await client.query('create temporary table leftover (n int)');
      await client.query("set statement_timeout = '1234s'");
      await client.query('prepare leftover_statement as select 1');
      await client.end(); // on PGlite the session, and all three, outlive the connection
    } finally {
      await before.drop();
    }
    const after = await createTestDatabase();
    try {
      const client = await connectTo(after.url);
      try {
        const { rows } = await client.query<Record<string, unknown>>(
          `select to_regclass('pg_temp.leftover') as leftover, current_setting('statement_timeout') as timeout,
            (select count(*)::int from pg_prepared_statements where name = 'leftover_statement') as prepared`,
        );
        expect(rows).toEqual([{ leftover: null, timeout: '0', prepared: 0 }]);
      } finally {
        await client.end();
      }
    } finally {
      await after.drop();
    }
  });
});
