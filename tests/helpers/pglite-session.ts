// The test run's PGlite is one backend session shared by every connection to it (an app, a script beside it, two
// servers). pglite-socket's own queue (0.2.17, 0.2.18) runs the connections' protocol messages one at a time and keeps
// to one connection only while a transaction is open: a batch of another connection (Parse, Bind, Execute, Sync), or a
// BEGIN in the middle of one, lands between a batch's messages, and a connection binds or executes the other's
// statement ("portal does not exist", or rows of the wrong query; electric-sql/pglite#1046, open). This queue, which
// pglite-socket's connection handler takes in its place, gives the session to one connection from the first message
// of a batch to its end, and for as long as a transaction it opened stays open. Tested by test-pglite.test.ts.
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';

/** What the queue needs of PGlite (its ES module's type cannot be named from this CommonJS file). */
export interface PgliteSession {
  runExclusive<T>(fn: () => Promise<T>): Promise<T>;
  execProtocolRawStream(message: Uint8Array, options: { onRawData: (data: Uint8Array) => void }): Promise<void>;
  isInTransaction(): boolean;
  exec(query: string): Promise<unknown>;
}

interface Waiting {
  handlerId: number;
  message: Uint8Array;
  onData: (data: Uint8Array) => void;
  resolve: (bytes: number) => void;
  reject: (err: unknown) => void;
}

// The first byte of a frontend message that ends a batch: Sync, a simple Query, Terminate. A startup message has no
// type byte: it starts with its length, whose first byte is 0.
const ENDS_BATCH = new Set([0x53 /* S */, 0x51 /* Q */, 0x58 /* X */, 0x00 /* startup */]);

export class SessionQueue {
  private readonly waiting: Waiting[] = [];
  /** The connection the session belongs to until its batch ends and no transaction of its is open. */
  private owner: number | null = null;
  /** Connections that went away (their handler ids): the session is taken back from one of them. */
  private readonly closed = new Set<number>();
  private running = false;

  constructor(private readonly db: PgliteSession) {}

  enqueue(handlerId: number, message: Uint8Array, onData: (data: Uint8Array) => void): Promise<number> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ handlerId, message, onData, resolve, reject });
      void this.run();
    });
  }

  /** A connection that went away: what it left waiting is refused. */
  clearQueueForHandler(handlerId: number): void {
    for (let i = this.waiting.length - 1; i >= 0; i--) {
      const item = this.waiting[i]!;
      if (item.handlerId !== handlerId) continue;
      this.waiting.splice(i, 1);
      item.reject(new Error('connection closed'));
    }
  }

  /**
   * A connection that went away: if the session is its, a transaction it left open is rolled back and the session
   * is free again (now, or once a message of it that is running has run).
   */
  clearTransactionIfNeeded(handlerId: number): Promise<void> {
    this.closed.add(handlerId);
    return this.run();
  }

  /** The next message to run: the owner's, if the session has one, else the oldest. */
  private next(): Waiting | undefined {
    const i = this.owner === null ? 0 : this.waiting.findIndex((w) => w.handlerId === this.owner);
    return i === -1 ? undefined : this.waiting.splice(i, 1)[0];
  }

  private async run(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      for (;;) {
        if (this.owner !== null && this.closed.has(this.owner)) {
          this.owner = null;
          if (this.db.isInTransaction()) await this.db.exec('ROLLBACK').catch(() => undefined); // PGlite closed
        }
        const item = this.next();
        if (item === undefined) break;
        let bytes = 0;
        try {
          await this.db.runExclusive(() =>
            this.db.execProtocolRawStream(item.message, {
              onRawData: (data) => {
                bytes += data.length;
                item.onData(data);
              },
            }),
          );
        } catch (err) {
          // Its handler closes the connection, and the session is taken back from it then.
          this.owner = item.handlerId;
          item.reject(err);
          continue;
        }
        const ended = ENDS_BATCH.has(item.message[0]!) && !this.db.isInTransaction();
        this.owner = ended ? null : item.handlerId;
        item.resolve(bytes);
      }
    } finally {
      this.running = false;
    }
  }
}

/**
 * Serves `db` on 127.0.0.1 (a free port) through pglite-socket's connection handler and a SessionQueue; resolves with
 * its port and a close that ends every connection.
 */
export async function serveSession(
  db: PgliteSession,
  maxConnections: number,
): Promise<{ port: number; close(): Promise<void> }> {
  const { PGLiteSocketHandler } = await import('@electric-sql/pglite-socket');
  // The handler's option is typed as pglite-socket's own queue class (private fields); it calls the methods above.
  const queryQueue = new SessionQueue(db) as unknown as ConstructorParameters<
    typeof PGLiteSocketHandler
  >[0]['queryQueue'];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    new PGLiteSocketHandler({ queryQueue, closeOnDetach: true }).attach(socket).catch(() => socket.destroy());
  });
  server.maxConnections = maxConnections;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
