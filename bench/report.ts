// The results as a Markdown table (stdout) and JSON (bench/results/latest.json), with the machine they came from.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname } from 'node:path';
import type { EventLoopProbe, LoadResult } from './scenarios';

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
    const git = (args: string[]): string => execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    commit = git(['rev-parse', '--short', 'HEAD']) + (git(['status', '--porcelain', '--untracked-files=no']) ? ' + uncommitted changes' : '');
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
  readonly ok: boolean;
}

export interface Report {
  readonly machine: Machine;
  readonly rows: readonly Row[];
  readonly eventLoop: EventLoopProbe;
  readonly checks: readonly Check[];
  readonly notes: readonly string[];
}

const f = (n: number, digits = 1): string => (Number.isFinite(n) ? n.toFixed(digits) : '–');

export function markdown(report: Report): string {
  const m = report.machine;
  const e = report.eventLoop;
  const lines = [
    `Machine: ${m.cpu}, ${m.cores} cores, Node ${m.node}, PostgreSQL ${m.postgres}, bcrypt cost ${m.bcryptCost}, ` +
      `load average ${m.loadAverage} at start, ${m.date}, commit ${m.commit}`,
    '',
    '| scenario | connections | req/s | p50 ms | p99 ms | max ms | errors |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...report.rows.map(({ name, connections, result: r }) => {
      const warm = r.warmupErrors ?? 0;
      const errors = `${r.errors}${warm > 0 ? ` (+${warm} warm-up)` : ''}${r.errors + warm > 0 ? ' ✗' : ''}`;
      return `| ${name} | ${connections} | ${f(r.requestsPerSecond)} | ${f(r.latency.p50)} | ${f(r.latency.p99)} | ${f(r.latency.max)} | ${errors} |`;
    }),
    '',
    `Event-loop delay while 20 logins are in flight (${f(e.windowSeconds)} s window): prom-client p99 ${f(e.serverP99Ms)} ms ` +
      `(p50 ${f(e.serverP50Ms)} ms, max ${f(e.serverMaxMs)} ms; each sample includes the 10 ms sampling interval), ` +
      `GET /healthz round trip p50 ${f(e.healthz.p50)} ms, p99 ${f(e.healthz.p99)} ms over ${e.healthz.count} probes.`,
    '',
    '| check | measured | target | |',
    '|---|---:|---:|---|',
    ...report.checks.map((c) => `| ${c.what} | ${c.value} | ${c.target} | ${c.ok ? '✓' : '✗'} |`),
    ...(report.notes.length > 0 ? ['', ...report.notes.map((n) => `- ${n}`)] : []),
  ];
  return `${lines.join('\n')}\n`;
}

export function writeJson(path: string, report: Report): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(report, null, 2)}\n`);
}
