// Database faults under the real entry point (src/main.ts) on a real PostgreSQL of its own: the server's
// connections killed (pg_terminate_backend) in the middle of a load, and while idle. Requests caught by it
// fail with INTERNAL_SERVER_ERROR and a request id (never a hang, a reset, HTML or internals), the process
// stays up and recovers by itself, and the log records the errors without a secret. Needs PostgreSQL:
// TEST_DATABASE_URL, else 127.0.0.1:5432 if it answers (a failure in CI when neither does).
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { graphqlInit, httpRequest, readyz, type GraphQLBody, type HttpAnswer } from './helpers/client';
import { eventually } from './helpers/eventually';
import { uniqueEmail } from './helpers/flows';
import { startMain, stopMain, type MainProcess } from './helpers/main-process';
import { realPostgresUrl } from './helpers/real-postgres';
import { serverEnv } from './helpers/server-env';
import { TestSmtp } from './helpers/smtp';

jest.setTimeout(120_000);

const BASE_URL = realPostgresUrl('tests/faults.test.ts');
const hasPostgres = BASE_URL !== undefined;

const PASSWORD = 'Faults-Pass-9!';
const KINDS = ['me', 'login', 'refresh', 'register'] as const;
type Kind = (typeof KINDS)[number];
const AUTH = 'accessToken refreshToken user { id email }';
const QUERIES: Record<Kind, string> = {
  me: '{ me { id email } }',
  login: `mutation($e: String!, $p: String!) { login(email: $e, password: $p) { ${AUTH} } }`,
  refresh: `mutation($r: String!) { refresh(refreshToken: $r) { ${AUTH} } }`,
  register: 'mutation($i: RegisterInput!) { register(input: $i) { expiresIn } }',
};
const REQUEST_TIMEOUT_MS = 15_000; // an answer slower than this counts as a hang

const freshEmail = (tag: string): string => uniqueEmail(`faults-${tag}-`);

/** One client's session: the tokens its latest successful login or refresh returned. */
interface Session {
  email: string;
  accessToken: string;
  refreshToken: string;
}

interface Outcome {
  kind: Kind;
  /** A correct success. */
  ok: boolean;
  /** The request id of an INTERNAL_SERVER_ERROR answer. */
  internalError?: string;
  /** Anything else: a hang, a reset, a non-JSON body, another error code, a leaked detail. */
  problem?: string;
}

const seenTokens = new Set<string>();

async function call(url: string, kind: Kind, session: Session): Promise<Outcome> {
  const variables: Record<Kind, Record<string, unknown>> = {
    me: {},
    login: { e: session.email, p: PASSWORD },
    refresh: { r: session.refreshToken },
    register: { i: { email: freshEmail('load'), password: PASSWORD } },
  };
  let answer: HttpAnswer<GraphQLBody>;
  try {
    answer = await httpRequest(
      url,
      graphqlInit(
        { query: QUERIES[kind], variables: variables[kind] },
        {
          token: kind === 'me' ? session.accessToken : undefined,
          signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        },
      ),
    );
  } catch (err) {
    const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
    return {
      kind,
      ok: false,
      problem: e.name === 'TimeoutError' ? 'hang' : `transport: ${e.cause?.code ?? e.cause?.message ?? e.message}`,
    };
  }
  const { status, text, body } = answer;
  if (body === undefined) return { kind, ok: false, problem: `HTTP ${status}, not JSON: ${text.slice(0, 200)}` };
  if (body.errors === undefined) {
    const data = body.data?.[kind];
    const ok =
      status === 200 &&
      (kind === 'me'
        ? data?.email === session.email
        : kind === 'register'
          ? typeof data?.expiresIn === 'number'
          : typeof data?.accessToken === 'string' &&
            typeof data?.refreshToken === 'string' &&
            data?.user?.email === session.email);
    if (!ok) return { kind, ok: false, problem: `HTTP ${status}, unexpected data: ${text.slice(0, 300)}` };
    if (kind === 'login' || kind === 'refresh') {
      seenTokens.add(data.accessToken).add(data.refreshToken);
      if (kind === 'refresh')
        Object.assign(session, { accessToken: data.accessToken, refreshToken: data.refreshToken });
    }
    return { kind, ok: true };
  }
  const [error] = body.errors;
  const requestId = error?.extensions?.requestId;
  const generic =
    body.errors.length === 1 &&
    error?.message === 'Internal server error' &&
    error.extensions?.code === 'INTERNAL_SERVER_ERROR' &&
    typeof requestId === 'string' &&
    !/stack|sql|select|insert|update|terminat|postgres/i.test(JSON.stringify(error));
  if (!generic)
    return { kind, ok: false, problem: `HTTP ${status}, not a generic internal error: ${text.slice(0, 300)}` };
  return { kind, ok: false, internalError: requestId };
}

