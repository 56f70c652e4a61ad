// A redis-server child process of one test file, on a free port of its own, without persistence: tests can
// kill it, or stop it with SIGSTOP (a hung Redis: the connection stays open and nothing answers) and resume it.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer as createNetServer, type AddressInfo } from 'node:net';

/** Whether redis-server is on PATH; in CI its absence is an error, elsewhere the caller skips with a warning. */
export function redisServerAvailable(testFile: string): boolean {
  if (spawnSync('redis-server', ['--version']).status === 0) return true;
  const why = 'redis-server is not installed (not on PATH)';
  if (process.env.CI) throw new Error(`${testFile} needs Redis in CI: ${why}`);
  console.warn(`Skipping ${testFile}: ${why}.`);
  return false;
}

/**
 * Server env for tests about where a count lands (in Redis, shared by instances): a patient command timeout, so a
 * loaded CI machine that delays one Redis answer past the default 200 ms does not move that count to memory (the
 * store then counts the next requests in memory too, until a probe sees Redis answer). The tests of a hung Redis
 * keep the default.
 */
export const PATIENT_REDIS = { REDIS_COMMAND_TIMEOUT_MS: '10000' } as const;

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createNetServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export class RedisServer {
  private child: ChildProcess | null = null;

  private constructor(readonly port: number) {}

  /** Starts one on a free port and resolves once it logs that it accepts connections. */
  static async start(): Promise<RedisServer> {
    const server = new RedisServer(await freePort());
    await server.start();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** (Re)starts it on its port. */
  start(): Promise<void> {
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
    const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    let out = '';
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`redis-server did not start:\n${out}`)), 10_000);
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('Ready to accept connections')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited with ${code}:\n${out}`));
      });
    });
  }

  /** SIGSTOP: the process stays, its sockets stay open, nothing is answered until resume(). */
  pause(): void {
    this.child?.kill('SIGSTOP');
  }

  resume(): void {
    this.child?.kill('SIGCONT');
  }

  /** Kills it (SIGKILL: an outage, not a polite shutdown; a paused one too) and waits until it is gone. */
  stop(): Promise<void> {
    const child = this.child;
    this.child = null;
    if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      child.removeAllListeners('exit');
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  }
}
