// Starts the real HTTP server for one test file: its own database, a real SMTP server, a movable clock.
import { loadConfig } from '../../src/config/config';
import { silentLogger, type Logger } from '../../src/common/logger';
import { LIMIT_DEFAULTS } from '../../src/config/limits';
import { createServer, type PortcullisServer } from '../../src/server/create-server';
import { FakeClock } from './fake-clock';
import { TestSmtp } from './smtp';
import { createTestDatabase, type TestDatabase } from './test-database';

export const TEST_JWT_SECRET = 'test-secret-that-is-at-least-32-bytes-long!';

export const RELAXED_LIMITS: Record<string, string> = {
  RATE_LIMIT_PER_MINUTE: '1000000',
  ...Object.fromEntries(LIMIT_DEFAULTS.map((d) => [d.variable, '1000000/1s'])),
};

export interface GraphQLResponse<T = Record<string, any>> {
  status: number;
  data?: T | null;
  errors?: Array<{ message: string; path?: string[]; extensions?: Record<string, any> }>;
}

export interface TestApp {
  readonly url: string;
  readonly server: PortcullisServer;
  readonly smtp: TestSmtp;
  readonly clock: FakeClock;
  readonly db: TestDatabase;
  gql<T = Record<string, any>>(
    query: string,
    variables?: Record<string, unknown>,
    opts?: { token?: string; headers?: Record<string, string> },
  ): Promise<GraphQLResponse<T>>;
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
}

export async function startTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const db = await createTestDatabase(options.postgres);
  const smtp = new TestSmtp();
  await smtp.start();
  const config = loadConfig({
    NODE_ENV: 'test',
    DATABASE_URL: db.url,
    DATABASE_POOL_SIZE: String(db.poolSize),
    SMTP_URL: smtp.url,
    JWT_SECRET: TEST_JWT_SECRET,
    BCRYPT_COST: '4',
    // Request limits out of the way; tests of the limits themselves set them.
    ...RELAXED_LIMITS,
    ...options.env,
  });
  const clock = new FakeClock();
  const server = await createServer(config, {
    clock: options.realClock ? undefined : clock,
    logger: options.logger ?? silentLogger,
    outbox: { pollMs: 50, retryBaseMs: 100, retryMaxMs: 500 },
  });
  const port = await server.listen(0);
  const url = `http://127.0.0.1:${port}/graphql`;

  return {
    url,
    server,
    smtp,
    clock,
    db,
    async gql(query, variables, opts = {}) {
      const headers: Record<string, string> = { 'content-type': 'application/json', ...opts.headers };
      if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
      const res = await fetch(url, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
      const body = (await res.json()) as GraphQLResponse<any>;
      return { ...body, status: res.status };
    },
    async sql(query, params) {
      return server.orm.em.getConnection().execute(query, params ?? []);
    },
    async stop() {
      await server.stop();
      await smtp.stop();
      await db.drop();
    },
  };
}

/** The `extensions.code` of the first error, or undefined. */
export function errorCode(res: GraphQLResponse): string | undefined {
  return res.errors?.[0]?.extensions?.code as string | undefined;
}
