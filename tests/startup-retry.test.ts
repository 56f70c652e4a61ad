// PostgreSQL not there yet at start-up: the server retries with backoff, says so in the log, then starts.
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { startMain, stopMain, type MainProcess } from './helpers/main-process';
import { createTestDatabase, type TestDatabase } from './helpers/test-database';
import { TEST_JWT_SECRET } from './helpers/test-server';

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

describe('start-up while PostgreSQL is unavailable', () => {
  let db: TestDatabase;
  let proxy: Server | undefined;
  let main: MainProcess | undefined;
  afterAll(async () => {
    if (main) await stopMain(main);
    proxy?.close();
    await db?.drop();
  });

  it('logs that it is retrying, then starts once the database answers', async () => {
    db = await createTestDatabase();
    const target = new URL(db.url);
    const port = await freePort();
    const viaProxy = new URL(db.url);
    viaProxy.port = String(port);

    const starting = startMain({
      PORT: '0',
      DATABASE_URL: viaProxy.toString(),
      DATABASE_POOL_SIZE: String(db.poolSize),
      JWT_SECRET: TEST_JWT_SECRET,
      NODE_ENV: 'development',
    });
    // Collect what it logs while it waits; startMain resolves only once it listens.
    let started: MainProcess | undefined;
    const done = starting.then((m) => (started = m));
    const deadline = Date.now() + 30_000;
    const logged = () => (started?.lines ?? []).join('\n');
    // Give it time to fail at least twice before the database "comes up".
    await new Promise((r) => setTimeout(r, 2500));
    expect(started).toBeUndefined(); // not listening without a database
    proxy = await forward(port, target);
    await done;
    main = started;
    expect(Date.now()).toBeLessThan(deadline);
    expect(logged()).toMatch(/PostgreSQL is not answering; retrying in \d/);

    const ready = await fetch(`${new URL(main!.url).origin}/readyz`);
    expect(ready.status).toBe(200);
  }, 60_000);
});
