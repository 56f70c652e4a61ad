// Background delivery of the mail outbox: claims due messages with SKIP LOCKED (safe with several
// instances; database/claim-loop.ts), sends them, and retries failures with exponential backoff until the retries
// run out.
import type { MikroORM } from '@mikro-orm/postgresql';
import { errorFields, type Logger } from '../../common/logger';
import type { Sealer } from '../../common/sealing';
import { backoffMs, ClaimLoop, type ClaimLoopSettings } from '../../database/claim-loop';
import type { Mailer } from './mailer';

export interface OutboxSenderSettings extends ClaimLoopSettings {
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
  readonly maxAttempts: number;
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

const CLAIMED_COLUMNS = 'id, recipient, kind, payload, attempts';

interface ClaimedRow {
  id: string;
  recipient: string;
  kind: string;
  payload: string | null;
  attempts: number;
}

export class OutboxSender {
  private readonly loop: ClaimLoop<ClaimedRow>;

  constructor(
    private readonly orm: MikroORM,
    private readonly mailer: Mailer,
    private readonly sealer: Sealer,
    private readonly logger: Logger,
    private readonly settings: OutboxSenderSettings = DEFAULT_OUTBOX_SETTINGS,
    private readonly hooks: OutboxHooks = {},
  ) {
    this.loop = new ClaimLoop<ClaimedRow>(
      orm,
      { table: 'mail_outbox', pending: 'sent_at is null and failed_at is null', columns: CLAIMED_COLUMNS },
      settings,
      (row) => this.deliver(row),
      (err) => this.logger.error('mail outbox pass failed', errorFields(err)),
    );
  }

  start(): void {
    this.loop.start();
  }

  /** Runs a pass now (or right after the current one). */
  kick(): void {
    this.loop.kick();
  }

  /** Stops after the message being sent now. */
  stop(): Promise<void> {
    return this.loop.stop();
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
      const delay = backoffMs(attempts, this.settings.retryBaseMs, this.settings.retryMaxMs);
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
