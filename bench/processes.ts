// Child processes of the benchmark, each pinned to one CPU with taskset: the server under test (compiled JS
// from dist/, never ts-node), the baselines, and the load generator (load.js, which runs wrk on its own CPU).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const ROOT = join(__dirname, '..', '..');
const HAS_TASKSET = spawnSync('taskset', ['-V']).status === 0;

export interface Pinned {
  readonly child: ChildProcess;
  /** Everything it wrote, for the error message when it dies. */
  readonly output: string[];
}

const live = new Set<ChildProcess>();
// A bench interrupted (SIGINT, SIGTERM, an error) leaves no server running on the shared machine.
process.once('exit', () => {
  for (const child of live) child.kill('SIGTERM'); // load.js then stops wrk and deletes its token files
});

/** `taskset -c cpu node …args` (plain `node …args` where taskset is missing, with a warning). */
export function spawnPinned(cpu: number, args: readonly string[], env: Record<string, string>): Pinned {
  if (!HAS_TASKSET) process.stderr.write(`warning: taskset not found; ${args[args.length - 1]} is not pinned\n`);
  const [cmd, argv] = HAS_TASKSET
    ? ['taskset', ['-c', String(cpu), process.execPath, ...args]]
    : [process.execPath, [...args]];
  const child = spawn(cmd, argv, {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
  });
  live.add(child);
  child.once('exit', () => live.delete(child));
  const output: string[] = [];
  const keep = (d: Buffer): void => {
    output.push(d.toString());
    if (output.length > 200) output.shift();
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  return { child, output };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** Polls `url` until it answers 200; throws with the process output if it exits or takes too long. */
export async function waitReady(
  proc: Pinned,
  url: string,
  headers: Record<string, string> = {},
  timeoutMs = 60_000,
): Promise<void> {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    if (proc.child.exitCode !== null)
      throw new Error(`process exited with ${proc.child.exitCode}:\n${proc.output.join('')}`);
    try {
      if ((await fetch(url, { headers })).ok) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`not ready after ${timeoutMs / 1000} s (${url}):\n${proc.output.join('')}`);
}

/** SIGTERM, then SIGKILL after `graceMs` (queued bcrypt work can keep a server busy long after the load). */
export async function stop(proc: Pinned, graceMs = 5_000): Promise<void> {
  const { child } = proc;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Runs the load generator on `cpu` with a spec file; resolves with its one line of JSON. */
export function runPinned(cpu: number, args: readonly string[]): Promise<string> {
  const proc = spawnPinned(cpu, args, {});
  let stdout = '';
  proc.child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  return new Promise((resolve, reject) => {
    proc.child.once('exit', (code) =>
      code === 0
        ? resolve(stdout.trim())
        : reject(new Error(`load generator failed (${code}):\n${proc.output.join('')}`)),
    );
  });
}
