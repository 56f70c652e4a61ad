// The results as a Markdown table (stdout) and JSON (bench/results/latest.json), with the machine they came from.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname } from 'node:path';
import type { EventLoopProbe, LoadResult } from './scenarios';
import type { SoakResult } from './soak';

export interface Machine {
  readonly cpu: string;
  readonly cores: number;
  readonly node: string;
  readonly postgres: string;
  readonly bcryptCost: number;
  readonly date: string;
  readonly commit: string;
  /** 1-minute load average when the run started: above ~0.5 the machine was not quiet. */
  readonly loadAverage: number;
}

export function describeMachine(postgres: string, bcryptCost: number): Machine {
  let cpu = cpus()[0]?.model ?? 'unknown';
  try {
    cpu = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpu;
  } catch {
    // not Linux
  }
  let commit = 'unknown';
  try {
    const git = (args: string[]): string =>
      execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    commit =
      git(['rev-parse', '--short', 'HEAD']) +
      (git(['status', '--porcelain', '--untracked-files=no']) ? ' + uncommitted changes' : '');
  } catch {
    // not a git checkout
  }
  return {
    cpu,
    cores: cpus().length,
    node: process.version,
    postgres,
    bcryptCost,
    date: new Date().toISOString(),
    commit,
    loadAverage: Math.round(loadavg()[0]! * 100) / 100,
  };
}

export interface Row {
  readonly name: string;
  readonly connections: number;
  readonly result: LoadResult;
}

export interface Check {
  readonly what: string;
  readonly value: string;
  readonly target: string;
  /** Null: a figure reported without a target. */
  readonly ok: boolean | null;
}

export interface Report {
  readonly machine: Machine;
  readonly rows: readonly Row[];
  /** Every round of the interleaved rows, by row name (the rows hold their medians). */
  readonly rounds?: Readonly<Record<string, readonly LoadResult[]>>;
  /** Absent when only the soak ran (BENCH_ONLY=soak). */
  readonly eventLoop?: EventLoopProbe;
  readonly checks: readonly Check[];
  readonly soak?: SoakResult;
  readonly notes: readonly string[];
}

/**
 * RSS growth allowed over the last nine tenths of the soak (after the first tenth has grown the heap to what the
 * load needs): the limit counters' bound (~25 MB for 100,000 with such emails) plus the heap's own slack.
 */
export const SOAK_RSS_GROWTH_MAX_MB = 64;

/** Issue 11's "done when": medians after the soak within 10% of the fresh server's, RSS growth bounded. */
export function soakChecks(soak: SoakResult): Check[] {
  const { fresh, soaked } = soak;
  const ratio = (after: number, before: number, afterMean: number, beforeMean: number) => ({
    r: after / before,
    value: `${(after / before).toFixed(2)} (${f(before, 2)} → ${f(after, 2)} ms; mean ${(afterMean / beforeMean).toFixed(2)})`,
  });
  const login = ratio(soaked.loginP50, fresh.loginP50, soaked.loginMean, fresh.loginMean);
  const otp = ratio(soaked.requestOtpP50, fresh.requestOtpP50, soaked.requestOtpMean, fresh.requestOtpMean);
  const growth = soaked.rssMb - soak.warmRssMb;
  const attempts = soak.attempts.toLocaleString('en');
  return [
    {
      what: `real \`login\` p50 after ${attempts} random-email logins ÷ fresh`,
      value: login.value,
      target: '≤ 1.10',
      ok: login.r <= 1.1,
    },
    {
      what: `real \`requestOtp\` p50 after ${attempts} random-email logins ÷ fresh`,
      value: otp.value,
      target: '≤ 1.10',
      ok: otp.r <= 1.1,
    },
    {
      what: 'server RSS growth over the last 9/10 of the soak',
      value:
        `${f(growth)} MB (fresh ${f(fresh.rssMb)}, after 1/10 ${f(soak.warmRssMb)}, end ${f(soaked.rssMb)} MB; ` +
        `JS heap in use ${f(fresh.heapUsedMb)} → ${f(soaked.heapUsedMb)} MB of ${f(fresh.heapTotalMb)} → ${f(soaked.heapTotalMb)} MB, external ${f(fresh.externalMb)} → ${f(soaked.externalMb)} MB)`,
      target: `≤ ${SOAK_RSS_GROWTH_MAX_MB} MB`,
      ok: growth <= SOAK_RSS_GROWTH_MAX_MB,
    },
  ];
}

