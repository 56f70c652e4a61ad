// The background work of one instance: the mail outbox sender, the webhook sender, the housekeeping sweeps, and the
// database's change feed that keeps the session cache honest across instances.
import type { Config } from '../config/config';
import type { Clock } from '../common/clock';
import type { Keys } from '../common/keys';
import { errorFields, type Logger } from '../common/logger';
import { ChangeFeed } from '../database/change-feed';
import type { Database } from '../database/database';
import { DEFAULT_HOUSEKEEPING, Housekeeping } from '../database/housekeeping';
import { LogMailer, SmtpMailer, type Mailer } from '../modules/mail/mailer';
import { DEFAULT_OUTBOX_SETTINGS, OutboxSender, type OutboxSenderSettings } from '../modules/mail/outbox-sender';
import {
  DEFAULT_WEBHOOK_SETTINGS,
  WebhookSender,
  type WebhookSenderSettings,
} from '../modules/webhooks/webhook-sender';
import type { Metrics } from './metrics';
import type { Services } from './services';

/** How often each instance checks for a scheduled key rotation (and reads keys changed elsewhere). */
const KEY_MAINTENANCE_MS = 60_000;

export interface WorkerParts {
  readonly config: Config;
  readonly db: Database;
  readonly services: Services;
  readonly keys: Keys;
  readonly clock: Clock;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly outbox?: Partial<OutboxSenderSettings>;
  readonly webhooks?: Partial<WebhookSenderSettings>;
}

export interface Workers {
  readonly housekeeping: Housekeeping;
  start(): void;
  /** Stops taking new work; resolves when the email and webhook being sent and the sweep under way are done. */
  drain(): Promise<void>;
  /** After `drain` (or the shutdown deadline): closes the mail transport and the change feed. */
  close(): Promise<void>;
}

export function createWorkers(parts: WorkerParts): Workers {
  const { config, db, services, keys, clock, metrics, logger } = parts;
  const { orm } = db;
  const mailer: Mailer = config.smtpUrl ? new SmtpMailer(config.smtpUrl, config.mailFrom) : new LogMailer(logger);
  const sender = new OutboxSender(
    orm,
    mailer,
    keys.sealer,
    logger,
    { ...DEFAULT_OUTBOX_SETTINGS, ...parts.outbox },
    metrics.outboxHooks,
  );
  services.outbox.onCommitted(() => sender.kick());
  // Webhooks are off without WEBHOOK_URLS (config/webhooks.ts: then there is no secret either, and nothing is queued).
  const { secret } = config.webhooks;
  const webhookSender =
    config.webhooks.urls.length === 0 || secret === undefined
      ? null
      : new WebhookSender(
          orm,
          { ...config.webhooks, secret },
          services.audit,
          clock,
          logger,
          {
            ...DEFAULT_WEBHOOK_SETTINGS,
            maxAttempts: config.webhooks.maxAttempts,
            timeoutMs: config.webhooks.timeoutMs,
            ...parts.webhooks,
          },
          metrics.webhookHooks,
        );
  if (webhookSender) services.webhooks.onCommitted(() => webhookSender.kick());
  const housekeeping = new Housekeeping(orm, clock, logger, {
    ...DEFAULT_HOUSEKEEPING,
    retentionSeconds: config.retentionDays * 86_400,
  });
  // Sessions are cached only where every change reaches this instance: on a real PostgreSQL, through
  // NOTIFY. On PGlite (one process's database) the cache stays off.
  const { sessionCache } = services;
  const keyFailure = (err: unknown) => logger.error('signing keys could not be read or maintained', errorFields(err));
  // Every minute: scheduled rotation, and keys changed elsewhere when no change feed told this instance.
  let keyTimer: NodeJS.Timeout | undefined;
  const maintainKeys = () => {
    const run = services.keyRing.algorithm === 'ES256' ? services.keyRing.maintain(orm.em.fork()) : Promise.resolve();
    void run.catch(keyFailure);
  };
  const changeFeed = !db.notifications
    ? null
    : new ChangeFeed(
        db.url,
        async (channel, payload) => {
          await orm.em.getConnection().execute('select pg_notify(?, ?)', [channel, payload]);
        },
        {
          session: (id) => sessionCache.evictSession(id),
          user: (id) => sessionCache.evictUser(id),
          keys: () => void services.keyRing.reload(orm.em.fork()).catch((err: unknown) => keyFailure(err)),
          up: () => sessionCache.enable(),
          down: () => sessionCache.disable(),
        },
        logger,
      );

  return {
    housekeeping,
    start() {
      sender.start();
      webhookSender?.start();
      housekeeping.start();
      changeFeed?.start();
      keyTimer = setInterval(maintainKeys, KEY_MAINTENANCE_MS);
      keyTimer.unref();
    },
    async drain() {
      clearInterval(keyTimer);
      await Promise.all([sender.stop(), webhookSender?.stop(), housekeeping.stop()]);
    },
    async close() {
      mailer.close();
      await changeFeed?.stop();
    },
  };
}
