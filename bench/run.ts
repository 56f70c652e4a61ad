// `npm run bench`: Portcullis under autocannon against a bare Apollo baseline, on the configured PostgreSQL.
// Server on one CPU, load generator on the other, one scenario at a time, each against a fresh server process.
// Prints a Markdown table and writes bench/results/latest.json; exits 1 if any scenario saw an error.
import { join } from 'node:path';
import { login, loginAll } from './api';
import { clearBenchRows, connect, postgresVersion, recreateDatabase, upsertUser, userCount } from './database';
import { ROOT } from './processes';
import { describeMachine, markdown, soakChecks, writeJson, type Check, type Row } from './report';
import type { LoadResult, LoadSpec } from './scenarios';
import {
  addSessions,
  BENCH_DOMAIN,
  BENCH_PASSWORD,
  benchEmail,
  benchPasswordHash,
  countBenchUsers,
  seedUsers,
} from './seed-users';
import { readSettings, type Settings } from './settings';
import { runSoak, type SoakResult } from './soak';
import { startSmtpSink } from './smtp-sink';
import { load, startBare, startPortcullis, withTarget, type Target } from './targets';
import { mintAccessToken } from './tokens';

const LOGIN_EMAIL = `login@${BENCH_DOMAIN}`;
const RESULTS = join(ROOT, 'bench', 'results');

function log(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

/** `count` distinct user numbers in 1..max, the same on every run (a fixed-seed xorshift). */
function pickUsers(count: number, max: number): number[] {
  const picked = new Set<number>();
  let x = 0x9e3779b9;
  while (picked.size < Math.min(count, max)) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    picked.add(((x >>> 0) % max) + 1);
  }
  return [...picked];
}

const range = (from: number, n: number): number[] => Array.from({ length: n }, (_, i) => from + i);
const thousands = (n: number): string => n.toLocaleString('en');

/** The soak as a table row (its errors fail the bench like any other's). */
const soakRow = (s: Settings, soak: SoakResult): Row => ({
  name: `soak: \`login\` for ${thousands(soak.attempts)} distinct random emails (bcrypt cost 4, development mode, limits as shipped)`,
  connections: s.connections,
  result: soak.load,
});

/** BENCH_ONLY=soak: a database with the bench users, then only the soak. */
async function soakOnly(s: Settings, started: number): Promise<Row[]> {
  if (s.ownsDatabase) await recreateDatabase(s.databaseUrl);
  const db = await connect(s.databaseUrl);
  if (!s.ownsDatabase) await clearBenchRows(db);
  const smtp = await startSmtpSink();
  const cheapHash = await benchPasswordHash(4);
  await withTarget(
    () => startPortcullis(s, smtp.port),
    () => seedUsers(db, s.smallUsers, cheapHash),
  ); // migrated by then
  const users = await countBenchUsers(db);
  const machine = describeMachine(await postgresVersion(db), 4);
  const soak = await runSoak(s, smtp.port, users, log);
  await db.end();
  await smtp.close();
  const rows = [soakRow(s, soak)];
  const notes = [`BENCH_ONLY=soak. Whole run: ${((Date.now() - started) / 1000).toFixed(0)} s.`];
  const report = { machine, rows, checks: soakChecks(soak), soak, notes };
  writeJson(join(RESULTS, 'soak.json'), report);
  process.stdout.write(markdown(report));
  return rows;
}

