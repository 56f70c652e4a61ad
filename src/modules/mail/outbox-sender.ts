// Background delivery of the mail outbox: claims due messages with SKIP LOCKED (safe with several
// instances), sends them, and retries failures with exponential backoff until the retries run out.
import type { MikroORM } from '@mikro-orm/postgresql';
import { errorFields, type Logger } from '../../common/logger';
import type { Sealer } from '../../common/sealing';
import type { Mailer } from './mailer';

export interface OutboxSenderSettings {
  readonly pollMs: number;
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
  readonly maxAttempts: number;
  /** How long a claimed message stays invisible to other senders. */
  readonly claimMs: number;
  readonly batchSize: number;
}

export const DEFAULT_OUTBOX_SETTINGS: OutboxSenderSettings = {
  pollMs: 1000,
  retryBaseMs: 1000,
  retryMaxMs: 300_000,
  maxAttempts: 15,
  claimMs: 60_000,
  batchSize: 10,
};

/** Told of each delivery attempt's outcome (metrics). */
export interface OutboxHooks {
  onSent?(kind: string): void;
  onFailure?(): void;
}

interface ClaimedRow {
  id: string;
  recipient: string;
  kind: string;
  payload: string | null;
  attempts: number;
}

export class OutboxSender {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = true;

  constructor(
    private readonly orm: MikroORM,
    private readonly mailer: Mailer,
    private readonly sealer: Sealer,
    private readonly logger: Logger,
    private readonly settings: OutboxSenderSettings = DEFAULT_OUTBOX_SETTINGS,
    private readonly hooks: OutboxHooks = {},
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

  /** Stops after the message being sent now. */
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
          await this.deliver(row);
        }
        if (rows.length < this.settings.batchSize || this.stopped) return;
      }
    } catch (err) {
      this.logger.error('mail outbox pass failed', errorFields(err));
    }
  }

  private async claim(): Promise<ClaimedRow[]> {
    const now = new Date();
    return this.orm.em.getConnection().execute<ClaimedRow[]>(
      `update mail_outbox set locked_until = ?
        where id in (
          select id from mail_outbox
           where sent_at is null and failed_at is null and next_attempt_at <= ?
             and (locked_until is null or locked_until < ?)
           order by id limit ? for update skip locked)
        returning id, recipient, kind, payload, attempts`,
      [new Date(now.getTime() + this.settings.claimMs), now, now, this.settings.batchSize],
    );
  }

  /** Hands claimed but unsent messages back at once, so another instance need not wait out the claim. */
  private async release(rows: readonly ClaimedRow[]): Promise<void> {
    await this.orm.em.getConnection().execute(
      `update mail_outbox set locked_until = null where sent_at is null and id in (${rows.map(() => '?').join(', ')})`,
      rows.map((r) => r.id),
    );
  }

  private async deliver(row: ClaimedRow): Promise<void> {
    const conn = this.orm.em.getConnection();
    try {
      if (row.payload === null) throw new Error('message has no payload');
      const content = JSON.parse(this.sealer.open(row.payload)) as { subject: string; text: string; html: string };
      await this.mailer.send({ to: row.recipient, ...content });
    } catch (err) {
      this.hooks.onFailure?.();
      const attempts = row.attempts + 1;
      const giveUp = attempts >= this.settings.maxAttempts;
      const delay = Math.min(this.settings.retryMaxMs, this.settings.retryBaseMs * 2 ** (attempts - 1));
      const reason = String((err as { message?: unknown } | null)?.message ?? err).slice(0, 500);
      this.logger.warn(giveUp ? 'email given up' : 'email send failed; will retry', {
        outboxId: row.id,
        kind: row.kind,
        attempts,
        reason,
      });
      await conn.execute(
        `update mail_outbox set attempts = ?, next_attempt_at = ?, locked_until = null, last_error = ?,
                failed_at = ?, payload = case when ? then null else payload end
          where id = ?`,
        [attempts, new Date(Date.now() + delay), reason, giveUp ? new Date() : null, giveUp, row.id],
      );
      return;
    }
    await conn.execute(
      `update mail_outbox set sent_at = ?, attempts = attempts + 1, payload = null, locked_until = null, last_error = null
        where id = ?`,
      [new Date(), row.id],
    );
    this.hooks.onSent?.(row.kind);
  }
}
