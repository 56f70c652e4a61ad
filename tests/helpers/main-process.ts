// Runs the compiled entry points (dist/, built once per test run by global-setup.ts) in child processes, as
// `npm start` and the npm scripts do: a child starts in well under a second, where ts-node took about three.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { graphqlClient, type GraphQLClient } from './client';
import { OutputLines } from './output-lines';

export const ROOT = join(__dirname, '..', '..');

/** The compiled file of a source entry point: `distEntry('src/main')` → /…/dist/src/main.js. */
export function distEntry(source: string): string {
  const file = join(ROOT, 'dist', `${source.replace(/\.ts$/, '')}.js`);
  if (!existsSync(file)) throw new Error(`${file} is missing: jest's global setup builds dist/ (npm run build)`);
  return file;
}

/** `node <dist entry> …args`, with PATH, HOME and `env` only (unless `options.env` says otherwise). */
export function spawnDist(
  source: string,
  args: string[],
  env: Record<string, string>,
  options: SpawnOptions = {},
): ChildProcess {
  // Started in the repository, a child reads no .env (ENV_FILE empty): a developer's ./.env never leaks into a
  // test. A test that gives its own working directory gets the default behaviour, .env loading included.
  const inRepository = options.cwd === undefined;
  return spawn(process.execPath, [distEntry(source), ...args], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      ...(inRepository ? { ENV_FILE: '' } : {}),
      ...env,
    },
    ...options,
  });
}

/** The start line, whatever address it names (127.0.0.1, localhost, 0.0.0.0, [::]); group 1 is the port. */
export const LISTENING = /listening on http:\/\/(?:\[[^\]\s]*\]|[^\s/:]+):(\d+)\/graphql/;

/** `url` (http://127.0.0.1:PORT/graphql) is read from the start-up log line. */
export interface MainProcess extends GraphQLClient {
  readonly child: ChildProcess;
  /** Every line it printed so far (stdout lines, stderr chunks). */
  readonly lines: string[];
  /** The same lines as they come, to wait for one. */
  readonly output: OutputLines;
}

export interface StartingMain {
  readonly child: ChildProcess;
  readonly output: OutputLines;
  /** Resolves once it logs its port; rejects if it exits first or takes longer than the timeout. */
  readonly listening: Promise<MainProcess>;
}

/** Starts the compiled server (dist/src/main.js) with PATH, HOME and `env`, and hands it back at once. */
export function spawnMain(env: Record<string, string>, timeoutMs = 60_000): StartingMain {
  const child = spawnDist('src/main', [], env);
  const output = new OutputLines(child);
  const listening = output.waitFor(LISTENING, { timeoutMs, what: 'the server to start' }).then(([line]) => ({
    ...graphqlClient(`http://127.0.0.1:${LISTENING.exec(line!)![1]}/graphql`),
    child,
    lines: output.lines,
    output,
  }));
  listening.catch(() => child.kill('SIGKILL')); // a start that failed leaves no process behind
  return { child, output, listening };
}

/** Starts the compiled server with PATH, HOME and `env`; resolves once it logs its port. */
export function startMain(env: Record<string, string>, timeoutMs = 60_000): Promise<MainProcess> {
  return spawnMain(env, timeoutMs).listening;
}

/** SIGTERM, then the exit code. */
export function stopMain(main: { child: ChildProcess }): Promise<number | null> {
  if (main.child.exitCode !== null || main.child.signalCode !== null) return Promise.resolve(main.child.exitCode);
  return new Promise((resolve) => {
    main.child.once('exit', (code) => resolve(code));
    main.child.kill('SIGTERM');
  });
}
