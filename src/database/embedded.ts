// Embedded PostgreSQL: PGlite persisted under DATA_DIR, served to the normal postgresql driver on a local port.
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

export interface EmbeddedPostgres {
  /** postgres://… URL that the pg driver connects to. */
  readonly url: string;
  stop(): Promise<void>;
}

/**
 * `dataDir` undefined keeps the database in memory (tests). PGlite is one backend session: its socket
 * server multiplexes `maxConnections` clients onto it, queueing each transaction behind the others.
 */
export async function startEmbeddedPostgres(dataDir: string | undefined, maxConnections = 1): Promise<EmbeddedPostgres> {
  const { PGlite } = await import('@electric-sql/pglite');
  const { PGLiteSocketServer } = await import('@electric-sql/pglite-socket');
  let db;
  if (dataDir === undefined) {
    db = await PGlite.create();
  } else {
    const dir = resolve(dataDir, 'pgdata');
    mkdirSync(join(dir, '..'), { recursive: true });
    db = await PGlite.create(dir);
  }
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections });
  await server.start();
  const conn = server.getServerConn(); // "127.0.0.1:PORT"
  return {
    url: `postgres://postgres@${conn}/postgres?sslmode=disable`,
    async stop() {
      await server.stop();
      await db.close();
    },
  };
}
