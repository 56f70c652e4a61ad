// Structured logs: one JSON line per request with what operators need, and never a secret.
import { capture } from './helpers/log-capture';
import { Client } from 'pg';
import { loadConfig } from '../src/config/config';
import { createLogger } from '../src/common/logger';
import { PASSWORD, refresh, signUp, uniqueEmail } from './helpers/flows';
import { serverEnv } from './helpers/server-env';
import { startTestApp, type TestApp } from './helpers/test-server';
import { SLOW_REQUEST_MS } from '../src/server/request-log';

let app: TestApp;
const log = capture();
beforeAll(async () => {
  app = await startTestApp({ logger: createLogger('info', log.stream) });
});
afterAll(async () => {
  await app.stop();
});

const entries = () => log.lines.map((l) => JSON.parse(l) as Record<string, any>);

describe('request logs', () => {
  it('writes one JSON line per request with request id, operation, duration, status, user id and IP', async () => {
    const user = await signUp(app);
    const res = await app.gql('query Who { me { id } }', undefined, { token: user.accessToken });
    const requestId = res.headers.get('x-request-id');
    const lines = entries().filter((e) => e.requestId === requestId);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 'info',
      msg: 'graphql request',
      operation: 'Who',
      status: 200,
      userId: user.user.id,
      ip: expect.stringMatching(/127\.0\.0\.1/),
    });
    expect(typeof lines[0]!.durationMs).toBe('number');
    expect(typeof lines[0]!.time).toBe('string');
  });

  it('logs a request slower than 2 s as a warning, with the same fields', async () => {
    // The database holds the request up: a table lock taken by another connection, released after 2.2 s.
    const blocker = new Client({ connectionString: app.db.url });
    await blocker.connect();
    await blocker.query('begin');
    await blocker.query('lock table users in access exclusive mode');
    const arrived = new Promise((resolve) => app.server.httpServer.once('request', resolve));
    const pending = app.gql('mutation Slow($i: RegisterInput!) { register(input: $i) { expiresIn } }', {
      i: { email: uniqueEmail('slow'), password: PASSWORD },
    });
    await arrived; // held from when the server has it, not from when it was sent: over 2 s however late it arrives
    await new Promise((r) => setTimeout(r, SLOW_REQUEST_MS + 200));
    await blocker.query('commit');
    await blocker.end();
    const res = await pending;
    expect(res.data).toBeTruthy();
    const [line] = entries().filter((e) => e.requestId === res.headers.get('x-request-id'));
    expect(line).toMatchObject({ level: 'warn', msg: 'slow graphql request', operation: 'Slow', status: 200 });
    expect(line!.durationMs).toBeGreaterThan(SLOW_REQUEST_MS);
  });

  it('names the error codes of a failed request, and no user when none signed in', async () => {
    const res = await app.gql('mutation Nope { logoutAll }');
    const requestId = res.headers.get('x-request-id');
    const [line] = entries().filter((e) => e.requestId === requestId);
    expect(line).toMatchObject({ operation: 'Nope', errors: ['UNAUTHENTICATED'], userId: null });
  });

  it('never holds a password, code, access or refresh token, or Authorization header', async () => {
    const email = uniqueEmail('logs');
    const before = app.smtp.messages.length;
    const user = await signUp(app, email, PASSWORD);
    const code = await app.smtp.codeFor(email, /confirm/i, before);
    const rotated = (await refresh(app, user.refreshToken)).data!.refresh;
    await app.gql(
      'mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }',
      { c: PASSWORD, n: 'Another-Secret-77' },
      { token: rotated.accessToken },
    );
    const all = log.lines.join('\n');
    expect(log.lines.length).toBeGreaterThan(3);
    for (const secret of [
      PASSWORD,
      'Another-Secret-77',
      code,
      user.refreshToken,
      rotated.refreshToken,
      user.accessToken,
      rotated.accessToken,
    ]) {
      expect(all).not.toContain(secret);
    }
  });
});

describe('the logger', () => {
  it('redacts secrets by key even when code passes them by mistake', () => {
    const out = capture();
    createLogger('info', out.stream).info('oops', {
      password: 'hunter2',
      req: { headers: { authorization: 'Bearer abc.def.ghi', cookie: 'portcullis_refresh=xyz' } },
      input: { refreshToken: 'r-123', code: '123456' },
    });
    const line = out.lines.join('\n');
    for (const secret of ['hunter2', 'abc.def.ghi', 'portcullis_refresh=xyz', 'r-123', '123456'])
      expect(line).not.toContain(secret);
    expect(line).toContain('[redacted]');
  });

  it('honours LOG_LEVEL and refuses an unknown one', () => {
    const out = capture();
    const quiet = createLogger(loadConfig({ JWT_SECRET: 'x'.repeat(40), LOG_LEVEL: 'warn' }).logLevel, out.stream);
    quiet.info('not shown');
    quiet.warn('shown');
    expect(out.lines.map((l) => JSON.parse(l).msg)).toEqual(['shown']);
    expect(() => loadConfig({ JWT_SECRET: 'x'.repeat(40), LOG_LEVEL: 'chatty' })).toThrow(/LOG_LEVEL/);
  });
});

