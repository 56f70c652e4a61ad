// What every test database (helpers/test-database.ts) starts from, on TEST_DATABASE_URL and on PGlite alike. On PGlite
// one backend session serves every file of a jest worker, so a new test database must start it afresh.
import { runningFile, setRunningFile } from './helpers/groups';
import { connectTo, createTestDatabase } from './helpers/test-database';

describe('in a group', () => {
  it("refuses the run's test database to a file that groups.ts counts as using none, before touching it", async () => {
    const was = runningFile();
    setRunningFile('schema.test.ts'); // makes no database: CI's PostgreSQL pass leaves it out
    try {
      await expect(createTestDatabase()).rejects.toThrow(
        /schema\.test\.ts makes a test database, but usesTestDatabase/,
      );
    } finally {
      setRunningFile(was);
    }
    // Nothing was taken: this worker's next test database is made as usual.
    const db = await createTestDatabase();
    await db.drop();
  });
});

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
