// `npm run bench`: Portcullis under wrk against bare Apollo baselines, on the configured PostgreSQL.
// Server on one CPU, load generator on the other, one scenario at a time, each against a fresh server process.
// Prints a Markdown table and writes bench/results/latest.json; exits 1 if any scenario saw an error (a missed
// target is only reported). BENCH_ONLY=me runs only the interleaved baselines and `me` rounds, BENCH_ONLY=soak the soak.
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { login, loginAll } from './api';
import { clearBenchRows, connect, postgresVersion, recreateDatabase, upsertUser, userCount } from './database';
import { interleave, meChecks, medianRow, type Contender, type MeComparison } from './me-rounds';
import { ROOT } from './processes';
import {
  describeMachine,
  generatorCheck,
  markdown,
  soakChecks,
  writeJson,
  type Check,
  type Report,
  type Row,
} from './report';
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
import { load, startBaseline, startPortcullis, withTarget, type Baseline, type Target } from './targets';
import { mintAccessToken } from './tokens';
import { WRK_MISSING, wrkInstalled } from './wrk';

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

/** One line for the log: enough to see a run go wrong while the bench still runs. */
const brief = (r: LoadResult): string =>
  `${r.requestsPerSecond.toFixed(0)} req/s, p50 ${r.latency.p50.toFixed(1)} ms, p99 ${r.latency.p99.toFixed(1)} ms, ` +
  `${r.errors + (r.warmupErrors ?? 0)} errors, wrk ${r.generator?.busyPercent.toFixed(0) ?? '?'}% busy ` +
  `(its core ${r.generator?.coreBusyPercent?.toFixed(0) ?? '?'}%)`;

/** Notes the errors, prints and saves the report; exit code 1 if any row saw an error (a missed target is not one). */
function finish(report: Report & { readonly notes: string[] }, file: string, started: number): void {
  const failed = report.rows.filter((r) => r.result.errors + (r.result.warmupErrors ?? 0) > 0);
  for (const r of failed) {
    report.notes.push(
      `**${r.name}: ${r.result.errors} errors (+${r.result.warmupErrors ?? 0} in the warm-up)** ${JSON.stringify(r.result.errorDetail)}; first: ${r.result.sampleError ?? '(connection errors)'}`,
    );
  }
  report.notes.push(
    `Load average ${(Math.round(loadavg()[0]! * 100) / 100).toString()} at the end. Whole run: ${((Date.now() - started) / 1000).toFixed(0)} s.`,
  );
  writeJson(join(RESULTS, file), report);
  process.stdout.write(markdown(report));
  if (failed.length > 0) {
    process.stderr.write(
      `FAILED: ${failed.map((r) => r.name).join('; ')} saw errors: these numbers are not a benchmark.\n`,
    );
    process.exitCode = 1;
  }
}

/** BENCH_ONLY=soak: a database with the bench users, then only the soak. */
async function soakOnly(s: Settings, started: number): Promise<void> {
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
  const checks = [...soakChecks(soak), ...generatorCheck(rows)];
  finish({ machine, rows, checks, soak, notes: ['BENCH_ONLY=soak.'] }, 'soak.json', started);
}

/** The seeded users' tokens, all from `login` through the API but the never-seen sessions' (minted here). */
interface Tokens {
  readonly me: string;
  readonly spread: readonly string[];
  readonly refreshWarmup: readonly string[];
  readonly refresh: readonly string[];
  readonly fresh: readonly string[];
}

