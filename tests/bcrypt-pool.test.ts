// The password hashing threads (modules/auth/bcrypt-pool.ts): real bcrypt hashes, computed on worker threads
// whose scheduling priority is lowered (nice 10), so request handling on the event loop comes first.
import bcrypt from 'bcrypt';
import { readdirSync, readFileSync } from 'node:fs';
import { BCRYPT_PRIORITY, BcryptPool } from '../src/modules/passwords/bcrypt-pool';

/** The nice value of each thread of this process (Linux /proc; field 19 of stat, after the command name). */
function threadNiceValues(): number[] {
  return readdirSync('/proc/self/task').map((tid) => {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[16]); // fields after ")" start at field 3, so field 19 is index 16
  });
}

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
  const before = threadNiceValues();
  expect(before).not.toContain(BCRYPT_PRIORITY);
  await pool.hash('warm up', 4); // the first job starts a thread
  const during = threadNiceValues();
  expect(during.filter((n) => n === BCRYPT_PRIORITY)).toHaveLength(1);
  // This (the main) thread keeps its own nice value.
  const mainStat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
  expect(Number(mainStat.slice(mainStat.lastIndexOf(')') + 2).split(' ')[16])).toBe(before[0]);
});

it('runs at most `size` hashes at once and queues the rest', async () => {
  const results = await Promise.all(Array.from({ length: 6 }, (_, i) => pool.hash(`pw${i}`, 4)));
  expect(new Set(results).size).toBe(6);
  expect(threadNiceValues().filter((n) => n === BCRYPT_PRIORITY)).toHaveLength(2);
});

it('refuses work after close', async () => {
  await pool.close();
  await expect(pool.hash('late', 4)).rejects.toThrow(/closed/);
});
