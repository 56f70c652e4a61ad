// The test run's PGlite (helpers/test-pglite.ts) behind its socket: several connections at once, as a test app and
// a script or a second server make (admin.test.ts, redis-limits.test.ts), each get their own answers. PGlite is one
// backend session; pglite-socket's own queue interleaves two connections' extended-protocol messages, so that one
// binds the other's statement (electric-sql/pglite#1046; helpers/pglite-session.ts). Not in CI's PostgreSQL pass,
// which has no PGlite (tests/helpers/groups.ts: this file touches no test database of its own).
import { Client } from 'pg';

const URLS = (process.env.TEST_PGLITE_URLS ?? '').split(',').filter(Boolean);
const WHY = 'this run has no PGlite (it runs on PostgreSQL)';
if (URLS.length === 0 && process.env.CI) throw new Error(`test-pglite.test.ts needs the run's PGlite in CI: ${WHY}`);
if (URLS.length === 0) console.warn(`Skipping test-pglite.test.ts: ${WHY}.`);
const withPglite = URLS.length > 0 ? describe : describe.skip;

/** A connection of its own to this worker's PGlite. */
async function connect(): Promise<Client> {
  const client = new Client({ connectionString: URLS[(Number(process.env.JEST_WORKER_ID ?? '1') - 1) % URLS.length] });
  await client.connect();
  return client;
}

withPglite("the run's PGlite, several connections at once", () => {
  let clients: Client[] = [];
  beforeAll(async () => {
    clients = await Promise.all([1, 2, 3, 4].map(connect));
  });
  afterAll(async () => {
    // The session outlives this file (the next file of this worker gets it): leave none of its tables behind.
    await clients[0]?.query('drop table if exists mine, seen');
    await Promise.all(clients.map((c) => c.end()));
  });

  it('answers each connection its own queries, 4 connections × 100 rounds at once, transactions and all', async () => {
    const answers = await Promise.all(
      clients.map(async (client, c) => {
        const wrong: string[] = [];
        await client.query('create temporary table if not exists mine (text text)');
        for (let i = 0; i < 100; i++) {
          const text = `client ${c} round ${i}`;
          // Statements of different shapes: a bind against another connection's statement shows.
          const { rows } =
            c % 2 === 0
              ? await client.query<{ text: string; n: number }>('select $1::text as text, $2::int as n', [text, i])
              : await client.query<{ text: string; n: number }>('select $2::int as n, $1::text as text', [text, i]);
          if (rows[0]?.text !== text || rows[0]?.n !== i) wrong.push(`${text}: ${JSON.stringify(rows)}`);
          await client.query('begin');
          await client.query('insert into mine (text) values ($1)', [text]);
          await client.query('commit');
        }
        return wrong;
      }),
    );
    expect(answers.flat()).toEqual([]);
  });

  it("keeps a connection's transaction to itself: the others wait for its commit, then see it", async () => {
    const [owner, other] = clients as [Client, Client];
    await owner.query('create temporary table if not exists seen (n int)');
    await owner.query('begin');
    await owner.query('insert into seen values ($1)', [1]);
    const outside = other.query<{ inside: boolean }>('select pg_current_xact_id_if_assigned() is not null as inside');
    await owner.query('insert into seen values ($1)', [2]);
    await owner.query('commit');
    expect((await outside).rows).toEqual([{ inside: false }]);
  });

  it('takes the session back from a connection that goes away inside its transaction: rolled back, the others go on', async () => {
    const [other] = clients as [Client];
    await other.query('create temporary table if not exists seen (n int)');
    await clients.pop()!.end(); // the instance takes 4 connections
    const quitter = await connect();
    quitter.on('error', () => undefined); // its end, below, is the point
    await quitter.query('begin');
    await quitter.query('insert into seen values ($1)', [3]);
    const waiting = other.query<{ n: number }>('select count(*)::int as n from seen where n = $1', [3]);
    quitter.connection.stream.destroy(); // gone without COMMIT or ROLLBACK
    expect((await waiting).rows).toEqual([{ n: 0 }]);
  });
});
