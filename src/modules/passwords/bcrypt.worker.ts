// One bcrypt job on a piscina thread (bcrypt-pool.ts): the synchronous calls, so the hashing runs on this
// low-priority thread and not on libuv's pool, whose threads compete with the event loop as equals.
// bcrypt is loaded with the first job, not when the thread starts: a thread is then only ever in native code while
// running a job, which the pool's close() waits for (a thread terminated inside a native module aborts the process).
import type * as Bcrypt from 'bcrypt';

export type BcryptJob = { op: 'hash'; data: string; cost: number } | { op: 'compare'; data: string; hash: string };

let bcrypt: typeof Bcrypt | undefined;

export default function runBcryptJob(job: BcryptJob): string | boolean {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- deliberately lazy, see above
  bcrypt ??= require('bcrypt') as typeof Bcrypt;
  return job.op === 'hash' ? bcrypt.hashSync(job.data, job.cost) : bcrypt.compareSync(job.data, job.hash);
}
