// Runs a compiled entry point to its end (a one-shot script, or a server that refuses to start): exit code and output.
import { spawnDist } from './main-process';

export interface Finished {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** `node dist/<source>.js …args` with PATH, HOME and `env`, `stdin` written to it; killed (and failed) after the timeout. */
export function runDist(
  source: string,
  args: string[],
  env: Record<string, string>,
  { stdin = '', timeoutMs = 60_000 }: { stdin?: string; timeoutMs?: number } = {},
): Promise<Finished> {
  const child = spawnDist(source, args, env, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin!.end(stdin);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${source} did not finish in ${timeoutMs} ms:\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.once('error', (err) => (clearTimeout(timer), reject(err)));
    child.once('close', (code) => (clearTimeout(timer), resolve({ code, stdout, stderr })));
  });
}