async function main(): Promise<void> {
  const s = readSettings();
  const started = Date.now();
  if (s.only === 'soak') {
    const failed = (await soakOnly(s, started)).filter((r) => r.result.errors > 0);
    if (failed.length > 0) process.exitCode = 1;
    return;
  }
  const notes: string[] = [];
  if (s.ownsDatabase) {
    log(`recreating ${s.databaseUrl}`);
    await recreateDatabase(s.databaseUrl);
  }
  const db = await connect(s.databaseUrl);
  if (!s.ownsDatabase) await clearBenchRows(db);
  const smtp = await startSmtpSink();
  const portcullis =
    (nodeArgs: string[] = []) =>
    () =>
      startPortcullis(s, smtp.port, { nodeArgs });
  const base = { connections: s.connections, warmupSeconds: s.warmupSeconds, seconds: s.seconds, timeoutSeconds: 10 };
  const me =
    (tokens: readonly string[], rotate: boolean) =>
    (url: string): LoadSpec => ({ ...base, url, kind: 'me', rotate, tokens });
  const rows: Row[] = [];
  const run = async (
    name: string,
    start: () => Promise<Target>,
    spec: (url: string) => LoadSpec,
  ): Promise<LoadResult> => {
    log(`${name}…`);
    const row = await withTarget(start, async (t) => {
      const sp = spec(t.url);
      return { name, connections: sp.connections, result: await load(s, sp) };
    });
    rows.push(row);
    return row.result;
  };
  /** Tokens for `perUser` new sessions of each of these users: no `me` request of a run repeats a session. */
  const freshTokens = async (users: number[], perUser: number) =>
    (await addSessions(db, users.map(benchEmail), perUser)).map((x) => mintAccessToken(x.userId, x.sessionId));

  // Seeded users share one cheap (cost 4) hash so that logging hundreds of them in is quick; the login
  // scenario's user has a hash at the configured cost. These tokens all come from `login`, through the API.
  const [cheapHash, costHash] = await Promise.all([benchPasswordHash(4), benchPasswordHash(s.bcryptCost)]);
  log('migrating, seeding and signing in…');
  const setup = await withTarget(portcullis(), async (t) => {
    await seedUsers(db, s.smallUsers, cheapHash); // the server has migrated the database by now
    await upsertUser(db, LOGIN_EMAIL, costHash);
    const all = (ns: number[]) => loginAll(t.url, ns.map(benchEmail), BENCH_PASSWORD);
    return {
      me: (await login(t.url, benchEmail(1), BENCH_PASSWORD)).accessToken,
      spread: (await all(range(1, Math.min(s.spreadUsers, s.smallUsers)))).map((x) => x.accessToken),
      refreshWarmup: (await all(range(1, s.connections))).map((x) => x.refreshToken),
      refresh: (await all(range(1, s.connections))).map((x) => x.refreshToken),
    };
  });
  const fresh = await freshTokens(range(1, s.smallUsers), Math.ceil(s.freshSessions / s.smallUsers));
  const machine = describeMachine(await postgresVersion(db), s.bcryptCost);

  const baseline = await run(
    'bare Apollo 5 `me` (JWT verify, constant answer)',
    () => startBare(s),
    me([setup.me], false),
  );
  if (s.profile)
    notes.push(
      'The small-table `me` runs ran under --cpu-prof (bench/results/me-*.cpuprofile): their numbers carry the profiler’s overhead.',
    );
  /** The three `me` variants: one token; many users' tokens in turn; a session not seen before on every request. */
  const meRuns = async (
    users: number,
    one: string,
    many: readonly string[],
    fresh: readonly string[],
    profile = false,
  ) => {
    const start = (name: string) =>
      portcullis(profile ? ['--cpu-prof', '--cpu-prof-dir', RESULTS, '--cpu-prof-name', `me-${name}.cpuprofile`] : []);
    const table = `${thousands(users)} users`;
    return [
      await run(`\`me\`, 1 token, ${table}`, start('1-token'), me([one], false)),
      await run(
        `\`me\`, ${thousands(many.length)} users' tokens in turn, ${table}`,
        start('many-users'),
        me(many, true),
      ),
      await run(
        `\`me\`, a session not seen before on every request, ${table}`,
        start('new-session-every-request'),
        me(fresh, true),
      ),
    ];
  };
  const smallRuns = await meRuns(await userCount(db), setup.me, setup.spread, fresh, s.profile);
  const refresh = await run('`refresh` (own session per connection, chained)', portcullis(), (url) => ({
    ...base,
    url,
    kind: 'refresh',
    warmupTokens: setup.refreshWarmup,
    tokens: setup.refresh,
  }));
  // No warm-up: logins a warm-up abandons would keep the thread pool busy well into the measured run.
  const logins =
    (connections: number, probe: boolean) =>
    (url: string): LoadSpec => ({
      ...base,
      url,
      kind: 'login',
      connections,
      warmupSeconds: 0,
      seconds: s.loginSeconds,
      timeoutSeconds: 600,
      email: LOGIN_EMAIL,
      password: BENCH_PASSWORD,
      probe,
    });
  await run(`\`login\` (bcrypt cost ${s.bcryptCost}), starting idle`, portcullis(), logins(s.connections, false));
  const probed = await run('`login`, 20 in flight (event-loop probe)', portcullis(), logins(20, true));
  log('soak…');
  const soak = await runSoak(s, smtp.port, await countBenchUsers(db), log);
  rows.push(soakRow(s, soak));

  log(`seeding up to ${thousands(s.largeUsers)} users…`);
  const seedStarted = Date.now();
  const added = await seedUsers(db, s.largeUsers, cheapHash);
  notes.push(
    `Seeded ${thousands(added)} users (one session each) in ${((Date.now() - seedStarted) / 1000).toFixed(1)} s.`,
  );
  const largeSpread = await withTarget(portcullis(), (t) =>
    loginAll(t.url, pickUsers(setup.spread.length, s.largeUsers).map(benchEmail), BENCH_PASSWORD),
  );
  const largeFresh = await freshTokens(pickUsers(s.freshSessions, s.largeUsers), 1);
  const largeRuns = await meRuns(
    await userCount(db),
    setup.me,
    largeSpread.map((x) => x.accessToken),
    largeFresh,
  );
  await db.end();
  await smtp.close();
  for (const [r, tokens] of [
    [smallRuns[2]!, fresh.length],
    [largeRuns[2]!, largeFresh.length],
  ] as const) {
    const sent = r.requestsPerSecond * (s.warmupSeconds + s.seconds);
    if (sent > tokens)
      notes.push(
        `A "session not seen before" run sent ~${thousands(Math.round(sent))} requests over ${thousands(tokens)} sessions: some repeated (raise BENCH_FRESH_SESSIONS).`,
      );
  }

  const meSmall = smallRuns[0]!;
  const rps = meSmall.requestsPerSecond / baseline.requestsPerSecond;
  const ev = probed.probe!;
  const checks: Check[] = [
    { what: '`me` req/s ÷ bare Apollo req/s', value: rps.toFixed(2), target: '≥ 0.60', ok: rps >= 0.6 },
    {
      what: '`me` p99 vs bare Apollo p99',
      value: `${meSmall.latency.p99} vs ${baseline.latency.p99} ms`,
      target: '≤',
      ok: meSmall.latency.p99 <= baseline.latency.p99,
    },
    ...['1 token', 'many users in turn', 'new session every request'].map((label, i) => {
      const [large, small] = [largeRuns[i]!.latency, smallRuns[i]!.latency];
      const r = large.p50 / small.p50;
      const value = `${r.toFixed(2)} (mean ${(large.mean / small.mean).toFixed(2)})`;
      return { what: `\`me\` p50, large ÷ small table (${label})`, value, target: '≤ 1.10', ok: r <= 1.1 };
    }),
    {
      what: 'event-loop delay p99 (prom-client), 20 logins in flight',
      value: `${ev.serverP99Ms.toFixed(1)} ms`,
      target: '≤ 20 ms',
      ok: ev.serverP99Ms <= 20,
    },
    {
      what: '`refresh` req/s',
      value: refresh.requestsPerSecond.toFixed(0),
      target: '≥ 500',
      ok: refresh.requestsPerSecond >= 500,
    },
    ...soakChecks(soak),
  ];
  const failed = rows.filter((r) => r.result.errors + (r.result.warmupErrors ?? 0) > 0);
  for (const r of failed) {
    notes.push(
      `**${r.name}: ${r.result.errors} errors (+${r.result.warmupErrors ?? 0} in the warm-up)** ${JSON.stringify(r.result.errorDetail)}; first: ${r.result.sampleError ?? '(connection errors)'}`,
    );
  }
  notes.push(`Whole run: ${((Date.now() - started) / 1000).toFixed(0)} s.`);
  const report = { machine, rows, eventLoop: ev, checks, soak, notes };
  writeJson(join(RESULTS, 'latest.json'), report);
  process.stdout.write(markdown(report));
  if (failed.length > 0) {
    process.stderr.write(
      `FAILED: ${failed.map((r) => r.name).join('; ')} saw errors: these numbers are not a benchmark.\n`,
    );
    process.exitCode = 1;
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