const f = (n: number, digits = 1): string => (Number.isFinite(n) ? n.toFixed(digits) : '–');

/** Most the load generator may be busy for a figure to measure the server, not the generator. */
export const GENERATOR_BUSY_MAX = 80;

/** Issue 13: the load generator's core was below 80% busy in every scenario (wrk's own CPU time). */
export function generatorCheck(rows: readonly Row[]): Check[] {
  const measured = rows.filter((r) => r.result.generator !== undefined);
  if (measured.length === 0) return [];
  const busiest = measured.reduce((a, b) =>
    b.result.generator!.busyPercent > a.result.generator!.busyPercent ? b : a,
  );
  const busy = busiest.result.generator!.busyPercent;
  return [
    {
      what: 'load generator (wrk) busy, busiest scenario',
      value: `${f(busy)}% (${busiest.name})`,
      target: `< ${GENERATOR_BUSY_MAX}%`,
      ok: busy < GENERATOR_BUSY_MAX,
    },
  ];
}

export function markdown(report: Report): string {
  const m = report.machine;
  const e = report.eventLoop;
  const lines = [
    `Machine: ${m.cpu}, ${m.cores} cores, Node ${m.node}, PostgreSQL ${m.postgres}, bcrypt cost ${m.bcryptCost}, ` +
      `load average ${m.loadAverage} at start, ${m.date}, commit ${m.commit}`,
    '',
    '| scenario | connections | req/s | p50 ms | p90 ms | p99 ms | max ms | errors | generator busy % | its core busy % |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...report.rows.map(({ name, connections, result: r }) => {
      const warm = r.warmupErrors ?? 0;
      const errors = `${r.errors}${warm > 0 ? ` (+${warm} warm-up)` : ''}${r.errors + warm > 0 ? ' ✗' : ''}`;
      const g = r.generator;
      const busy = g ? `${f(g.busyPercent, 0)}${g.busyPercent >= GENERATOR_BUSY_MAX ? ' ✗' : ''}` : '–';
      const core = g?.coreBusyPercent == null ? '–' : f(g.coreBusyPercent, 0);
      const l = r.latency;
      return `| ${name} | ${connections} | ${f(r.requestsPerSecond)} | ${f(l.p50)} | ${f(l.p90)} | ${f(l.p99)} | ${f(l.max)} | ${errors} | ${busy} | ${core} |`;
    }),
    ...(e
      ? [
          '',
          `Event-loop delay while 20 logins are in flight (${f(e.windowSeconds)} s window): prom-client p99 ${f(e.serverP99Ms)} ms ` +
            `(p50 ${f(e.serverP50Ms)} ms, max ${f(e.serverMaxMs)} ms; each sample includes the 10 ms sampling interval), ` +
            `GET /healthz round trip p50 ${f(e.healthz.p50)} ms, p99 ${f(e.healthz.p99)} ms over ${e.healthz.count} probes.`,
        ]
      : []),
    ...(report.soak
      ? [
          '',
          `Soak: ${report.soak.attempts.toLocaleString('en')} logins with distinct random emails at ` +
            `${f(report.soak.load.requestsPerSecond)} req/s; before and after, ${report.soak.probes} real logins and ${report.soak.probes} ` +
            `real requestOtp calls one at a time (other users each time): login p50 ${f(report.soak.fresh.loginP50, 2)} → ` +
            `${f(report.soak.soaked.loginP50, 2)} ms, requestOtp p50 ${f(report.soak.fresh.requestOtpP50, 2)} → ` +
            `${f(report.soak.soaked.requestOtpP50, 2)} ms, RSS ${f(report.soak.fresh.rssMb)} → ${f(report.soak.soaked.rssMb)} MB.`,
        ]
      : []),
    '',
    '| check | measured | target | |',
    '|---|---:|---:|---|',
    ...report.checks.map((c) => `| ${c.what} | ${c.value} | ${c.target} | ${c.ok === null ? '' : c.ok ? '✓' : '✗'} |`),
    ...(report.notes.length > 0 ? ['', ...report.notes.map((n) => `- ${n}`)] : []),
  ];
  return `${lines.join('\n')}\n`;
}

export function writeJson(path: string, report: Report): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(report, null, 2)}\n`);
}
