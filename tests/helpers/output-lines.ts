// A child process's output as lines, kept and announced as they come, so a test can wait for the line that
// says something happened (a retry, a start, a shutdown step) instead of sleeping and hoping it did.
import type { ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';

export interface WaitOptions {
  /** How many matching lines to wait for, counting those already printed (default 1). */
  readonly count?: number;
  readonly timeoutMs?: number;
  /** For the error message: "the server to start". */
  readonly what?: string;
}

export class OutputLines {
  /** Every line printed so far, stdout and stderr interleaved as they arrived. */
  readonly lines: string[] = [];
  private readonly events = new EventEmitter();
  private exited: string | null = null;

  constructor(child: ChildProcess) {
    for (const stream of [child.stdout, child.stderr]) {
      let buffered = '';
      stream?.on('data', (d: Buffer) => {
        const parts = (buffered + d.toString()).split('\n');
        buffered = parts.pop()!;
        for (const line of parts) this.push(line);
      });
      stream?.on('end', () => buffered && this.push(buffered));
    }
    // 'close', not 'exit': by then every line it printed has been read.
    child.once('close', (code, signal) => {
      this.exited = `exited with ${code ?? signal}`;
      this.events.emit('exit');
    });
  }

  private push(line: string): void {
    this.lines.push(line);
    this.events.emit('line', line);
  }

  /** The lines printed so far that match. */
  matching(pattern: RegExp): string[] {
    return this.lines.filter((line) => pattern.test(line));
  }

  /** Resolves with the first `count` matching lines once printed; rejects if the process exits first, or on timeout. */
  waitFor(
    pattern: RegExp,
    { count = 1, timeoutMs = 30_000, what = `${count} line(s) matching ${pattern}` }: WaitOptions = {},
  ): Promise<string[]> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const found = this.matching(pattern);
        if (found.length >= count) return done(() => resolve(found.slice(0, count)));
        if (this.exited !== null)
          done(() => reject(new Error(`waiting for ${what}: the process ${this.exited}:\n${this.lines.join('\n')}`)));
      };
      const timer = setTimeout(
        () =>
          done(() =>
            reject(new Error(`waiting for ${what}: nothing after ${timeoutMs} ms:\n${this.lines.join('\n')}`)),
          ),
        timeoutMs,
      );
      const done = (settle: () => void): void => {
        clearTimeout(timer);
        this.events.off('line', check).off('exit', check);
        settle();
      };
      this.events.on('line', check).on('exit', check);
      check();
    });
  }
}
