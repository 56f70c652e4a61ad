// Runs wrk (the C load generator, Debian package `wrk`) once, one thread, on the CPU this process is pinned to,
// with wrk-script.ts's Lua; the bodies and tokens go in files (never on the command line, where `ps` shows them),
// deleted when the run ends.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AMOUNT_MARK, RESULT_MARK, WRK_SCRIPT } from './wrk-script';

export const WRK_MISSING =
  'wrk, the load generator of `npm run bench`, is not installed: `sudo apt-get install wrk` (Debian, Ubuntu), ' +
  'or build it from https://github.com/wg/wrk and put it on PATH.';

export function wrkInstalled(): boolean {
  return !spawnSync('wrk', ['--version'], { stdio: 'ignore' }).error;
}

export interface WrkRun {
  /** http://127.0.0.1:PORT/graphql */
  readonly url: string;
  readonly connections: number;
  /** Whole seconds (wrk takes no fractions); with `amount`, only an upper bound. */
  readonly seconds: number;
  readonly timeoutSeconds: number;
  readonly mode: 'static' | 'rotate' | 'chain' | 'count' | 'cycle';
  /** The body (JSON unless `contentType` says otherwise); for chain, count and cycle, with PLACEHOLDER where the token or number goes. */
  readonly body: string;
  /** Content-Type of every request; application/json when absent. */
  readonly contentType?: string;
  /** A fixed Authorization header value for every request (static and cycle), e.g. `Bearer <API key>`. */
  readonly authorization?: string;
  readonly tokens?: readonly string[];
  /** A 2xx answer is right when it holds `expect` and not `forbid`. */
  readonly expect: string;
  readonly forbid?: string;
  /** rotate, cycle: index of the first token (to go on where a warm-up stopped). */
  readonly offset?: number;
  /** count: stop after this many answers. */
  readonly amount?: number;
}

export interface WrkResult {
  readonly requests: number;
  readonly seconds: number;
  /** Milliseconds. wrk adds samples for what a fixed-rate client would have waited (its coordinated-omission correction). */
  readonly latency: { mean: number; p50: number; p90: number; p99: number; max: number };
  readonly socket: { connect: number; read: number; write: number; timeout: number };
  readonly non2xx: number;
  /** 2xx answers that are not the expected data. */
  readonly bad: number;
  /** chain: successors already seen. */
  readonly repeated: number;
  /** Requests built by the script (rotate, chain, count; 0 for static). */
  readonly sent: number;
  readonly sample: string;
  readonly busyPercent: number;
  readonly coreBusyPercent: number | null;
}

interface RawResult extends Omit<WrkResult, 'seconds' | 'latency' | 'coreBusyPercent'> {
  readonly durationUs: number;
  readonly latencyUs: WrkResult['latency'];
  readonly coreBusyPercent: number;
}

/** USER_HZ, the unit of /proc's CPU times (100 on every mainstream Linux). */
const HZ = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** The one CPU this process may run on (taskset), or -1. */
function pinnedCpu(): number {
  const list = /^Cpus_allowed_list:\s*(\S+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '';
  return /^\d+$/.test(list) ? Number(list) : -1;
}

const running = new Set<ChildProcess>();
let dir: string | undefined;

/** The directory for this process's token files, made on first use with the clean-up that goes with it. */
function workDir(): string {
  if (dir !== undefined) return dir;
  const made = mkdtempSync(join(tmpdir(), 'portcullis-wrk-'));
  // Token files gone when this process ends, however it ends; and no wrk left hammering a server.
  process.once('exit', () => {
    for (const child of running) child.kill('SIGKILL');
    rmSync(made, { recursive: true, force: true });
  });
  process.once('SIGTERM', () => process.exit(143));
  process.once('SIGHUP', () => process.exit(129));
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) process.exit(1); // the orchestrator died
  }, 1000).unref();
  return (dir = made);
}

let runs = 0;

export async function runWrk(run: WrkRun): Promise<WrkResult> {
  const n = ++runs;
  const file = (name: string, text: string): string => {
    const path = join(workDir(), `${n}-${name}`);
    writeFileSync(path, text, { mode: 0o600 });
    return path;
  };
  const script = file('script.lua', WRK_SCRIPT);
  const body = file('body.json', run.body);
  const tokens = run.tokens ? file('tokens', `${run.tokens.join('\n')}\n`) : '-';
  // A secret too (an API key): in a file like the tokens, never on the command line.
  const authorization = run.authorization === undefined ? '-' : file('authorization', run.authorization);
  const number = run.mode === 'count' ? (run.amount ?? 0) : (run.offset ?? 0);
  const seconds = Math.max(1, Math.round(run.seconds));
  const args = [
    '-t1',
    `-c${run.connections}`,
    `-d${seconds}s`,
    `--timeout=${Math.max(1, Math.ceil(run.timeoutSeconds))}s`,
    '-s',
    script,
    run.url,
    '--',
    run.mode,
    body,
    tokens,
    run.expect,
    run.forbid ?? '-',
    String(number),
    String(pinnedCpu()),
    String(HZ),
    authorization,
    run.contentType ?? '-',
  ];
  const child = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (stderr.includes(AMOUNT_MARK)) child.kill('SIGINT'); // wrk ends the run early on SIGINT
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', (err: NodeJS.ErrnoException) => reject(err.code === 'ENOENT' ? new Error(WRK_MISSING) : err));
    child.once('close', resolve);
  });
  running.delete(child);
  for (const path of [script, body, tokens, authorization]) if (path !== '-') rmSync(path, { force: true });
  const line = stdout.split('\n').find((l) => l.startsWith(RESULT_MARK));
  if (code !== 0 || line === undefined)
    throw new Error(`wrk failed (exit ${code}):\n${stdout}\n${stderr.replace(AMOUNT_MARK, '').trim()}`);
  const { durationUs, latencyUs, coreBusyPercent, ...counts } = JSON.parse(line.slice(RESULT_MARK.length)) as RawResult;
  const ms = (us: number): number => us / 1000;
  return {
    ...counts,
    seconds: durationUs / 1e6,
    latency: {
      mean: ms(latencyUs.mean),
      p50: ms(latencyUs.p50),
      p90: ms(latencyUs.p90),
      p99: ms(latencyUs.p99),
      max: ms(latencyUs.max),
    },
    coreBusyPercent: coreBusyPercent < 0 ? null : coreBusyPercent,
  };
}
