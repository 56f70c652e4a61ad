// `npm run bench`: Portcullis under wrk against bare Apollo baselines, on the configured PostgreSQL.
// Server on one CPU, load generator on the other, one scenario at a time, each against a fresh server process.
// Prints a Markdown table and writes bench/results/latest.json; exits 1 if any scenario saw an error (a missed
// target is only reported). BENCH_ONLY=me runs only the interleaved baselines and `me` rounds (Portcullis with ES256
// and with HS256), BENCH_ONLY=tokens only the API-key `me` runs and introspection, BENCH_ONLY=soak the soak.
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { createApiKey, login, loginAll } from './api';
import {
  clearBenchRows,
  connect,
  insertApiKeys,
  outboxDrained,
  postgresVersion,
  recreateDatabase,
  removeUser,
  upsertUser,
  userCount,
} from './database';
import { interleave, meChecks, medianRow, pairedCheck, type Contender, type MeComparison } from './me-rounds';
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
import { readSettings, type JwtAlgorithm, type Settings } from './settings';
import { runSoak, type SoakResult } from './soak';
import { startSmtpSink } from './smtp-sink';
import { load, startBaseline, startPortcullis, withTarget, type Baseline, type Target } from './targets';
import { es256Signer, HS256_SIGNER, mintAccessToken, type Signer } from './tokens';
import { WRK_MISSING, wrkInstalled } from './wrk';
import { createPublicKey } from 'node:crypto';

