// bcrypt on worker threads of lowered priority (nice +10), through piscina. libuv's thread pool kept bcrypt off
// the event loop, but its four threads competed with the event loop for the CPU as equals: while logins hashed,
// every request's own work took several times longer (event-loop delay p99 ~30-50 ms on one core). At nice +10
// the hashing yields to request handling and still runs at full speed on an otherwise idle CPU.
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import Piscina from 'piscina';
import type { BcryptJob } from './bcrypt.worker';

export const BCRYPT_NICE_INCREMENT = 10;

// A thread can load only JavaScript: run from the TypeScript source (jest, whose global setup builds dist/), the pool
// uses the compiled worker in dist/ (loading it through ts-node instead cost ~70 MB and ~0.25 s a thread).
const WORKER_FILE = __filename.endsWith('.ts')
  ? join(__dirname, '..', '..', '..', 'dist', 'src', 'modules', 'passwords', 'bcrypt.worker.js')
  : join(__dirname, 'bcrypt.worker.js');

export class BcryptPool {
  private readonly pool: Piscina<BcryptJob, string | boolean>;
  private closed = false;
  private readonly inFlight = new Set<Promise<string | boolean>>();

  constructor(size = Math.max(2, Math.min(4, availableParallelism()))) {
    if (!existsSync(WORKER_FILE)) throw new Error(`${WORKER_FILE} is missing: run npm run build`);
    this.pool = new Piscina({
      filename: WORKER_FILE,
      minThreads: 0, // threads start with the first jobs,
      maxThreads: size,
      idleTimeout: Infinity, // and then stay (piscina unrefs idle threads, so they never keep the process alive)
      niceIncrement: BCRYPT_NICE_INCREMENT, // Linux: the worker thread only
    });
  }

  hash(data: string, cost: number): Promise<string> {
    return this.run({ op: 'hash', data, cost }) as Promise<string>;
  }

  compare(data: string, hash: string): Promise<boolean> {
    return this.run({ op: 'compare', data, hash }) as Promise<boolean>;
  }

  /**
   * Refuses new jobs, lets every job already sent finish, then ends the threads. A thread is never terminated in the
   * middle of bcrypt's native code: node-addon-api cannot throw into a dying thread and aborts the whole process.
   */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled(this.inFlight);
    await this.pool.close();
  }

  private run(job: BcryptJob): Promise<string | boolean> {
    // piscina would start new threads for work sent after close()
    if (this.closed) return Promise.reject(new Error('bcrypt pool closed'));
    const running = this.pool.run(job);
    this.inFlight.add(running);
    const forget = () => this.inFlight.delete(running);
    running.then(forget, forget);
    return running;
  }
}
