// Listens on one dedicated PostgreSQL connection for the change notifications the database's triggers send
// on commit (migration change-notifications: `s:<session id>`, `u:<user id>`; signing-keys: `k:<kid>`), so that
// every instance drops what it cached about a session or user that changed, wherever the change was made, and
// reads the signing keys again when they change. A notification sent
// through the ORM's own pool must come back before the feed reports itself up: that proves the path works
// end to end (a transaction-pooling proxy, say, would swallow it). Reconnects with backoff when dropped.
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import type { Logger } from '../common/logger';

export const CHANGE_CHANNEL = 'portcullis_changes';

export interface ChangeHandlers {
  session(sessionId: string): void;
  user(userId: string): void;
  /** A signing key was made, began signing or retired (`k:<kid>`). */
  keys(): void;
  /** Listening, and proven to receive: caching may start. */
  up(): void;
  /** Not listening (any more): stop caching. */
  down(): void;
}

export interface ChangeFeedSettings {
  readonly probeTimeoutMs: number;
  readonly retryFirstMs: number;
  readonly retryMaxMs: number;
}

export const DEFAULT_CHANGE_FEED: ChangeFeedSettings = { probeTimeoutMs: 3000, retryFirstMs: 500, retryMaxMs: 10_000 };

class SilentChannelError extends Error {
  constructor() {
    super('PostgreSQL notifications sent by this instance do not come back to it (a pooler in transaction mode?)');
  }
}

export class ChangeFeed {
  private client: Client | null = null;
  private retryMs: number;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private pendingProbe: { id: string; resolve: () => void } | null = null;
  private wasUp = false;

  constructor(
    private readonly url: string,
    /** Sends a NOTIFY through the application's own connections (the ORM pool). */
    private readonly notify: (channel: string, payload: string) => Promise<void>,
    private readonly handlers: ChangeHandlers,
    private readonly logger: Logger,
    private readonly settings: ChangeFeedSettings = DEFAULT_CHANGE_FEED,
  ) {
    this.retryMs = settings.retryFirstMs;
  }

  /** Connects in the background; never throws. */
  start(): void {
    void this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    const client = this.client;
    this.client = null;
    this.handlers.down();
    await client?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const client = new Client({ connectionString: this.url, keepAlive: true });
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client, null));
    client.on('notification', (msg) => this.onNotification(msg.channel, msg.payload ?? ''));
    try {
      await client.connect();
      if (this.stopped) {
        await client.end();
        return;
      }
      this.client = client;
      await client.query(`listen ${CHANGE_CHANNEL}`);
      await this.probe();
    } catch (err) {
      if (err instanceof SilentChannelError) {
        // Not a passing outage but how this database is reached: stay off rather than retry forever.
        this.logger.warn(`${err.message}; the session cache stays off`);
        this.client = null;
        client.removeAllListeners('end');
        await client.end().catch(() => undefined);
        return;
      }
      this.lost(client, err);
      return;
    }
    this.retryMs = this.settings.retryFirstMs;
    this.handlers.up();
    if (this.wasUp) this.logger.info('change feed listening again; session cache on');
    this.wasUp = true;
  }

  /** A notification sent through the ORM must reach this connection. */
  private probe(): Promise<void> {
    const id = `p:${randomUUID()}`;
    return new Promise<void>((resolve, reject) => {
      const timeout = setTimeout(() => {
        this.pendingProbe = null;
        reject(new SilentChannelError());
      }, this.settings.probeTimeoutMs);
      timeout.unref();
      this.pendingProbe = {
        id,
        resolve: () => {
          clearTimeout(timeout);
          this.pendingProbe = null;
          resolve();
        },
      };
      this.notify(CHANGE_CHANNEL, id).catch((err: unknown) => {
        clearTimeout(timeout);
        this.pendingProbe = null;
        reject(err instanceof Error ? err : new Error(String(err)));
      });
    });
  }

  private onNotification(channel: string, payload: string): void {
    if (channel !== CHANGE_CHANNEL) return;
    const id = payload.slice(2);
    if (payload.startsWith('s:')) this.handlers.session(id);
    else if (payload.startsWith('u:')) this.handlers.user(id);
    else if (payload.startsWith('k:')) this.handlers.keys();
    else if (payload === this.pendingProbe?.id) this.pendingProbe.resolve();
  }

  private lost(client: Client, err: unknown): void {
    if (client !== this.client && this.client !== null) return; // an old connection's late event
    this.client = null;
    this.handlers.down();
    client.removeAllListeners('end');
    client.end().catch(() => undefined);
    if (this.stopped || this.timer) return;
    this.logger.warn(`change feed not listening; session cache off, retrying in ${this.retryMs / 1000} s`, {
      reason: err instanceof Error ? err.message : 'connection ended',
    });
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.connect();
    }, this.retryMs);
    this.timer.unref();
    this.retryMs = Math.min(this.retryMs * 2, this.settings.retryMaxMs);
  }
}
