// Embedded PostgreSQL: PGlite persisted under DATA_DIR, served to the normal postgresql driver on a local port.
import { join, resolve } from 'node:path';
import { lockDataDir, type DataDirLock } from './data-dir-lock';

export interface EmbeddedPostgres {
  /** postgres://… URL that the pg driver connects to. */
  readonly url: string;
  stop(): Promise<void>;
}

/**
 * `dataDir` undefined keeps the database in memory (tests). PGlite is one backend session: its socket
 * server multiplexes `maxConnections` clients onto it, queueing each transaction behind the others.
 * A data directory is held by one process at a time (data-dir-lock.ts); `holder` says what this one is, for the
 * line another process refuses with.
 */
export async function startEmbeddedPostgres(
  dataDir: string | undefined,
  maxConnections = 1,
  holder = 'portcullis server',
): Promise<EmbeddedPostgres> {
  // Taken before PGlite opens (or even loads): a refusal is quick and touches no file of the holder's.
  const lock: DataDirLock | undefined = dataDir === undefined ? undefined : lockDataDir(dataDir, holder);
  let closeDb: (() => Promise<void>) | undefined;
  try {
    const { PGlite } = await import('@electric-sql/pglite');
    const { PGLiteSocketServer } = await import('@electric-sql/pglite-socket');
    const db = dataDir === undefined ? await PGlite.create() : await PGlite.create(join(resolve(dataDir), 'pgdata'));
    closeDb = () => db.close();
    const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections });
    await server.start();
    const conn = server.getServerConn(); // "127.0.0.1:PORT"
    return {
      url: `postgres://postgres@${conn}/postgres?sslmode=disable`,
      async stop() {
        try {
          await server.stop();
          await db.close();
        } finally {
          lock?.release();
        }
      },
    };
  } catch (err) {
    await closeDb?.();
    lock?.release();
    throw err;
  }
}
