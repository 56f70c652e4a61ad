// Starts the real HTTP server for one test file: its own database, a real SMTP server, a movable clock.
import { loadConfig } from '../../src/config/config';
import { silentLogger, type Logger } from '../../src/common/logger';
import { createServer, type PortcullisServer } from '../../src/server/create-server';
import type { WebhookSenderSettings } from '../../src/modules/webhooks/webhook-sender';
import { graphqlClient, type GraphQLClient } from './client';
import { FakeClock } from './fake-clock';
import { serverEnv } from './server-env';
import { TestSmtp } from './smtp';
import { createTestDatabase, type TestDatabase } from './test-database';

export { errorCode, ok, type GraphQLResponse } from './client';
export { RELAXED_LIMITS, TEST_JWT_SECRET } from './server-env';

export interface TestApp extends GraphQLClient {
  readonly server: PortcullisServer;
  readonly smtp: TestSmtp;
  readonly clock: FakeClock;
  readonly db: TestDatabase;
  /** Runs SQL on the app's database and returns the rows. */
  sql<T = Record<string, unknown>>(query: string, params?: unknown[]): Promise<T[]>;
  stop(): Promise<void>;
}

export interface TestAppOptions {
  env?: Record<string, string>;
  logger?: Logger;
  /** Use the system clock (for tests that wait on real time, like mail retries). */
  realClock?: boolean;
  /** A real PostgreSQL to create this app's database on (helpers/real-postgres.ts), whatever TEST_DATABASE_URL says. */
  postgres?: string;
  /** The webhook sender's timing (production's unless set). */
  webhooks?: Partial<WebhookSenderSettings>;
}

export async function startTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const db = await createTestDatabase(options.postgres, { migrated: true });
  const smtp = new TestSmtp();
  const clock = new FakeClock();
  let server: PortcullisServer | undefined;
  try {
    await smtp.start();
    const config = loadConfig(serverEnv(db, { NODE_ENV: 'test', SMTP_URL: smtp.url, ...options.env }));
    server = await createServer(config, {
      clock: options.realClock ? undefined : clock,
      logger: options.logger ?? silentLogger,
      // The senders poll once a second, as in production: a commit kicks them at once, so only a retry (or a delivery
      // made due by moving the clock) waits for a poll. The 50 ms poll used before cost an idle app about 65 ms of CPU
      // a second (worker and PGlite); without it a whole run used 3% less CPU, and the retries wait a few seconds more.
      outbox: { retryBaseMs: 100, retryMaxMs: 500 },
      webhooks: options.webhooks,
    });
    // Node closes an idle keep-alive connection after 5 s and fetch stops reusing one after 4 s: on a busy machine a
    // request sent at that edge meets the closing socket (ECONNRESET, nodejs/undici#3141). Tests often pause for a
    // few seconds, never for a minute, so a test app keeps idle connections for one.
    server.httpServer.keepAliveTimeout = 60_000;
    const port = await server.listen(0);
    return testApp(server, smtp, clock, db, `http://127.0.0.1:${port}/graphql`);
  } catch (err) {
    // An app that would not start gives its database back: on PGlite the next app of this worker needs it.
    await server?.stop().catch(() => undefined);
    await smtp.stop().catch(() => undefined);
    await db.drop().catch(() => undefined);
    throw err;
  }
}

function testApp(server: PortcullisServer, smtp: TestSmtp, clock: FakeClock, db: TestDatabase, url: string): TestApp {
  return {
    ...graphqlClient(url),
    server,
    smtp,
    clock,
    db,
    async sql(query, params) {
      return server.orm.em.getConnection().execute(query, params ?? []);
    },
    async stop() {
      try {
        await server.stop();
        await smtp.stop();
      } finally {
        await db.drop();
      }
    },
  };
}
