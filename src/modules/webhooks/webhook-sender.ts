// Background delivery of webhooks: claims due deliveries (database/claim-loop.ts: SKIP LOCKED and a lease, so one
// delivery goes out from one instance at a time), signs each as Standard Webhooks and POSTs it. A 2xx answer delivers
// it; anything else is retried with exponential backoff, and after the last try the delivery is dead (the dead
// letter), audited as WEBHOOK_DELIVERY_FAILED in the same transaction.
import type { MikroORM } from '@mikro-orm/postgresql';
import { Webhook } from 'standardwebhooks';
import type { Clock } from '../../common/clock';
import { errorFields, type Logger } from '../../common/logger';
import { CONTROL } from '../../common/validation';
import type { WebhooksConfig } from '../../config/webhooks';
import { backoffMs, ClaimLoop, type ClaimLoopSettings } from '../../database/claim-loop';
import { AuditEventType } from '../audit/audit-event-type';
import type { AuditService } from '../audit/audit.service';

export interface WebhookSenderSettings extends ClaimLoopSettings {
  /** Delay after the first failed try; each later one is `retryFactor` times longer, at most `retryMaxMs`. */
  readonly retryBaseMs: number;
  readonly retryFactor: number;
  readonly retryMaxMs: number;
  /** Tries before a delivery is dead (WEBHOOK_MAX_ATTEMPTS). */
  readonly maxAttempts: number;
  /** How long one POST may take (WEBHOOK_TIMEOUT_MS). */
  readonly timeoutMs: number;
}

/** 15 s, 1 min, 4 min, 16 min, 64 min, ~4 h, then 12 h: eight tries span about 18 hours. */
export const DEFAULT_WEBHOOK_SETTINGS: WebhookSenderSettings = {
  pollMs: 1000,
  batchSize: 10,
  claimMs: 60_000,
  retryBaseMs: 15_000,
  retryFactor: 4,
  retryMaxMs: 12 * 3_600_000,
  maxAttempts: 8,
  timeoutMs: 10_000,
};

/** Told of each try's outcome (metrics). */
export interface WebhookHooks {
  onDelivered?(type: string): void;
  onFailure?(): void;
  onDead?(): void;
}

/** The most of a failed answer's body kept in `last_error`. */
const ERROR_BODY_CHARS = 200;

interface ClaimedRow {
  id: string;
  messageId: string;
  endpoint: string;
  type: string;
  payload: string;
  attempts: number;
}

interface Attempt {
  readonly ok: boolean;
  readonly status: number | null;
  readonly error: string | null;
  /** No retry can help (the endpoint left WEBHOOK_URLS): dead now. */
  readonly final?: boolean;
}

export class WebhookSender {
  private readonly loop: ClaimLoop<ClaimedRow>;
  private readonly signer: Webhook;

  constructor(
    private readonly orm: MikroORM,
    private readonly config: WebhooksConfig & { readonly secret: string },
    private readonly audit: AuditService,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly settings: WebhookSenderSettings = DEFAULT_WEBHOOK_SETTINGS,
    private readonly hooks: WebhookHooks = {},
  ) {
    this.signer = new Webhook(config.secret);
    this.loop = new ClaimLoop<ClaimedRow>(
      orm,
      {
        table: 'webhook_deliveries',
        pending: 'delivered_at is null and dead_at is null',
        columns: 'id, message_id as "messageId", endpoint, type, payload, attempts',
      },
      // A claim outlasts the slowest batch, so no other instance takes a delivery while it is being sent.
      { ...settings, claimMs: Math.max(settings.claimMs, settings.batchSize * settings.timeoutMs + 30_000) },
      (row) => this.deliver(row),
      (err) => this.logger.error('webhook pass failed', errorFields(err)),
      () => this.clock.now(),
    );
  }

  start(): void {
    this.loop.start();
  }

  /** Runs a pass now (or right after the current one). */
  kick(): void {
    this.loop.kick();
  }

  /** Stops after the delivery being sent now. */
  stop(): Promise<void> {
    return this.loop.stop();
  }

