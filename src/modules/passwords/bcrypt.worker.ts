// One bcrypt job on a piscina thread (bcrypt-pool.ts): the synchronous calls, so the hashing runs on this
// low-priority thread and not on libuv's pool, whose threads compete with the event loop as equals.
import { compareSync, hashSync } from 'bcrypt';

export type BcryptJob = { op: 'hash'; data: string; cost: number } | { op: 'compare'; data: string; hash: string };

export default function runBcryptJob(job: BcryptJob): string | boolean {
  return job.op === 'hash' ? hashSync(job.data, job.cost) : compareSync(job.data, job.hash);
}
