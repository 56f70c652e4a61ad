// Runs the real entry point (src/main.ts) in a child process, as `npm start` would, with only `env`.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');

export interface MainProcess {
  readonly child: ChildProcess;
  /** http://127.0.0.1:PORT/graphql, read from the start-up log line. */
  readonly url: string;
  /** Every line it printed so far (stdout lines, stderr chunks). */
  readonly lines: string[];
}

/** Starts `src/main.ts` (through ts-node) with PATH, HOME and `env`; resolves once it logs its port. */
export function startMain(env: Record<string, string>, timeoutMs = 60_000): Promise<MainProcess> {
  const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', 'src/main.ts'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
  });
  const lines: string[] = [];
  let buffered = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${lines.join('\n')}`)), timeoutMs);
    child.stderr!.on('data', (d: Buffer) => lines.push(d.toString()));
    child.stdout!.on('data', (d: Buffer) => {
      buffered += d.toString();
      const parts = buffered.split('\n');
      buffered = parts.pop()!;
      for (const line of parts) {
        lines.push(line);
        const m = /listening on http:\/\/localhost:(\d+)\/graphql/.exec(line);
        if (m) {
          clearTimeout(timer);
          resolve({ child, url: `http://127.0.0.1:${m[1]}/graphql`, lines });
        }
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${lines.join('\n')}`));
    });
  });
}

/** SIGTERM, then the exit code. */
export function stopMain(main: MainProcess): Promise<number | null> {
  if (main.child.exitCode !== null) return Promise.resolve(main.child.exitCode);
  return new Promise((resolve) => {
    main.child.removeAllListeners('exit');
    main.child.once('exit', (code) => resolve(code));
    main.child.kill('SIGTERM');
  });
}