async function main(): Promise<void> {
  const s = readSettings();
  const started = Date.now();
  if (!wrkInstalled()) {
    process.stderr.write(`${WRK_MISSING}\n`); // before anything is dropped or seeded
    process.exitCode = 1;
    return;
  }
  if (s.only === 'soak') return soakOnly(s, started);
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
  const measure = async (name: string, start: () => Promise<Target>, spec: (url: string) => LoadSpec): Promise<Row> => {
    log(`${name}…`);
    const row = await withTarget(start, async (t) => {
      const sp = spec(t.url);
      return { name, connections: sp.connections, result: await load(s, sp) };
    });
    log(`  ${brief(row.result)}`);
    return row;
  };
  const run = async (
    name: string,
    start: () => Promise<Target>,
    spec: (url: string) => LoadSpec,
  ): Promise<LoadResult> => {
    const row = await measure(name, start, spec);
    rows.push(row);
    return row.result;
  };
  /** Tokens for `perUser` new sessions of each of these users: no `me` request of a run repeats a session. */
  const freshTokens = async (users: number[], perUser: number) =>
    (await addSessions(db, users.map(benchEmail), perUser)).map((x) => mintAccessToken(x.userId, x.sessionId));
  /** A note when a run meant to name a new session on every request had to repeat some. */
  const noteRepeats = (results: readonly LoadResult[], tokens: number): void => {
    const sent = Math.max(...results.map((r) => r.sent ?? 0));
    if (sent > tokens)
      notes.push(
        `A "session not seen before" run sent ${thousands(sent)} requests over ${thousands(tokens)} sessions: some repeated (raise BENCH_FRESH_SESSIONS).`,
      );
  };

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
  const tokens: Tokens = {
    ...setup,
    fresh: await freshTokens(range(1, s.smallUsers), Math.ceil(s.freshSessions / s.smallUsers)),
  };
  const machine = describeMachine(await postgresVersion(db), s.bcryptCost);
  const manyLabel = (n: number) => `${thousands(n)} users' tokens in turn`;
  /** The three `me` variants' row names for a users table of this size. */
  const meNames = (users: number) => {
    const table = `${thousands(users)} users`;
    return {
      one: `\`me\`, 1 token, ${table}`,
      many: `\`me\`, ${manyLabel(tokens.spread.length)}, ${table}`,
      fresh: `\`me\`, a session not seen before on every request, ${table}`,
    };
  };

  // Issue 13's comparison: baselines and `me` interleaved, round after round; the rows are the medians.
  const small = meNames(await userCount(db));
  const profiled = (name: string) => (round: number) =>
    portcullis(
      s.profile ? ['--cpu-prof', '--cpu-prof-dir', RESULTS, '--cpu-prof-name', `me-${name}-r${round}.cpuprofile`] : [],
    );
  const baseline = (kind: Baseline) => () => () => startBaseline(s, kind);
  const standalone: Contender = {
    name: 'bare Apollo 5 standalone `me` (startStandaloneServer, JWT verified in context, constant answer)',
    start: baseline('standalone'),
    spec: me([tokens.me], false),
  };
  const oneToken: Contender = { name: small.one, start: profiled('1-token'), spec: me([tokens.me], false) };
  const express: Contender = {
    name: 'bare Apollo 5 on Express 5 `me` (the old baseline: JWT verified, constant answer)',
    start: baseline('express'),
    spec: me([tokens.me], false),
  };
  const manyUsers: Contender = { name: small.many, start: profiled('many-users'), spec: me(tokens.spread, true) };
  const apolloPg: Contender = {
    name: 'naive peer: Apollo 5 standalone + one pg prepared-statement user lookup per request (next row’s tokens)',
    start: baseline('apollo-pg'),
    spec: me(tokens.fresh, true),
  };
  const newSession: Contender = {
    name: small.fresh,
    start: profiled('new-session-every-request'),
    spec: me(tokens.fresh, true),
  };
  // Baseline, Portcullis, baseline, Portcullis…; BENCH_ONLY=me leaves out the old Express baseline to save time.
  const contenders = [standalone, oneToken, ...(s.only === 'me' ? [] : [express]), manyUsers, apolloPg, newSession];
  const byContender = await interleave(contenders, s.rounds, measure);
  const medians = contenders.map((c, i) => medianRow(c.name, byContender[i]!));
  rows.push(...medians);
  const rounds = Object.fromEntries(contenders.map((c, i) => [c.name, byContender[i]!.map((r) => r.result)]));
  const of = (c: Contender): LoadResult => medians[contenders.indexOf(c)]!.result;
  const comparison: MeComparison = {
    standalone: of(standalone),
    apolloPg: of(apolloPg),
    oneToken: of(oneToken),
    manyUsers: of(manyUsers),
    newSession: of(newSession),
  };
  notes.push(
    `The first ${contenders.length} rows are ${s.rounds > 1 ? `medians of ${s.rounds} interleaved rounds (each round in the JSON's \`rounds\`)` : 'one round'}, each run against a fresh server: ${s.warmupSeconds} s warm-up + ${s.seconds} s measured.`,
  );
  noteRepeats(
    byContender[contenders.indexOf(newSession)]!.map((r) => r.result),
    tokens.fresh.length,
  );
  if (s.profile)
    notes.push(
      'The small-table `me` runs ran under --cpu-prof (bench/results/me-*-r<round>.cpuprofile): their numbers carry the profiler’s overhead.',
    );
  const checks: Check[] = [...meChecks(comparison, manyLabel(tokens.spread.length))];

  if (s.only === 'me') {
    await db.end();
    await smtp.close();
    checks.push(...generatorCheck(rows));
    finish({ machine, rows, rounds, checks, notes: ['BENCH_ONLY=me.', ...notes] }, 'me.json', started);
    return;
  }

  const refresh = await run('`refresh` (own session per connection, chained)', portcullis(), (url) => ({
    ...base,
    url,
    kind: 'refresh',
    warmupTokens: tokens.refreshWarmup,
    tokens: tokens.refresh,
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
    loginAll(t.url, pickUsers(tokens.spread.length, s.largeUsers).map(benchEmail), BENCH_PASSWORD),
  );
  const largeFresh = await freshTokens(pickUsers(s.freshSessions, s.largeUsers), 1);
  // One round each: compared with the small table's medians.
  const large = meNames(await userCount(db));
  const largeMany = largeSpread.map((x) => x.accessToken);
  const largeRuns = [
    await run(large.one, portcullis(), me([tokens.me], false)),
    await run(large.many, portcullis(), me(largeMany, true)),
    await run(large.fresh, portcullis(), me(largeFresh, true)),
  ];
  await db.end();
  await smtp.close();
  noteRepeats([largeRuns[2]!], largeFresh.length);

  const smallRuns = [comparison.oneToken, comparison.manyUsers, comparison.newSession];
  const ev = probed.probe!;
  checks.push(
    ...['1 token', 'many users in turn', 'new session every request'].map((label, i) => {
      const [l, sm] = [largeRuns[i]!.latency, smallRuns[i]!.latency];
      const r = l.p50 / sm.p50;
      const value = `${r.toFixed(2)} (mean ${(l.mean / sm.mean).toFixed(2)})`;
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
    ...generatorCheck(rows),
  );
  finish({ machine, rows, rounds, eventLoop: ev, checks, soak, notes }, 'latest.json', started);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
