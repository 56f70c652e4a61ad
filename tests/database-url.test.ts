// A DATABASE_URL naming a database that does not exist (a typo) is refused by `npm start` and `npm run migrate`
// with one line, at once, and nothing is created; `npm run db:create` is the explicit way to create it.
// Needs a real PostgreSQL (PGlite has one database whatever the URL says): TEST_DATABASE_URL, else the local one.
import { randomBytes } from 'node:crypto';
import { realPostgresUrl } from './helpers/real-postgres';
import { runDist } from './helpers/run-dist';
import { queryDatabase } from './helpers/test-database';

const pgUrl = realPostgresUrl('tests/database-url.test.ts');
const SECRET = 'database-url-test-secret-of-32-bytes!';

(pgUrl ? describe : describe.skip)('a DATABASE_URL whose database does not exist', () => {
  jest.setTimeout(60_000);
  const created: string[] = [];
  afterAll(async () => {
    for (const name of created) await queryDatabase(pgUrl!, `drop database if exists "${name}" with (force)`);
  });

  /** A database name nobody has, its URL on the test server, and the server's host:port. */
  function missing(prefix = 'portcullis_typo_'): { name: string; url: string; where: string } {
    const name = `${prefix}${randomBytes(5).toString('hex')}`;
    const url = new URL(pgUrl!);
    url.pathname = `/${name}`;
    return { name, url: url.toString(), where: `${url.hostname}:${url.port || '5432'}` };
  }

  async function exists(name: string): Promise<boolean> {
    return (await queryDatabase(pgUrl!, 'select 1 from pg_database where datname = $1', [name])).length > 0;
  }

  const refusal = (name: string, where: string): string =>
    `database "${name}" does not exist on ${where}; create it with npm run db:create (or createdb ${name})\n`;

  it('npm start refuses with one line naming it, without retrying, and creates nothing', async () => {
    const db = missing();
    const { code, stdout, stderr } = await runDist('src/main', [], {
      PORT: '0',
      DATABASE_URL: db.url,
      JWT_SECRET: SECRET,
    });
    expect({ code, stderr }).toEqual({ code: 1, stderr: refusal(db.name, db.where) });
    expect(stdout).not.toMatch(/retrying|listening/); // waiting would not make it exist
    expect(await exists(db.name)).toBe(false);
  });

  it('npm run migrate refuses with the same line, and creates nothing', async () => {
    const db = missing();
    for (const poolSize of ['10', '1']) {
      // Both paths: migrations under the advisory lock, and (one connection) without it.
      const { code, stdout, stderr } = await runDist('scripts/migrate', [], {
        DATABASE_URL: db.url,
        DATABASE_POOL_SIZE: poolSize,
        JWT_SECRET: SECRET,
      });
      expect({ code, stdout, stderr }).toEqual({ code: 1, stdout: '', stderr: refusal(db.name, db.where) });
    }
    expect(await exists(db.name)).toBe(false);
  });

  it('npm run db:create creates it, then says it already exists', async () => {
    const db = missing('portcullis-Created-'); // a name that needs quoting
    created.push(db.name);
    const env = { DATABASE_URL: db.url, JWT_SECRET: SECRET };
    const first = await runDist('scripts/db-create', [], env);
    expect({ code: first.code, stderr: first.stderr }).toEqual({ code: 0, stderr: '' });
    expect(first.stdout).toMatch(new RegExp(`^database "${db.name}" created on ${db.where}\\b`));
    expect(await exists(db.name)).toBe(true);

    const again = await runDist('scripts/db-create', [], env);
    expect({ code: again.code, stdout: again.stdout }).toEqual({
      code: 0,
      stdout: `database "${db.name}" already exists on ${db.where}\n`,
    });

    const migrated = await runDist('scripts/migrate', [], env); // usable: the refusal above is gone
    expect({ code: migrated.code, stderr: migrated.stderr }).toEqual({ code: 0, stderr: '' });
    expect(migrated.stdout).toMatch(/^applied: /);
  });

  it('npm run db:create without DATABASE_URL has nothing to create', async () => {
    const { code, stdout } = await runDist('scripts/db-create', [], {
      JWT_SECRET: SECRET,
      DATA_DIR: './.data-never-created',
    });
    expect({ code, stdout }).toEqual({
      code: 0,
      stdout: expect.stringMatching(/^nothing to create: DATABASE_URL is not set/),
    });
  });
});
