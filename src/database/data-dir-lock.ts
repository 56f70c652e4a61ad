// Holds the embedded data directory for one process: a lock file naming the holder's pid, removed on exit, taken
// over when the process it names is gone (killed, crashed), so two processes never open one PGlite at once.
import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { OperatorError } from '../config/config-helpers';

export const LOCK_FILE = 'portcullis.lock';

interface LockRecord {
  pid: number;
  /** What the holder is, for the refusal line: "portcullis server", "npm run admin:create", … */
  holder: string;
  /** The holder's start time (Linux /proc), so a pid reused by another process does not keep a stale lock. */
  started?: string;
  since: string;
}

export interface DataDirLock {
  readonly path: string;
  release(): void;
}

/** Lock files this process holds: a second open of the same directory here refuses too. */
const held = new Set<string>();

/** A process's start time in clock ticks since boot (Linux); undefined elsewhere or when it is gone. */
function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start at field 3; starttime is field 22.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function alive(record: LockRecord): boolean {
  if (record.pid === process.pid) return false; // not held here (checked first): left by an earlier process with our pid
  try {
    process.kill(record.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false; // ESRCH: no such process
  }
  const started = startTime(record.pid);
  return record.started === undefined || started === undefined || started === record.started;
}

function readRecord(path: string): LockRecord | undefined {
  try {
    const record = JSON.parse(readFileSync(path, 'utf8')) as Partial<LockRecord>;
    return typeof record.pid === 'number' && Number.isInteger(record.pid) && record.pid > 0
      ? {
          pid: record.pid,
          holder: String(record.holder ?? 'unknown'),
          started: record.started,
          since: String(record.since),
        }
      : undefined;
  } catch {
    return undefined; // unreadable or gone: nobody can be shown to hold it
  }
}

/** Puts the lock file in place whole, or throws EEXIST. */
function place(draft: string, path: string, text: string): void {
  try {
    linkSync(draft, path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'ENOSYS') throw err;
    writeFileSync(path, text, { flag: 'wx', mode: 0o644 }); // no hard links on this file system: create it exclusively
  }
}

export class DataDirInUseError extends OperatorError {
  constructor(dataDir: string, holder: { pid: number; holder: string }) {
    super(
      `DATA_DIR ${dataDir} is in use by process ${holder.pid} (${holder.holder}); stop it first or use another DATA_DIR`,
    );
    this.name = 'DataDirInUseError';
  }
}

/**
 * Takes `dataDir` for this process or throws DataDirInUseError naming the holder. The record is written to a
 * file of our own first and then hard-linked into place: the link either appears whole or fails (EEXIST), so
 * nobody ever reads a half-written lock.
 */
export function lockDataDir(dataDir: string, holder: string): DataDirLock {
  mkdirSync(dataDir, { recursive: true });
  const path = resolve(dataDir, LOCK_FILE);
  if (held.has(path)) throw new DataDirInUseError(dataDir, { pid: process.pid, holder: `${holder}, this process` });
  const record: LockRecord = {
    pid: process.pid,
    holder,
    started: startTime(process.pid),
    since: new Date().toISOString(),
  };
  const text = JSON.stringify(record) + '\n';
  const draft = join(dataDir, `${LOCK_FILE}.${process.pid}`);
  writeFileSync(draft, text, { mode: 0o644 });
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        place(draft, path, text);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 3) throw err;
      }
      const current = readRecord(path);
      if (current !== undefined && alive(current)) throw new DataDirInUseError(dataDir, current);
      try {
        unlinkSync(path); // stale: its process is gone
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
  } finally {
    unlinkSync(draft);
  }
  held.add(path);

  const release = (): void => {
    if (!held.delete(path)) return;
    process.removeListener('exit', release);
    // Only our own record: a lock taken over after we were presumed dead is not ours to remove.
    if (readRecord(path)?.pid === process.pid) {
      try {
        unlinkSync(path);
      } catch {
        // already gone
      }
    }
  };
  process.on('exit', release); // also on process.exit() without a clean close
  return { path, release };
}
