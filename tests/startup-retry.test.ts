// PostgreSQL not there yet at start-up: the server retries with backoff, says so in the log, then starts.
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { readyz } from './helpers/client';
import { LISTENING, spawnMain, stopMain, type StartingMain } from './helpers/main-process';
import { serverEnv } from './helpers/server-env';
import { createTestDatabase, type TestDatabase } from './helpers/test-database';

/** A TCP forwarder standing in for a PostgreSQL that comes up late. */
function forward(listenPort: number, target: URL): Promise<Server> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(Number(target.port), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
    }
    client.pipe(upstream).pipe(client);
  });
  server.on('close', () => sockets.forEach((s) => s.destroy()));
  return new Promise((resolve) => server.listen(listenPort, '127.0.0.1', () => resolve(server)));
}

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', () => resolve()));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

const RETRYING = /PostgreSQL is not answering; retrying in \d/;

describe('start-up while PostgreSQL is unavailable', () => {
  let db: TestDatabase;
  let proxy: Server | undefined;
  let starting: StartingMain | undefined;
  afterAll(async () => {
    if (starting) await stopMain(starting);
    proxy?.close();
    await db?.drop();
  });

  it('logs that it is retrying, then starts once the database answers', async () => {
    db = await createTestDatabase();
    const target = new URL(db.url);
    const port = await freePort();
    const viaProxy = new URL(db.url);
    viaProxy.port = String(port);

    starting = spawnMain(serverEnv({ url: viaProxy.toString(), poolSize: db.poolSize }));
    starting.listening.catch(() => {}); // awaited below; a failure meanwhile must not be an unhandled rejection
    // Two failed tries logged (the event, not a guess at how long they take): it is waiting, not listening.
    const retries = await starting.output.waitFor(RETRYING, { count: 2, what: 'two retry lines' });
    expect(retries.map((line) => JSON.parse(line).msg)).toEqual([
      expect.stringMatching(/retrying in 0\.5 s$/),
      expect.stringMatching(/retrying in 1 s$/),
    ]);
    expect(starting.output.matching(LISTENING)).toEqual([]);
    expect(starting.child.exitCode).toBeNull();

    proxy = await forward(port, target);
    const main = await starting.listening;
    const ready = await readyz(main.url);
    expect(ready.status).toBe(200);
  }, 60_000);
});
