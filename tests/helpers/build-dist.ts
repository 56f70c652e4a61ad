// `npm run build` for the test run, one at a time across processes: two jest runs at once (a watch and a
// one-off, say) would otherwise write dist/ together while a child process of either reads it.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { eventually } from './eventually';

const ROOT = join(__dirname, '..', '..');
const LOCK = join(ROOT, 'dist', '.test-build.lock');

function holderAlive(): boolean {
  try {
    process.kill(Number(readFileSync(join(LOCK, 'pid'), 'utf8')), 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes the lock directory (mkdir is atomic), taking it over from a process that is gone. */
async function lock(): Promise<() => void> {
  mkdirSync(join(ROOT, 'dist'), { recursive: true });
  const started = Date.now();
  const taken = (): boolean => {
    try {
      mkdirSync(LOCK);
      writeFileSync(join(LOCK, 'pid'), String(process.pid));
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      // Give a holder that has just made the directory time to write its pid before calling it gone.
      if (Date.now() - started >= 1000 && !holderAlive()) rmSync(LOCK, { recursive: true, force: true });
      return false;
    }
  };
  // Another run's build holds it for as long as a build takes.
  await eventually(taken, Boolean, { intervalMs: 100, timeoutMs: 600_000 });
  return () => rmSync(LOCK, { recursive: true, force: true });
}

/** Runs `npm run build`; its output is shown only when it fails. */
export async function buildDist(): Promise<void> {
  const unlock = await lock();
  try {
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    const output: string[] = [];
    const child = spawn(npm, ['run', 'build', '--silent'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (d: Buffer) => output.push(d.toString()));
    child.stderr.on('data', (d: Buffer) => output.push(d.toString()));
    const code = await new Promise<number | null>((resolve, reject) => child.on('error', reject).on('close', resolve));
    if (code !== 0) throw new Error(`npm run build failed (exit ${code}); tests need dist/:\n${output.join('')}`);
  } finally {
    unlock();
  }
}
