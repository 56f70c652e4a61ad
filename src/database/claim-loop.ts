// The background loop of a durable queue table (the mail outbox, webhook deliveries): each pass claims due rows with
// FOR UPDATE SKIP LOCKED and a lease (locked_until), so several instances never take one row at once, handles them one
// by one, and hands back at once what it did not reach when stopped. Kicked after a commit, polling otherwise.
import type { MikroORM } from '@mikro-orm/postgresql';

export interface ClaimLoopSettings {
  readonly pollMs: number;
  readonly batchSize: number;
  /** How long a claimed row stays invisible to other instances (longer than a batch can take). */
  readonly claimMs: number;
}

/** A queue table: `id`, `next_attempt_at` and `locked_until` columns, and what makes a row still to do. */
export interface QueueTable {
  readonly table: string;
  /** SQL condition, without placeholders, of a row not yet done (`sent_at is null and failed_at is null`). */
  readonly pending: string;
  /** The columns a claim returns. */
  readonly columns: string;
}

/** Delay before try `attempts + 1`, after `attempts` failed ones: base, base·factor, base·factor² … at most `maxMs`. */
export function backoffMs(attempts: number, baseMs: number, maxMs: number, factor = 2): number {
  return Math.min(maxMs, baseMs * factor ** Math.max(0, attempts - 1));
}

export class ClaimLoop<Row extends { id: string }> {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = true;

  /**
   * `handle` does one row and records its outcome itself; `onError` hears of a pass that failed (the database).
   * `dueAt` is the time `next_attempt_at` is compared with (an injected clock); leases are real time, since they
   * guard against an instance that died holding rows.
   */
  constructor(
    private readonly orm: MikroORM,
    private readonly queue: QueueTable,
    private readonly settings: ClaimLoopSettings,
    private readonly handle: (row: Row) => Promise<void>,
    private readonly onError: (err: unknown) => void,
    private readonly dueAt: () => Date = () => new Date(),
  ) {}

  start(): void {
    this.stopped = false;
    this.kick();
  }

  /** Runs a pass now (or right after the current one). */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    this.running = this.pass().finally(() => {
      this.running = undefined;
      if (this.stopped) return;
      if (this.again) {
        this.again = false;
        this.kick();
      } else {
        this.timer = setTimeout(() => this.kick(), this.settings.pollMs);
        this.timer.unref();
      }
    });
  }

  /** Stops after the row being handled now. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private async pass(): Promise<void> {
    try {
      for (;;) {
        const rows = await this.claim();
        for (const [i, row] of rows.entries()) {
          if (this.stopped) return await this.release(rows.slice(i));
          await this.handle(row);
        }
        if (rows.length < this.settings.batchSize || this.stopped) return;
      }
    } catch (err) {
      this.onError(err);
    }
  }

  private claim(): Promise<Row[]> {
    const { table, pending, columns } = this.queue;
    const now = new Date();
    return this.orm.em.getConnection().execute<Row[]>(
      `update ${table} set locked_until = ?
        where id in (
          select id from ${table}
           where ${pending} and next_attempt_at <= ? and (locked_until is null or locked_until < ?)
           order by id limit ? for update skip locked)
        returning ${columns}`,
      [new Date(now.getTime() + this.settings.claimMs), this.dueAt(), now, this.settings.batchSize],
    );
  }

  /** Hands claimed but unhandled rows back at once, so another instance need not wait out the lease. */
  private async release(rows: readonly Row[]): Promise<void> {
    if (rows.length === 0) return;
    const { table, pending } = this.queue;
    await this.orm.em.getConnection().execute(
      `update ${table} set locked_until = null where ${pending} and id in (${rows.map(() => '?').join(', ')})`,
      rows.map((r) => r.id),
    );
  }
}