  private async deliver(row: ClaimedRow): Promise<void> {
    const attempt: Attempt = this.config.urls.includes(row.endpoint)
      ? await this.post(row)
      : { ok: false, status: null, error: 'the endpoint is no longer in WEBHOOK_URLS', final: true };
    const now = this.clock.now();
    if (attempt.ok) {
      await this.orm.em.getConnection().execute(
        `update webhook_deliveries set delivered_at = ?, attempts = attempts + 1, locked_until = null, last_status = ?,
                  last_error = null where id = ?`,
        [now, attempt.status, row.id],
      );
      this.hooks.onDelivered?.(row.type);
      return;
    }
    this.hooks.onFailure?.();
    const attempts = row.attempts + 1;
    const dead = attempt.final === true || attempts >= this.settings.maxAttempts;
    const delay = backoffMs(attempts, this.settings.retryBaseMs, this.settings.retryMaxMs, this.settings.retryFactor);
    this.logger.warn(dead ? 'webhook delivery dead' : 'webhook delivery failed; will retry', {
      deliveryId: row.id,
      type: row.type,
      endpoint: hostOf(row.endpoint),
      attempts,
      reason: attempt.error,
    });
    await this.orm.em.fork().transactional(async (tx) => {
      await tx.execute(
        `update webhook_deliveries set attempts = ?, next_attempt_at = ?, locked_until = null, last_status = ?,
                last_error = ?, dead_at = ? where id = ?`,
        [attempts, new Date(now.getTime() + delay), attempt.status, attempt.error, dead ? now : null, row.id],
      );
      if (dead) {
        // The status, not the answer's text: the receiver's words stay in last_error.
        const why = attempt.status === null ? attempt.error : `HTTP ${attempt.status}`;
        this.audit.record(tx, null, {
          type: AuditEventType.WEBHOOK_DELIVERY_FAILED,
          subjectUserId: userIdOf(row.payload),
          detail: `${row.type} ${row.messageId} to ${hostOf(row.endpoint)} after ${attempts} tries: ${why}`,
        });
      }
    });
    if (dead) this.hooks.onDead?.();
  }

  /** One signed POST; never throws. */
  private async post(row: ClaimedRow): Promise<Attempt> {
    // Real time, not the injected clock: the receiver checks it against its own clock (a 5-minute tolerance).
    const sentAt = new Date();
    try {
      const res = await fetch(row.endpoint, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'Portcullis-Webhooks/1',
          'webhook-id': row.messageId,
          'webhook-timestamp': String(Math.floor(sentAt.getTime() / 1000)),
          'webhook-signature': this.signer.sign(row.messageId, sentAt, row.payload),
        },
        body: row.payload,
        redirect: 'manual', // a redirect is not a delivery: the endpoint is what the operator configured
        signal: AbortSignal.timeout(this.settings.timeoutMs),
      });
      if (res.status >= 200 && res.status < 300) {
        await res.body?.cancel().catch(() => {}); // delivered: the answer's body is not read
        return { ok: true, status: res.status, error: null };
      }
      const text = await bodySnippet(res);
      return { ok: false, status: res.status, error: `HTTP ${res.status}${text === '' ? '' : `: ${text}`}` };
    } catch (err) {
      return { ok: false, status: null, error: this.describe(err) };
    }
  }

  private describe(err: unknown): string {
    if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) {
      return `no answer within ${this.settings.timeoutMs} ms`;
    }
    const cause = (err as { cause?: { code?: unknown; message?: unknown } } | null)?.cause;
    const message = err instanceof Error ? err.message : String(err);
    const detail =
      typeof cause?.code === 'string' ? cause.code : typeof cause?.message === 'string' ? cause.message : '';
    return (detail === '' ? message : `${message}: ${detail}`).slice(0, ERROR_BODY_CHARS);
  }
}

/** At most ERROR_BODY_CHARS characters of a failed answer, on one line. */
async function bodySnippet(res: Response): Promise<string> {
  const reader = res.body?.getReader() as ReadableStreamDefaultReader<Uint8Array> | undefined;
  if (reader === undefined) return '';
  const decoder = new TextDecoder();
  let text = '';
  try {
    while (text.length < ERROR_BODY_CHARS) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
  } catch {
    // what was read is enough
  } finally {
    await reader.cancel().catch(() => {});
  }
  return text.replace(new RegExp(CONTROL.source, 'g'), ' ').replace(/\s+/g, ' ').trim().slice(0, ERROR_BODY_CHARS);
}

/** The endpoint as logs and the audit trail name it: its host (the path or query may hold a receiver's key). */
function hostOf(endpoint: string): string {
  return new URL(endpoint).host;
}

function userIdOf(payload: string): string | null {
  try {
    const userId = (JSON.parse(payload) as { data?: { userId?: unknown } }).data?.userId;
    return typeof userId === 'string' ? userId : null;
  } catch {
    return null;
  }
}
