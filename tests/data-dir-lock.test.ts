// The embedded data directory is held by one process at a time: a second server, admin:create or migrate on it
// refuses with one line naming the holder (never "created" for an account the server's database then loses),
// and a lock left by a process that is gone (killed, crashed) is taken over.
import { spawn } from 'node:child_process';
import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataDirInUseError, LOCK_FILE, lockDataDir } from '../src/database/data-dir-lock';
import { readyz } from './helpers/client';
import { startMain, stopMain, type MainProcess } from './helpers/main-process';
import { runDist } from './helpers/run-dist';
import { tempDirs } from './helpers/temp-dirs';

const tempDir = tempDirs('portcullis-lock-');

const inUse = (dir: string, pid: number | undefined, holder: string): string =>
  `DATA_DIR ${dir} is in use by process ${pid} (${holder}); stop it first or use another DATA_DIR`;

function lockRecord(dir: string): { pid: number; holder: string } {
  return JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')) as { pid: number; holder: string };
}

/** A process that has exited: its pid names nobody (until the system reuses it, long after this test). */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((resolve) => child.once('exit', resolve));
  return child.pid!;
}

/** A live process standing in for another holder; killed by the caller. */
async function livePid(): Promise<{ pid: number; kill: () => Promise<void> }> {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000); console.log("up")']);
  await new Promise((resolve) => child.stdout.once('data', resolve));
  return {
    pid: child.pid!,
    kill: () => new Promise<void>((resolve) => (child.once('exit', () => resolve()), child.kill('SIGKILL'))),
  };
}

describe('lockDataDir', () => {
  it('records the holder and its pid, and removes the file when released', () => {
    const dir = tempDir();
    const lock = lockDataDir(dir, 'portcullis server');
    expect(lockRecord(dir)).toMatchObject({ pid: process.pid, holder: 'portcullis server' });
    lock.release();
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
  });

  it('refuses while the process named in the lock is alive, naming its pid and what it is', async () => {
    const dir = tempDir();
    const other = await livePid();
    try {
      writeFileSync(
        join(dir, LOCK_FILE),
        JSON.stringify({ pid: other.pid, holder: 'npm run migrate', since: new Date().toISOString() }),
      );
      expect(() => lockDataDir(dir, 'portcullis server')).toThrow(
        new DataDirInUseError(dir, { pid: other.pid, holder: 'npm run migrate' }),
      );
      expect(() => lockDataDir(dir, 'portcullis server')).toThrow(inUse(dir, other.pid, 'npm run migrate'));
      expect(lockRecord(dir).pid).toBe(other.pid); // left as it was
    } finally {
      await other.kill();
    }
  });

  it('refuses a second open of the same directory in this process', () => {
    const dir = tempDir();
    const lock = lockDataDir(dir, 'portcullis server');
    try {
      expect(() => lockDataDir(dir, 'npm run admin:create')).toThrow(DataDirInUseError);
    } finally {
      lock.release();
    }
  });

  it('takes over a lock whose process is gone', async () => {
    const dir = tempDir();
    writeFileSync(
      join(dir, LOCK_FILE),
      JSON.stringify({ pid: await deadPid(), holder: 'portcullis server', since: '' }),
    );
    const lock = lockDataDir(dir, 'npm run admin:create');
    expect(lockRecord(dir)).toMatchObject({ pid: process.pid, holder: 'npm run admin:create' });
    lock.release();
  });

  it("takes over a lock naming this process's own pid, left by an earlier process (a restarted container)", () => {
    const dir = tempDir();
    writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid: process.pid, holder: 'portcullis server', since: '' }));
    const lock = lockDataDir(dir, 'portcullis server');
    expect(lockRecord(dir).pid).toBe(process.pid);
    lock.release();
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
  });

  it('takes over a lock whose pid was reused by a process started later (Linux: by its start time)', async () => {
    const dir = tempDir();
    const other = await livePid();
    try {
      writeFileSync(
        join(dir, LOCK_FILE),
        JSON.stringify({ pid: other.pid, holder: 'portcullis server', started: '1', since: '' }),
      );
      if (existsSync('/proc/self/stat')) {
        lockDataDir(dir, 'portcullis server').release();
      } else {
        expect(() => lockDataDir(dir, 'portcullis server')).toThrow(DataDirInUseError); // no start times: alive is alive
      }
    } finally {
      await other.kill();
    }
  });

  it('takes over a lock file that holds no record', () => {
    const dir = tempDir();
    writeFileSync(join(dir, LOCK_FILE), 'not json');
    const lock = lockDataDir(dir, 'portcullis server');
    expect(lockRecord(dir).pid).toBe(process.pid);
    lock.release();
  });

  it('on release, leaves alone a lock that another process has taken over meanwhile', () => {
    const dir = tempDir();
    const lock = lockDataDir(dir, 'portcullis server');
    const theirs = JSON.stringify({ pid: process.pid + 1, holder: 'portcullis server', since: '' });
    writeFileSync(join(dir, LOCK_FILE), theirs);
    lock.release();
    expect(readFileSync(join(dir, LOCK_FILE), 'utf8')).toBe(theirs);
  });
});

