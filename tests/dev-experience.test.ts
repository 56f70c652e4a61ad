// A newcomer's first minutes, through HTTP and the compiled server: GET / takes a browser to the playground (and
// nothing else changes for API clients); client IPs read 127.0.0.1, never ::ffff:127.0.0.1, in sessions and audit
// events (src/common/ip.ts); a .env file in the working directory configures the server, the real environment wins.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseEnv } from 'node:util';
import { canonicalIp } from '../src/common/ip';
import { loadConfig } from '../src/config/config';
import { LIMIT_DEFAULTS } from '../src/config/limits';
import { OIDC_SETTINGS } from '../src/config/identity-providers';
import { login, PASSWORD, signUp } from './helpers/flows';
import { LISTENING, ROOT, spawnDist, stopMain } from './helpers/main-process';
import { OutputLines } from './helpers/output-lines';
import { createTestDatabase, type TestDatabase } from './helpers/test-database';
import { startTestApp, TEST_JWT_SECRET, type TestApp } from './helpers/test-server';

/** What a browser sends when it navigates to a URL. */
const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8';

const IPS = '{ sessions { ip current } myAuditEvents(first: 20) { edges { node { type ip } } } }';
type Child = { readonly child: ChildProcess; readonly output: OutputLines };
type Ips = {
  sessions: Array<{ ip: string | null; current: boolean }>;
  myAuditEvents: { edges: Array<{ node: { type: string; ip: string | null } }> };
};

describe('canonicalIp', () => {
  it('writes an IPv4-mapped IPv6 address as IPv4 and IPv6 compressed; leaves anything else as it is', () => {
    expect(canonicalIp('::ffff:127.0.0.1')).toBe('127.0.0.1');
    expect(canonicalIp('::FFFF:7f00:1')).toBe('127.0.0.1');
    expect(canonicalIp('203.0.113.9')).toBe('203.0.113.9');
    expect(canonicalIp('2001:DB8:0:0:0:0:0:1')).toBe('2001:db8::1');
    expect(canonicalIp('::1')).toBe('::1');
    expect(canonicalIp('not an address')).toBe('not an address');
    expect(canonicalIp(undefined)).toBeNull();
    expect(canonicalIp('')).toBeNull();
  });
});

describe('GET / in development', () => {
  let app: TestApp;
  let root: string;
  beforeAll(async () => {
    app = await startTestApp({ env: { NODE_ENV: 'development' } });
    root = new URL('/', app.url).toString();
  });
  afterAll(() => app.stop());

  it('redirects a browser (GET and HEAD) to the playground at /graphql with a 302', async () => {
    for (const method of ['GET', 'HEAD']) {
      const res = await fetch(root, { method, headers: { accept: BROWSER_ACCEPT }, redirect: 'manual' });
      expect({ method, status: res.status, location: res.headers.get('location') }).toEqual({
        method,
        status: 302,
        location: '/graphql',
      });
    }
    const followed = await fetch(root, { headers: { accept: BROWSER_ACCEPT } });
    expect(followed.url).toBe(app.url);
    expect(await followed.text()).toContain('<title>Portcullis playground</title>');
  });

  it('leaves API clients as they were: a JSON GET and any POST to / are not redirected (404)', async () => {
    const json = await fetch(root, { headers: { accept: 'application/json' }, redirect: 'manual' });
    const any = await fetch(root, { redirect: 'manual' }); // fetch's own accept: */*
    const post = await fetch(root, {
      method: 'POST',
      headers: { accept: BROWSER_ACCEPT, 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ __typename }' }),
      redirect: 'manual',
    });

    expect([json.status, any.status, post.status]).toEqual([404, 404, 404]);
    expect([json, any, post].map((r) => r.headers.get('location'))).toEqual([null, null, null]);
  });
});

describe('GET / in production without the playground', () => {
  let app: TestApp;
  beforeAll(async () => void (app = await startTestApp({ env: { NODE_ENV: 'production', BCRYPT_COST: '10' } })));
  afterAll(() => app.stop());

  it('redirects nowhere: there is no playground to go to', async () => {
    const res = await fetch(new URL('/', app.url), { headers: { accept: BROWSER_ACCEPT }, redirect: 'manual' });

    expect(res.status).toBe(404);
    expect(res.headers.get('location')).toBeNull();
  });
});

describe('client IPs', () => {
  let app: TestApp;
  beforeAll(async () => {
    // Every interface, IPv6 and IPv4 on one socket: an IPv4 client is then reported as ::ffff:127.0.0.1.
    app = await startTestApp({ env: { HOST: '::', TRUST_PROXY: 'loopback' } });
  });
  afterAll(() => app.stop());

  it('are recorded as 127.0.0.1 for an IPv4 client of a dual-stack socket, in sessions and audit events', async () => {
    expect((app.server.httpServer.address() as AddressInfo).address).toBe('::'); // so the socket says ::ffff:…
    const { accessToken } = await signUp(app);

    const res = await app.gql<Ips>(IPS, {}, { token: accessToken });

    expect(res.errors).toBeUndefined();
    expect(res.data!.sessions).toEqual([{ ip: '127.0.0.1', current: true }]);
    const events = res.data!.myAuditEvents.edges.map((e) => e.node);
    expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(['REGISTER', 'LOGIN_SUCCEEDED']));
    expect(events.map((e) => e.ip)).toEqual(events.map(() => '127.0.0.1'));
  });

  it('are canonical when a trusted proxy forwards an IPv4-mapped address too', async () => {
    const { user } = await signUp(app);
    const signedIn = await login(app, user.email, PASSWORD, { 'x-forwarded-for': '::ffff:203.0.113.9' });
    const { accessToken } = signedIn.data!.login;

    const res = await app.gql<Ips>(IPS, {}, { token: accessToken });

    expect(res.data!.sessions).toEqual(
      expect.arrayContaining([
        { ip: '203.0.113.9', current: true },
        { ip: '127.0.0.1', current: false },
      ]),
    );
    const logins = res.data!.myAuditEvents.edges.map((e) => e.node).filter((e) => e.type === 'LOGIN_SUCCEEDED');
    expect(logins.map((e) => e.ip).sort()).toEqual(['127.0.0.1', '203.0.113.9']);
  });
});