const LOGIN_EMAIL = `login@${BENCH_DOMAIN}`;
/** The introspection scenario's caller owns its API key (removed again after those runs). */
const ADMIN_EMAIL = `admin@${BENCH_DOMAIN}`;
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
  /** ES256, signed with the server's key, for Portcullis. */
  readonly fresh: readonly string[];
  /** The same sessions as HS256 tokens, for the Apollo + pg peer that checks HS256. */
  readonly freshHs256: readonly string[];
  /** The public key (PEM) of `fresh`'s signer, for the Apollo + pg peer that checks the same ES256 tokens. */
  readonly es256PublicKey: string;
  /** `me` and `spread` again, from a server with JWT_ALGORITHM=HS256. */
  readonly hs256: { readonly me: string; readonly spread: readonly string[] };
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
  /** Portcullis signing with `algorithm` (serverEnv's ES256 unless told otherwise). */
  const portcullis =
    (nodeArgs: string[] = [], algorithm: JwtAlgorithm = 'ES256') =>
    () =>
      startPortcullis(s, smtp.port, { nodeArgs, env: { JWT_ALGORITHM: algorithm } });
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
  /** `perUser` new sessions of each of these users (for minted tokens): no `me` request of a run repeats a session. */
  const freshSessions = (users: number[], perUser: number) => addSessions(db, users.map(benchEmail), perUser);
  const mint = (signer: Signer, sessions: readonly { userId: string; sessionId: string }[]): string[] =>
    sessions.map((x) => mintAccessToken(signer, x.userId, x.sessionId));
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
  const spreadUsers = range(1, Math.min(s.spreadUsers, s.smallUsers));
  const setup = await withTarget(portcullis(), async (t) => {
    await seedUsers(db, s.smallUsers, cheapHash); // the server has migrated the database by now
    await upsertUser(db, LOGIN_EMAIL, costHash);
    const all = (ns: number[]) => loginAll(t.url, ns.map(benchEmail), BENCH_PASSWORD);
    return {
      me: (await login(t.url, benchEmail(1), BENCH_PASSWORD)).accessToken,
      spread: (await all(spreadUsers)).map((x) => x.accessToken),
      refreshWarmup: (await all(range(1, s.connections))).map((x) => x.refreshToken),
      refresh: (await all(range(1, s.connections))).map((x) => x.refreshToken),
    };
  });
  const machine = describeMachine(await postgresVersion(db), s.bcryptCost);
  const manyLabel = (n: number) => `${thousands(n)} users' tokens in turn`;
  const tableLabel = (users: number) => `${thousands(users)} users`;

  /**
   * Issue 16's API keys and introspection, one run each: `me` with API keys as Bearer (read from PostgreSQL on every
   * request, by design), and POST /oauth/introspect by an ADMIN's key about the spread users' live access tokens.
   */
  const tokenRuns = async (accessTokens: readonly string[]): Promise<void> => {
    const table = tableLabel(await userCount(db)); // before the ADMIN joins (and after it has left again)
    log('creating API keys…');
    const keys = await withTarget(portcullis(), async (t) => {
      await upsertUser(db, ADMIN_EMAIL, cheapHash, ['ADMIN']);
      const admin = await login(t.url, ADMIN_EMAIL, BENCH_PASSWORD);
      const owner = await login(t.url, benchEmail(1), BENCH_PASSWORD);
      const made = {
        introspector: await createApiKey(t.url, admin.accessToken, 'bench introspection', ['tokens:introspect']),
        one: await createApiKey(t.url, owner.accessToken, 'bench me', ['self:read']),
        many: await insertApiKeys(db, spreadUsers.map(benchEmail), ['self:read']),
      };
      await outboxDrained(db); // createApiKey's notices: sent by this server, not during a measured run
      return made;
    });
    await run(`\`me\`, 1 API key as Bearer, ${table}`, portcullis(), me([keys.one], false));
    await run(
      `\`me\`, ${thousands(keys.many.length)} users' API keys in turn, ${table}`,
      portcullis(),
      me(keys.many, true),
    );
    await run(
      `POST /oauth/introspect (an ADMIN's API key), ${thousands(accessTokens.length)} users' ES256 access tokens in turn, ${table}`,
      portcullis(),
      (url) => ({
        ...base,
        url: new URL('/oauth/introspect', url).href,
        kind: 'introspect',
        apiKey: keys.introspector,
        tokens: accessTokens,
      }),
    );
    await removeUser(db, ADMIN_EMAIL);
    notes.push(
      '`me` with an API key reads the key and its owner from PostgreSQL on every request (no cache: a revocation counts at once); ' +
        `the 1 key was made with createApiKey (scope self:read), the ${thousands(keys.many.length)} written straight into api_keys. ` +
        "Introspection: an ADMIN's API key (tokens:introspect, made with createApiKey) as Bearer, one form-encoded `token` per " +
        'request, the spread users\' ES256 access tokens from `login` in turn (answers checked for `"active":true`).',
    );
  };

  if (s.only === 'tokens') {
    await tokenRuns(setup.spread);
    await db.end();
    await smtp.close();
    finish(
      { machine, rows, checks: generatorCheck(rows), notes: ['BENCH_ONLY=tokens.', ...notes] },
      'tokens.json',
      started,
    );
    return;
  }

  log('signing in again with JWT_ALGORITHM=HS256…');
  const hs256 = await withTarget(portcullis([], 'HS256'), async (t) => ({
    me: (await login(t.url, benchEmail(1), BENCH_PASSWORD)).accessToken,
    spread: (await loginAll(t.url, spreadUsers.map(benchEmail), BENCH_PASSWORD)).map((x) => x.accessToken),
  }));
  const signer = await es256Signer(db); // made by the first ES256 start
  const fresh = await freshSessions(range(1, s.smallUsers), Math.ceil(s.freshSessions / s.smallUsers));
  const tokens: Tokens = {
    ...setup,
    fresh: mint(signer, fresh),
    freshHs256: mint(HS256_SIGNER, fresh),
    es256PublicKey: createPublicKey(signer.key).export({ type: 'spki', format: 'pem' }).toString(),
    hs256,
  };
  /** The three `me` variants' row names for a users table of this size. */
  const meNames = (users: number, algorithm: JwtAlgorithm = 'ES256') => {
    const table = tableLabel(users);
    return {
      one: `\`me\` (${algorithm}), 1 token, ${table}`,
      many: `\`me\` (${algorithm}), ${manyLabel(tokens.spread.length)}, ${table}`,
      fresh: `\`me\` (${algorithm}), a session not seen before on every request, ${table}`,
    };
  };

  // Issue 13's comparison: baselines and `me` interleaved, round after round; the rows are the medians.
  const smallUsers = await userCount(db);
  const small = meNames(smallUsers);
  const smallHs256 = meNames(smallUsers, 'HS256');
  const profiled =
    (name: string, algorithm: JwtAlgorithm = 'ES256') =>
    (round: number) =>
      portcullis(
        s.profile
          ? ['--cpu-prof', '--cpu-prof-dir', RESULTS, '--cpu-prof-name', `me-${name}-r${round}.cpuprofile`]
          : [],
        algorithm,
      );
  // The baselines verify HS256 only: they get the HS256 server's token for user 1.
  const baseline = (kind: Baseline, publicKeyPem?: string) => () => () => startBaseline(s, kind, publicKeyPem);
  const standalone: Contender = {
    name: 'bare Apollo 5 standalone `me` (startStandaloneServer, JWT verified in context, constant answer)',
    start: baseline('standalone'),
    spec: me([tokens.hs256.me], false),
  };
  const oneToken: Contender = { name: small.one, start: profiled('1-token'), spec: me([tokens.me], false) };
  const oneTokenHs256: Contender = {
    name: smallHs256.one,
    start: profiled('1-token-hs256', 'HS256'),
    spec: me([tokens.hs256.me], false),
  };
  const express: Contender = {
    name: 'bare Apollo 5 on Express 5 `me` (the old baseline: JWT verified, constant answer)',
    start: baseline('express'),
    spec: me([tokens.hs256.me], false),
  };
  const manyUsers: Contender = { name: small.many, start: profiled('many-users'), spec: me(tokens.spread, true) };
  const manyUsersHs256: Contender = {
    name: smallHs256.many,
    start: profiled('many-users-hs256', 'HS256'),
    spec: me(tokens.hs256.spread, true),
  };
  const apolloPg: Contender = {
    name: 'naive peer: Apollo 5 standalone + one pg prepared-statement user lookup per request (next row’s sessions, HS256 tokens)',
    start: baseline('apollo-pg'),
    spec: me(tokens.freshHs256, true),
  };
  const apolloPgEs256: Contender = {
    name: 'naive peer: Apollo 5 standalone + one pg prepared-statement user lookup per request (next row’s sessions, the same ES256 tokens)',
    start: baseline('apollo-pg', tokens.es256PublicKey),
    spec: me(tokens.fresh, true),
  };
  const newSession: Contender = {
    name: small.fresh,
    start: profiled('new-session-every-request'),
    spec: me(tokens.fresh, true),
  };
  // Baseline, Portcullis, baseline, Portcullis…; BENCH_ONLY=me leaves out the old Express baseline to save time.
  const contenders = [
    standalone,
    oneToken,
    oneTokenHs256,
    ...(s.only === 'me' ? [] : [express]),
    manyUsers,
    manyUsersHs256,
    apolloPg,
    apolloPgEs256,
    newSession,
  ];
  const byContender = await interleave(contenders, s.rounds, measure);
  const medians = contenders.map((c, i) => medianRow(c.name, byContender[i]!));
  rows.push(...medians);
  const rounds = Object.fromEntries(contenders.map((c, i) => [c.name, byContender[i]!.map((r) => r.result)]));
  const of = (c: Contender): LoadResult => medians[contenders.indexOf(c)]!.result;
  const comparison: MeComparison = {
    standalone: of(standalone),
    apolloPg: of(apolloPg),
    apolloPgEs256: of(apolloPgEs256),
    oneToken: of(oneToken),
    manyUsers: of(manyUsers),
    newSession: of(newSession),
    oneTokenHs256: of(oneTokenHs256),
    manyUsersHs256: of(manyUsersHs256),
  };
  notes.push(
    `The first ${contenders.length} rows are ${s.rounds > 1 ? `medians of ${s.rounds} interleaved rounds (each round in the JSON's \`rounds\`)` : 'one round'}, each run against a fresh server: ${s.warmupSeconds} s warm-up + ${s.seconds} s measured.`,
  );
  notes.push(
    'Portcullis runs with JWT_ALGORITHM=ES256 (a new install’s default; tokens from its `login`, the “not seen before” ones ' +
      'minted with its active signing key) but for the rows marked HS256 (JWT_ALGORITHM=HS256, tokens from that server’s ' +
      '`login`). The bare Apollo baselines, standalone and on Express, and the Apollo + pg peer verify HS256 JWTs with a ' +
      'KeyObject (bench/bare-jwt.ts), as before issue 16: they get the HS256 row’s token, and the peer the next row’s ' +
      'sessions as HS256 tokens; the second peer checks the very ES256 tokens Portcullis gets, with its public key. Portcullis ' +
      'keeps verified claims per token until expiry (LRU of 20,000), so the 1-token and 1,000-token runs check each ' +
      'signature once; the “not seen before” run checks an ES256 signature on every request.',
  );
  noteRepeats(
    byContender[contenders.indexOf(newSession)]!.map((r) => r.result),
    tokens.fresh.length,
  );
  if (s.profile)
    notes.push(
      'The small-table `me` runs ran under --cpu-prof (bench/results/me-*-r<round>.cpuprofile): their numbers carry the profiler’s overhead.',
    );
  const checks: Check[] = [
    ...meChecks(comparison, manyLabel(tokens.spread.length)),
    pairedCheck(
      '`me` (ES256, a session not in the cache) ÷ Apollo + one pg lookup (the same ES256 check)',
      rounds[newSession.name]!,
      rounds[apolloPgEs256.name]!,
    ),
  ];

  if (s.only === 'me') {
    await db.end();
    await smtp.close();
    checks.push(...generatorCheck(rows));
    finish({ machine, rows, rounds, checks, notes: ['BENCH_ONLY=me.', ...notes] }, 'me.json', started);
    return;
  }

  await tokenRuns(tokens.spread);

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
  const largeFresh = mint(signer, await freshSessions(pickUsers(s.freshSessions, s.largeUsers), 1));
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
