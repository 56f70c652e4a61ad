// bcrypt on worker threads of lowered priority (nice 10). libuv's thread pool kept bcrypt off the event
// loop, but its four threads competed with the event loop for the CPU as equals: while logins hashed,
// every request's own work took several times longer (event-loop delay p99 ~30-50 ms on one core). At nice
// 10 the hashing yields to request handling and still runs at full speed on an otherwise idle CPU.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

type Job = { op: 'hash'; data: string; cost: number } | { op: 'compare'; data: string; hash: string };
interface Pending {
  readonly job: Job;
  resolve(value: string | boolean): void;
  reject(error: Error): void;
}

// Plain JavaScript, so the same code runs under ts-node, jest and the compiled server.
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const bcrypt = require(workerData.bcrypt);
try { require('node:os').setPriority(workerData.priority); } catch {} // Linux: this thread only
parentPort.on('message', (job) => {
  try {
    const result = job.op === 'hash' ? bcrypt.hashSync(job.data, job.cost) : bcrypt.compareSync(job.data, job.hash);
    parentPort.postMessage({ result });
  } catch (err) {
    parentPort.postMessage({ error: String(err && err.message || err) });
  }
});`;

export const BCRYPT_PRIORITY = 10;

export class BcryptPool {
  private readonly idle: Worker[] = [];
  private readonly busy = new Map<Worker, Pending>();
  private readonly queue: Pending[] = [];
  private closed = false;

  constructor(private readonly size = Math.max(2, Math.min(4, availableParallelism()))) {}

  hash(data: string, cost: number): Promise<string> {
    return this.run({ op: 'hash', data, cost }) as Promise<string>;
  }

  compare(data: string, hash: string): Promise<boolean> {
    return this.run({ op: 'compare', data, hash }) as Promise<boolean>;
  }

  /** Ends the threads; jobs still waiting are refused. */
  async close(): Promise<void> {
    this.closed = true;
    for (const p of this.queue.splice(0)) p.reject(new Error('bcrypt pool closed'));
    const workers = [...this.idle.splice(0), ...this.busy.keys()];
    await Promise.all(workers.map((w) => w.terminate()));
  }

  private run(job: Job): Promise<string | boolean> {
    if (this.closed) return Promise.reject(new Error('bcrypt pool closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ job, resolve, reject });
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      const worker = this.idle.pop() ?? (this.busy.size < this.size ? this.spawn() : undefined);
      if (worker === undefined) return;
      const pending = this.queue.shift()!;
      this.busy.set(worker, pending);
      worker.postMessage(pending.job);
    }
  }

  private spawn(): Worker {
    const worker = new Worker(WORKER, {
      eval: true,
      workerData: { bcrypt: require.resolve('bcrypt'), priority: BCRYPT_PRIORITY },
    });
    worker.unref(); // idle threads never keep the process alive
    worker.on('message', (msg: { result?: string | boolean; error?: string }) => {
      const pending = this.busy.get(worker);
      this.busy.delete(worker);
      if (!this.closed) this.idle.push(worker);
      if (msg.error !== undefined) pending?.reject(new Error(msg.error));
      else pending?.resolve(msg.result!);
      this.dispatch();
    });
    worker.on('error', (err) => {
      // A crashed thread fails its job; the next job starts a new thread.
      const pending = this.busy.get(worker);
      this.busy.delete(worker);
      pending?.reject(err);
      this.dispatch();
    });
    return worker;
  }
}