(hasPostgres ? describe : describe.skip)('PostgreSQL connections dropped under the server', () => {
  const dbName = `portcullis_faults_${randomBytes(6).toString('hex')}`;
  const dbUrl = new URL(BASE_URL ?? 'postgres://unused');
  dbUrl.pathname = `/${dbName}`;
  let admin: Client; // on the base database, so the terminations never hit it
  let smtp: TestSmtp;
  let main: MainProcess;
  const stdout: string[] = [];
  let session: Session;

  /** Terminates every connection to the server's database; returns how many there were. */
  async function terminateAll(): Promise<number> {
    const { rows } = await admin.query(
      'select pg_terminate_backend(pid) as killed from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()',
      [dbName],
    );
    return rows.filter((r: { killed: boolean }) => r.killed).length;
  }

  /** The server's connections to its database, and how many of them are running a statement. */
  async function serverConnections(): Promise<{ total: number; busy: number }> {
    const { rows } = await admin.query(
      `select count(*)::int as total, (count(*) filter (where state <> 'idle'))::int as busy
         from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()`,
      [dbName],
    );
    return rows[0] as { total: number; busy: number };
  }

  async function graphql(query: string, variables: Record<string, unknown>): Promise<any> {
    const { data, errors } = await main.gql(query, variables);
    if (errors) throw new Error(`${query}: ${JSON.stringify(errors)}`);
    return data;
  }

  /** A new session of the user (a login, before any fault). */
  async function signIn(email: string): Promise<Session> {
    const { login } = await graphql(QUERIES.login, { e: email, p: PASSWORD });
    seenTokens.add(login.accessToken).add(login.refreshToken);
    return { email, accessToken: login.accessToken, refreshToken: login.refreshToken };
  }

  /**
   * stdout holds only JSON lines, and nothing the process printed holds the password, a code or a token —
   * nor a value of the SQL in a database error (the user's email, a bcrypt hash): only the statement's shape.
   */
  function expectCleanLogs(): void {
    expect(stdout.length).toBeGreaterThan(5);
    for (const line of stdout) expect(() => JSON.parse(line)).not.toThrow();
    const everything = main.lines.join('\n');
    for (const secret of [PASSWORD, ...seenTokens, session.email, '$2b$']) expect(everything).not.toContain(secret);
  }

  /** Rounds of one request of each kind until a round succeeds entirely; when that was (Infinity: never). */
  async function untilAllSucceed(withinMs: number): Promise<{ at: number; rounds: Outcome[][] }> {
    const rounds: Outcome[][] = [];
    const allOk = (round: Outcome[]) => round.every((o) => o.ok);
    const last = await eventually(
      async () => {
        const round = await Promise.all(KINDS.map((kind) => call(main.url, kind, session)));
        rounds.push(round);
        return round;
      },
      allOk,
      { timeoutMs: withinMs, intervalMs: 200, onTimeout: 'return' },
    );
    return { at: allOk(last) ? Date.now() : Infinity, rounds };
  }

  /** Whether stdout has (or gets within a second) an error line for `requestId`. */
  function loggedError(requestId: string): Promise<boolean> {
    return eventually(
      () => stdout.some((line) => line.includes(requestId) && JSON.parse(line).level === 'error'),
      Boolean,
      { timeoutMs: 1000, intervalMs: 50, onTimeout: 'return' },
    );
  }

  beforeAll(async () => {
    admin = new Client({ connectionString: BASE_URL! });
    await admin.connect();
    await admin.query(`create database ${dbName}`);
    smtp = new TestSmtp();
    await smtp.start();
    main = await startMain(serverEnv({ url: dbUrl.toString() }, { SMTP_URL: smtp.url }));
    let buffered = '';
    main.child.stdout!.on('data', (d: Buffer) => {
      const parts = (buffered + d.toString()).split('\n');
      buffered = parts.pop()!;
      stdout.push(...parts);
    });
    const email = freshEmail('user');
    await graphql(QUERIES.register, { i: { email, password: PASSWORD } });
    const code = await smtp.codeFor(email, /confirm/i);
    const { verifyOtp } = await graphql(
      `mutation($e: String!, $c: String!) { verifyOtp(email: $e, code: $c, purpose: VERIFY_EMAIL) { ${AUTH} } }`,
      { e: email, c: code },
    );
    seenTokens.add(code).add(verifyOtp.accessToken).add(verifyOtp.refreshToken);
    session = await signIn(email);
  });

  afterAll(async () => {
    if (main) await stopMain(main);
    await smtp?.stop();
    if (admin) {
      await admin.query(`drop database if exists ${dbName} with (force)`);
      await admin.end();
    }
  });

  it('mid-load: requests fail only as INTERNAL_SERVER_ERROR with a request id, the process stays up and recovers', async () => {
    // Eight clients, each with a session of its own, cycling through the four kinds of request.
    const sessions = await Promise.all(Array.from({ length: 8 }, () => signIn(session.email)));
    const outcomes: Outcome[] = [];
    let loading = true;
    const workers = sessions.map(async (own, w) => {
      for (let i = w; loading; i++) outcomes.push(await call(main.url, KINDS[i % KINDS.length]!, own));
    });
    // Cuts while the load runs, counted in answers rather than seconds: as many requests on a slow machine.
    const answered = (n: number) =>
      eventually(
        () => outcomes.length,
        (count) => count >= n,
        { timeoutMs: 60_000 },
      );
    const terminated: number[] = [];
    for (const after of [16, 40, 64]) {
      await answered(after);
      terminated.push(await terminateAll());
    }
    const lastTermination = Date.now();
    await answered(96);
    loading = false;
    await Promise.all(workers);

    expect(terminated.some((n) => n > 0)).toBe(true); // the server's connections really were cut
    expect(outcomes.filter((o) => o.problem !== undefined)).toEqual([]);
    for (const kind of KINDS) expect(outcomes.filter((o) => o.kind === kind).length).toBeGreaterThan(5);
    expect(main.child.exitCode).toBeNull();

    const recovery = await untilAllSucceed(5000);
    expect(recovery.rounds.flat().filter((o) => o.problem !== undefined)).toEqual([]);
    expect(recovery.at - lastTermination).toBeLessThan(5000);
    expect((await readyz(main.url)).status).toBe(200);
    expect(main.child.exitCode).toBeNull();
    expect(main.lines.filter((l) => l.includes('listening on')).length).toBe(1); // no restart

    // Each failure is in the log under its request id, as one JSON line.
    const failed = [...outcomes, ...recovery.rounds.flat()].flatMap((o) => (o.internalError ? [o.internalError] : []));
    for (const requestId of failed) expect(await loggedError(requestId)).toBe(true);
    expectCleanLogs();
  });

  it("a statement with the user's email that fails under the server leaves the email out of every log line", async () => {
    // The login's lookup, `where … email = '<email>'`, waits on a table lock; then its backend is terminated.
    const locker = new Client({ connectionString: dbUrl.toString() });
    await locker.connect();
    try {
      await locker.query('begin');
      await locker.query('lock table users in access exclusive mode');
      const answer = call(main.url, 'login', session);
      const waiting = await eventually(
        async () => {
          const { rows } = await admin.query(
            `select pid from pg_stat_activity where datname = $1 and wait_event_type = 'Lock' and position($2 in query) > 0`,
            [dbName, session.email],
          );
          return rows as Array<{ pid: number }>;
        },
        (rows) => rows.length === 1,
      );
      await admin.query('select pg_terminate_backend($1)', [waiting[0]!.pid]);
      const outcome = await answer;
      expect(outcome).toEqual({ kind: 'login', ok: false, internalError: expect.any(String) });
      expect(await loggedError(outcome.internalError!)).toBe(true);
      const logged = stdout
        .map((line) => JSON.parse(line))
        .find((e) => e.requestId === outcome.internalError && e.level === 'error');
      expect(logged.err.message).toMatch(/from "users" as "u0" where .*"u0"."email" = '\?'/); // the statement, not its values
    } finally {
      await locker.query('rollback').catch(() => undefined);
      await locker.end();
    }
    expectCleanLogs();
  });

  it('idle: after every connection is terminated, requests recover at once, each dropped connection failing one at most', async () => {
    await Promise.all(Array.from({ length: 8 }, () => call(main.url, 'me', session))); // several pooled connections
    await eventually(serverConnections, (c) => c.total > 0 && c.busy === 0); // all back in the pool, idle
    const dropped = await terminateAll();
    expect(dropped).toBeGreaterThan(0);
    // Right away, one request after the other: a pooled connection whose end the server has not read yet
    // may fail the request it is given (PostgreSQL ends backends a few milliseconds after being asked).
    const outcomes: Outcome[] = [];
    for (let i = 0; i < 16; i++) outcomes.push(await call(main.url, KINDS[i % KINDS.length]!, session));
    expect(outcomes.filter((o) => o.problem !== undefined)).toEqual([]);
    expect(outcomes.filter((o) => !o.ok).length).toBeLessThanOrEqual(dropped);
    expect(outcomes.slice(-KINDS.length)).toEqual(KINDS.map((kind) => ({ kind, ok: true })));
    const recovery = await untilAllSucceed(1000);
    expect(recovery.rounds).toHaveLength(1);
    expect(main.child.exitCode).toBeNull();
    expectCleanLogs();
  });
});
