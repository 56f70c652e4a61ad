// The servers under load — Portcullis (`node dist/src/main.js`) and the baselines — started fresh for each
// scenario on the server CPU, and the load generator run against them on the other CPU.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BENCH_JWT_SECRET, serverEnv, type Settings } from './settings';
import { freePort, runPinned, spawnPinned, stop, waitReady, type Pinned } from './processes';
import type { LoadResult, LoadSpec } from './scenarios';

export interface Target {
  /** http://127.0.0.1:PORT/graphql */
  readonly url: string;
  readonly proc: Pinned;
}

export interface StartOptions {
  /** Extra node flags, e.g. --cpu-prof. */
  readonly nodeArgs?: readonly string[];
  /** Variables over serverEnv's (the soak's real limits and cheap bcrypt). */
  readonly env?: Record<string, string>;
}

/** Starts the real server (compiled, production mode) and waits until /readyz says the database answers. */
export async function startPortcullis(
  settings: Settings,
  smtpPort: number,
  options: StartOptions = {},
): Promise<Target> {
  const port = await freePort();
  const env = { ...serverEnv(settings, port, smtpPort), ...options.env };
  const proc = spawnPinned(settings.serverCpu, [...(options.nodeArgs ?? []), 'dist/src/main.js'], env);
  await waitReady(proc, `http://127.0.0.1:${port}/readyz`);
  return { url: `http://127.0.0.1:${port}/graphql`, proc };
}

/**
 * The baselines: `standalone` is Apollo 5's startStandaloneServer with a constant `me`, `apollo-pg` the same with
 * one pg lookup per request (standalone-apollo.ts); `express` the old Apollo-on-Express 5 one (bare-apollo.ts).
 */
export type Baseline = 'standalone' | 'apollo-pg' | 'express';

/** `publicKeyPem`: the baseline verifies ES256 with it (bare-jwt.ts) instead of HS256. */
export async function startBaseline(settings: Settings, kind: Baseline, publicKeyPem?: string): Promise<Target> {
  const port = await freePort();
  const env: Record<string, string> = { NODE_ENV: 'production', PORT: String(port), JWT_SECRET: BENCH_JWT_SECRET };
  if (publicKeyPem !== undefined) env.JWT_PUBLIC_KEY = publicKeyPem;
  if (kind === 'apollo-pg') env.DATABASE_URL = settings.databaseUrl;
  const file = kind === 'express' ? 'dist/bench/bare-apollo.js' : 'dist/bench/standalone-apollo.js';
  const proc = spawnPinned(settings.serverCpu, [file], env);
  if (kind === 'express') await waitReady(proc, `http://127.0.0.1:${port}/healthz`);
  // The standalone server answers GraphQL on every path and no /healthz; a GET query needs the CSRF header.
  else await waitReady(proc, `http://127.0.0.1:${port}/?query=%7B__typename%7D`, { 'apollo-require-preflight': '1' });
  return { url: `http://127.0.0.1:${port}/graphql`, proc };
}

const specDir = mkdtempSync(join(tmpdir(), 'portcullis-bench-'));
let specCount = 0;
// The spec files hold the bench's tokens: gone when the run ends, however it ends.
process.once('exit', () => rmSync(specDir, { recursive: true, force: true }));
for (const [signal, code] of [
  ['SIGINT', 130],
  ['SIGTERM', 143],
] as const)
  process.once(signal, () => process.exit(code));

/** Runs one scenario from the load CPU against a running target. */
export async function load(settings: Settings, spec: LoadSpec): Promise<LoadResult> {
  const file = join(specDir, `spec-${++specCount}.json`);
  writeFileSync(file, JSON.stringify(spec));
  return JSON.parse(await runPinned(settings.loadCpu, ['dist/bench/load.js', file])) as LoadResult;
}

/** Starts a target, runs `work` against it, and always stops it (a fresh process per scenario). */
export async function withTarget<T>(start: () => Promise<Target>, work: (target: Target) => Promise<T>): Promise<T> {
  const target = await start();
  try {
    if (target.proc.child.exitCode !== null) throw new Error('server exited');
    return await work(target);
  } finally {
    await stop(target.proc);
  }
}