describe('.env.example', () => {
  const example = readFileSync(join(ROOT, '.env.example'), 'utf8');
  /** Every `#NAME=value` line, uncommented: the defaults and examples it shows. */
  const shown = parseEnv(example.replace(/^#(?=[A-Z][A-Z0-9_]*=)/gm, '')) as Record<string, string>;

  it('lists every variable src/config/config.ts and the request limits read, each under a comment', () => {
    const source = readFileSync(join(ROOT, 'src', 'config', 'config.ts'), 'utf8');
    const social = readFileSync(join(ROOT, 'src', 'config', 'identity-providers.ts'), 'utf8');
    const mfa = readFileSync(join(ROOT, 'src', 'config', 'mfa.ts'), 'utf8');
    const webhooks = readFileSync(join(ROOT, 'src', 'config', 'webhooks.ts'), 'utf8');
    const read = [
      ...[...source.matchAll(/\b(?:str|int|bool|url)\(env, '([A-Z][A-Z0-9_]*)'/g)].map((m) => m[1]!),
      ...[...source.matchAll(/\benv\.([A-Z][A-Z0-9_]*)/g)].map((m) => m[1]!),
      ...[...mfa.matchAll(/\benv\.([A-Z][A-Z0-9_]*)/g)].map((m) => m[1]!),
      ...[...webhooks.matchAll(/\benv\.([A-Z][A-Z0-9_]*)/g)].map((m) => m[1]!),
      ...LIMIT_DEFAULTS.map((d) => d.variable),
      ...[...social.matchAll(/\b(?:get|required|list|nonceOptional)\(env, '([A-Z][A-Z0-9_]*)'/g)].map((m) => m[1]!),
      // A generic provider's settings, shown for an example provider named ACME.
      ...OIDC_SETTINGS.map((setting) => `OIDC_ACME_${setting}`),
    ];

    expect(Object.keys(shown).sort()).toEqual([...new Set(read)].sort());
    const lines = example.split('\n');
    const uncommented = lines.flatMap((line, i) => (/^#[A-Z][A-Z0-9_]*=/.test(line) ? [i] : []));
    for (const i of uncommented) expect(lines[i - 1]).toMatch(/^# |^#[A-Z][A-Z0-9_]*=/); // a comment, or a pair's first
  });

  it("shows values the configuration accepts, and the request limits' real defaults", () => {
    const dir = mkdtempSync(join(tmpdir(), 'portcullis-example-'));
    try {
      expect(() => loadConfig({ ...shown, DATA_DIR: dir })).not.toThrow();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    for (const d of LIMIT_DEFAULTS) expect({ [d.variable]: shown[d.variable] }).toEqual({ [d.variable]: d.value });
  });
});

describe('a .env file', () => {
  let db: TestDatabase;
  let dir: string;
  let main: Child | undefined;
  beforeAll(async () => {
    db = await createTestDatabase();
    dir = mkdtempSync(join(tmpdir(), 'portcullis-env-'));
  });
  afterEach(async () => {
    if (main) await stopMain(main);
    main = undefined;
  });
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await db.drop();
  });

  /** The compiled server started in `dir` (where its .env is), with only PATH, HOME and `env` set for real. */
  function startIn(env: Record<string, string>): Child {
    const child = spawnDist('src/main', [], env, { cwd: dir });
    return { child, output: new OutputLines(child) };
  }

  it('in the working directory configures the server; a variable set in the real environment wins over it', async () => {
    writeFileSync(
      join(dir, '.env'),
      [
        '# comments and blank lines are fine',
        '',
        `DATABASE_URL=${db.url}`,
        `DATABASE_POOL_SIZE=${db.poolSize}`,
        `JWT_SECRET="${TEST_JWT_SECRET}"`,
        'PORT=1', // privileged: the server would fail to listen, were this used
        'MAIL_FROM=Dotenv <dotenv@example.com>',
      ].join('\n'),
    );
    main = startIn({ PORT: '0', DATA_DIR: join(dir, 'data') });

    const [line] = await main.output.waitFor(LISTENING, { timeoutMs: 60_000, what: 'the server to start' });

    expect(line).toContain('"database":"postgresql"'); // DATABASE_URL came from .env (else: embedded under DATA_DIR)
    expect(Number(LISTENING.exec(line!)![1])).toBeGreaterThan(1); // PORT=0 from the environment, not PORT=1
  });

  it('named by ENV_FILE must exist: one line, exit 1', async () => {
    main = startIn({ ENV_FILE: 'missing.env', PORT: '0' });

    const code = await new Promise<number | null>((resolve) => main!.child.once('close', resolve));

    expect(code).toBe(1);
    expect(main.output.lines.filter((l) => l !== '')).toEqual([
      `Invalid configuration: ENV_FILE ${join(dir, 'missing.env')} does not exist`,
    ]);
  });
});
