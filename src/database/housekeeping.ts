// Periodic clean-up, safe on every instance at once: each statement deletes at most one batch of rows
// picked with FOR UPDATE SKIP LOCKED, so instances share the work instead of waiting on each other's locks.
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Clock } from '../common/clock';
import { errorFields, type Logger } from '../common/logger';
import { KNOWN_FOR_DAYS } from '../common/known-for';

export interface HousekeepingSettings {
  /** How long ended sessions, used or expired codes, sent emails and webhooks are kept, in seconds. */
  readonly retentionSeconds: number;
  readonly intervalMs: number;
  readonly batchSize: number;
}

export const DEFAULT_HOUSEKEEPING: HousekeepingSettings = {
  retentionSeconds: 7 * 86_400,
  intervalMs: 10 * 60_000,
  batchSize: 1000,
};

const HOUR_MS = 3_600_000;

/** Table → the condition (with one `?` for the cut-off) that makes a row removable. */
function targets(now: Date, retentionMs: number): Array<{ table: string; where: string; cutoff: Date; key?: string }> {
  const old = new Date(now.getTime() - retentionMs);
  return [
    { table: 'otp_codes', where: '(expires_at < ? or consumed_at is not null) and created_at < ?', cutoff: old },
    // The wrong-code budgets look back one hour and the strangers' pool 24 h (otp.service.ts); older rows are never read.
    { table: 'otp_failures', where: 'failed_at < ?', cutoff: new Date(now.getTime() - 24 * HOUR_MS) },
    { table: 'sessions', where: '(expires_at < ? or revoked_at < ?)', cutoff: old },
    { table: 'mail_outbox', where: '(sent_at < ? or failed_at < ?)', cutoff: old },
    // A flow is dead once its state (10 min) and its code (60 s after the callback) have expired.
    { table: 'oauth_flows', where: 'expires_at < ?', cutoff: new Date(now.getTime() - HOUR_MS) },
    // Remembered only while the ID token could still be replayed.
    { table: 'used_id_tokens', where: 'expires_at < ?', cutoff: now, key: 'hash' },
    { table: 'mfa_tickets', where: 'expires_at < ?', cutoff: new Date(now.getTime() - HOUR_MS) },
    { table: 'webauthn_challenges', where: 'expires_at < ?', cutoff: new Date(now.getTime() - HOUR_MS) },
    // A retired signing key is published until its last token expires (at most a day); then it goes.
    {
      table: 'signing_keys',
      where: 'retired_at < ?',
      cutoff: new Date(now.getTime() - Math.max(retentionMs, 48 * HOUR_MS)),
      key: 'kid',
    },
    { table: 'api_keys', where: '(revoked_at < ? or expires_at < ?)', cutoff: old },
    // A network or device unseen for KNOWN_FOR_DAYS is a stranger again: the row has nothing left to say.
    {
      table: 'known_networks',
      where: 'last_seen_at < ?',
      cutoff: new Date(now.getTime() - KNOWN_FOR_DAYS * 24 * HOUR_MS),
      key: 'ctid',
    },
    {
      table: 'known_devices',
      where: 'last_seen_at < ?',
      cutoff: new Date(now.getTime() - KNOWN_FOR_DAYS * 24 * HOUR_MS),
      key: 'ctid',
    },
    // Delivered webhooks go after the retention; a dead one stays as long, for an admin to redeliver (docs/webhooks.md).
    { table: 'webhook_deliveries', where: '(delivered_at < ? or dead_at < ?)', cutoff: old },
  ];
}

export class Housekeeping {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly orm: MikroORM,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly settings: HousekeepingSettings = DEFAULT_HOUSEKEEPING,
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      this.running ??= this.runOnce()
        .then(
          () => undefined,
          (err: unknown) => this.logger.error('housekeeping failed', errorFields(err)),
        )
        .finally(() => (this.running = undefined));
    }, this.settings.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** One pass over every table, batch by batch; returns how many rows each lost. */
  async runOnce(): Promise<Record<string, number>> {
    const conn = this.orm.em.getConnection();
    const removed: Record<string, number> = {};
    for (const { table, where, cutoff, key = 'id' } of targets(
      this.clock.now(),
      this.settings.retentionSeconds * 1000,
    )) {
      const params = Array.from({ length: where.split('?').length - 1 }, () => cutoff);
      removed[table] = 0;
      for (;;) {
        const rows = await conn.execute<unknown[]>(
          `delete from ${table} where ${key} in (select ${key} from ${table} where ${where} limit ? for update skip locked) returning ${key}`,
          [...params, this.settings.batchSize],
        );
        removed[table] += rows.length;
        if (rows.length < this.settings.batchSize) break;
      }
    }
    return removed;
  }
}
