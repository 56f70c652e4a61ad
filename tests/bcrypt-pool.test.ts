// The password hashing threads (modules/passwords/bcrypt-pool.ts): real bcrypt hashes, computed on piscina threads
// whose scheduling priority is lowered (nice +10), so request handling on the event loop comes first.
import bcrypt from 'bcrypt';
import { readdirSync, readFileSync } from 'node:fs';
import { BCRYPT_NICE_INCREMENT, BcryptPool } from '../src/modules/passwords/bcrypt-pool';

/** The nice value of one thread of this process (Linux /proc; field 19 of stat, after the command name). */
function niceOf(tid: string | number): number {
  const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[16]); // fields after ")" start at field 3, so field 19 is index 16
}
const threadNiceValues = (): number[] => readdirSync('/proc/self/task').map(niceOf);
const mainNice = (): number => niceOf(process.pid);
const LOWERED = mainNice() + BCRYPT_NICE_INCREMENT;

let pool: BcryptPool;
beforeEach(() => {
  pool = new BcryptPool(2);
});
afterEach(async () => {
  await pool.close();
});

it('makes hashes bcrypt itself accepts, and compares against bcrypt hashes', async () => {
  const hash = await pool.hash('correct horse', 4);
  expect(hash).toMatch(/^\$2b\$04\$/);
  expect(bcrypt.compareSync('correct horse', hash)).toBe(true);
  expect(await pool.compare('correct horse', bcrypt.hashSync('correct horse', 4))).toBe(true);
  expect(await pool.compare('wrong horse', hash)).toBe(false);
});

it('hashes on threads of lowered priority, leaving the event loop thread as it was', async () => {
  const before = mainNice();
  expect(threadNiceValues()).not.toContain(LOWERED);
  await pool.hash('warm up', 4); // the first job starts a thread
  expect(threadNiceValues().filter((n) => n === LOWERED)).toHaveLength(1);
  expect(mainNice()).toBe(before);
});

it('runs at most `size` hashes at once and queues the rest', async () => {
  const results = await Promise.all(Array.from({ length: 6 }, (_, i) => pool.hash(`pw${i}`, 4)));
  expect(new Set(results).size).toBe(6);
  expect(threadNiceValues().filter((n) => n === LOWERED)).toHaveLength(2);
});

it('fails a job bcrypt refuses, and keeps serving the next ones', async () => {
  await expect(pool.compare('pw', 'not a bcrypt hash')).resolves.toBe(false);
  await expect(pool.hash('pw', 32)).rejects.toThrow(/salt/i);
  await expect(pool.hash('pw', 4)).resolves.toMatch(/^\$2b\$04\$/);
});

it('ends its threads on close, and refuses work after it', async () => {
  await Promise.all([pool.hash('a', 4), pool.hash('b', 4)]);
  expect(threadNiceValues().filter((n) => n === LOWERED)).toHaveLength(2);
  await pool.close();
  expect(threadNiceValues()).not.toContain(LOWERED);
  await expect(pool.hash('late', 4)).rejects.toThrow(/closed/);
});