import { spawn } from 'node:child_process';
import { distEntry, LISTENING, ROOT } from './helpers/main-process';
import { OutputLines } from './helpers/output-lines';
import { errorFields, prettyLogs } from '../src/common/logger';
import { User } from '../src/modules/users/user.entity';

describe('database errors in the log', () => {
  /** What the query threw, or fails. */
  async function failure(query: Promise<unknown>): Promise<Error> {
    try {
      await query;
    } catch (err) {
      return err as Error;
    }
    throw new Error('the query did not fail');
  }

  it('keep the failing statement but not its values, from the error itself on', async () => {
    const email = 'sql-value@example.com';
    const thrown = await failure(
      app.server.orm.em
        .getConnection()
        .execute('select 1 / 0 as boom from users where email = ? or ? = ?', [email, "it's", 'x']),
    );
    // Scrubbed where knex builds the message: whatever logs or rethrows the error has no values to leak.
    expect(thrown.message).toContain('from users where email = ');
    expect(thrown.message).toContain('division by zero');
    for (const text of [thrown.message, String(thrown.stack), JSON.stringify(thrown)]) {
      expect(text).not.toContain(email);
      expect(text).not.toContain("it''s");
    }
    const out = capture();
    createLogger('info', out.stream).error('unexpected error', errorFields(thrown));
    const line = out.lines.join('\n');
    expect(line).not.toContain(email);
    expect(line).toContain('division by zero');
  });

  it('keep neither a value PostgreSQL quotes in its message nor the key in a constraint violation', async () => {
    const secret = 'not-a-uuid-secret@example.com';
    const badUuid = await failure(
      app.server.orm.em.getConnection().execute('select id from users where id = ?', [secret]),
    );
    expect(badUuid.message).toMatch(/invalid input syntax for type uuid/);
    const [first, second] = [await signUp(app), await signUp(app)];
    const duplicate = await failure(
      app.server.orm.em
        .getConnection()
        .execute('update users set email = ? where id = ?', [first.user.email, second.user.id]),
    );
    expect(duplicate.message).toMatch(/duplicate key/);
    expect((duplicate as { detail?: string }).detail).toMatch(/^Key \(email\)=\(\?\) already exists/);
    for (const err of [badUuid, duplicate]) {
      const text = `${err.message}\n${String(err.stack)}\n${JSON.stringify(err)}`;
      expect(text).not.toContain(secret);
      expect(text).not.toContain(first.user.email);
    }
  });

  it('from an ORM query (MikroORM wraps the driver error) carry no value either', async () => {
    const email = uniqueEmail('orm-value');
    // The shape of the statement once seen in a log: `where "u0"."email" = '…'`, here failing on the id's type.
    const thrown = await failure(app.server.orm.em.fork().find(User, { email, id: 'not-a-uuid' }));
    expect(thrown.name).toMatch(/Exception$/); // MikroORM's wrapper of the driver's error
    expect(`${thrown.message}\n${String(thrown.stack)}\n${JSON.stringify(thrown)}`).not.toContain(email);
    expect(thrown.message).toMatch(/where "u0"."email" = '\?'/);
  });
});

describe('pretty output', () => {
  it('is for a person at a terminal outside production only', () => {
    expect(prettyLogs('development', { isTTY: true })).toBe(true);
    expect(prettyLogs('test', { isTTY: true })).toBe(true);
    expect(prettyLogs('development', { isTTY: false })).toBe(false); // piped, redirected, collected
    expect(prettyLogs('development', {})).toBe(false);
    expect(prettyLogs('production', { isTTY: true })).toBe(false);
  });

  it('writes human-readable lines, still redacted', () => {
    const out = capture();
    createLogger('info', out.stream, { pretty: true }).warn('slow graphql request', {
      requestId: 'req-42',
      durationMs: 2100,
      password: 'hunter2',
    });
    const text = out.lines.join('\n');
    expect(out.lines[0]).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] WARN: slow graphql request$/);
    expect(text).toMatch(/requestId: "req-42"/);
    expect(text).toMatch(/durationMs: 2100/);
    expect(text).toContain('[redacted]');
    expect(text).not.toContain('hunter2');
    expect(text).not.toMatch(/[{}]/);
  });

  it('is what the server prints into a terminal (a pseudo-terminal from `script`)', async () => {
    // `script` (util-linux) runs the entry point with its stdout on a pseudo-terminal and copies it here.
    const child = spawn('script', ['-qec', `${process.execPath} ${distEntry('src/main')}`, '/dev/null'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...serverEnv(app.db) },
      detached: true, // its own process group, so that the server under `script` is stopped with it
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const output = new OutputLines(child);
    try {
      await output.waitFor(LISTENING, { timeoutMs: 60_000, what: 'the server to start' });
      await output.waitFor(/database: /, { what: "the start line's fields" }); // written with it, may come a chunk later
      const text = output.lines.join('\n');
      expect(text).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: Portcullis listening on http:\/\/\S+:\d+\/graphql.*\r?$/m);
      expect(text).toMatch(/^ {4}database: "postgresql"\r?$/m);
      expect(text).not.toContain('{"level"');
    } finally {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      if (child.exitCode === null) process.kill(-child.pid!, 'SIGTERM');
      await exited;
    }
  }, 90_000);
});