describe('processes on one embedded DATA_DIR', () => {
  jest.setTimeout(120_000);
  const PASSWORD = 'Lock-Admin-Passw0rd!';
  let template: string;

  // One migrated data directory, copied for each test: a new PGlite takes seconds to initialise, a copy no time.
  beforeAll(async () => {
    template = tempDir();
    const migrated = await runDist('scripts/migrate', [], { DATA_DIR: template }, { timeoutMs: 110_000 });
    if (migrated.code !== 0) throw new Error(`migrate failed: ${migrated.stdout}${migrated.stderr}`);
  }, 120_000);

  function copyOfTemplate(): string {
    const dir = tempDir();
    cpSync(template, dir, { recursive: true });
    return dir;
  }

  async function login(main: MainProcess, email: string): Promise<{ email: string; roles: string[] } | undefined> {
    const res = await main.gql<{ login?: { user: { email: string; roles: string[] } } }>(
      'mutation($e: String!, $p: String!) { login(email: $e, password: $p) { user { email roles } } }',
      { e: email, p: PASSWORD },
    );
    return res.data?.login?.user;
  }

  it('a second server, admin:create and migrate refuse while a server runs; admin:create works once it stops, and its account survives a restart', async () => {
    const dir = copyOfTemplate();
    const env = { PORT: '0', DATA_DIR: dir, BCRYPT_COST: '4' };
    const email = 'lock-admin@example.com';
    const first = await startMain(env);
    try {
      const refusal = `${inUse(dir, first.child.pid, 'portcullis server')}\n`;
      const second = await runDist('src/main', [], env);
      expect({ code: second.code, stderr: second.stderr }).toEqual({ code: 1, stderr: refusal });
      expect(second.stdout).not.toContain('listening');

      const admin = await runDist('scripts/admin-create', ['--email', email], env, { stdin: `${PASSWORD}\n` });
      expect({ code: admin.code, stderr: admin.stderr, stdout: admin.stdout }).toEqual({
        code: 1,
        stderr: refusal,
        stdout: '',
      });
      const migrate = await runDist('scripts/migrate', [], env);
      expect({ code: migrate.code, stderr: migrate.stderr }).toEqual({ code: 1, stderr: refusal });

      expect((await readyz(first.url)).status).toBe(200); // the first one keeps serving
      expect(await login(first, email)).toBeUndefined(); // and nothing was written behind its back
    } finally {
      expect(await stopMain(first)).toBe(0);
    }
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);

    const admin = await runDist('scripts/admin-create', ['--email', email], env, { stdin: `${PASSWORD}\n` });
    expect(admin.code).toBe(0);
    expect(admin.stdout).toMatch(new RegExp(`^created ${email} `));

    const restarted = await startMain(env);
    try {
      expect(await login(restarted, email)).toEqual({ email, roles: ['ADMIN'] });
    } finally {
      expect(await stopMain(restarted)).toBe(0);
    }
  });

  it('a server killed with SIGKILL leaves its lock behind, and the next start takes it over', async () => {
    const dir = copyOfTemplate();
    const env = { PORT: '0', DATA_DIR: dir };
    const killed = await startMain(env);
    killed.child.kill('SIGKILL');
    await new Promise((resolve) =>
      killed.child.exitCode !== null || killed.child.signalCode !== null
        ? resolve(null)
        : killed.child.once('exit', resolve),
    );
    expect(lockRecord(dir).pid).toBe(killed.child.pid); // no chance to clean up

    const next = await startMain(env);
    try {
      expect(lockRecord(dir)).toMatchObject({ pid: next.child.pid, holder: 'portcullis server' });
      expect((await readyz(next.url)).status).toBe(200);
    } finally {
      expect(await stopMain(next)).toBe(0);
    }
  });
});
