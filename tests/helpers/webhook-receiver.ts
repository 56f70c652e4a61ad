// A real webhook endpoint for the tests: a node:http server that records every POST it gets and checks each one's
// Standard Webhooks signature with the standardwebhooks package, as a receiver in production would. It answers what
// the test sets (204 by default); a request whose signature does not verify gets 401. It can go down and come back
// on the same port.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { eventually } from './eventually';

export interface WebhookPayload {
  type: string;
  timestamp: string;
  data: Record<string, unknown> & { userId: string };
}

export interface ReceivedWebhook {
  /** The webhook-id header. */
  readonly id: string;
  readonly headers: Record<string, string>;
  /** The raw body, exactly as sent (what the signature covers). */
  readonly body: string;
  readonly payload: WebhookPayload;
  readonly verified: boolean;
  /** What this receiver answered. */
  readonly status: number;
}

function headersOf(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) if (typeof value === 'string') out[name] = value;
  return out;
}

export class WebhookReceiver {
  /** Every request, in the order they came. */
  readonly requests: ReceivedWebhook[] = [];
  /** The status answered to a verified request. */
  status = 204;
  /** The body answered with a non-2xx status. */
  errorBody = '';
  /** Milliseconds to wait before answering (a slow receiver keeps its sender busy). */
  delayMs = 0;
  private server: Server | undefined;
  private port = 0;

  /** `path`: what follows the origin in its URL (a query string too). */
  constructor(
    private readonly secret: string,
    private readonly path = '/hooks',
  ) {}

  /** Listens on 127.0.0.1 (the same port again after `stop`). */
  async start(): Promise<void> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const headers = headersOf(req);
        let verified = true;
        try {
          new Webhook(this.secret).verify(body, headers);
        } catch {
          verified = false;
        }
        const status = verified ? this.status : 401;
        let payload: WebhookPayload;
        try {
          payload = JSON.parse(body) as WebhookPayload;
        } catch {
          payload = { type: '', timestamp: '', data: { userId: '' } };
        }
        this.requests.push({ id: headers['webhook-id'] ?? '', headers, body, payload, verified, status });
        setTimeout(() => {
          res.writeHead(status, { 'content-type': 'text/plain' });
          res.end(status >= 200 && status < 300 ? '' : this.errorBody);
        }, this.delayMs);
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  /** Goes down: the port refuses connections until `start` again. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}${this.path}`;
  }

  /** The requests this receiver accepted (a 2xx answer). */
  get delivered(): ReceivedWebhook[] {
    return this.requests.filter((r) => r.status >= 200 && r.status < 300);
  }

  /** Accepted deliveries about `userId`, in the order they came. */
  about(userId: string): ReceivedWebhook[] {
    return this.delivered.filter((r) => r.payload.data.userId === userId);
  }

  /** Waits for an accepted delivery of `type` about `userId` that `match` accepts. */
  waitFor(
    type: string,
    userId: string,
    match: (r: ReceivedWebhook) => boolean = () => true,
    timeoutMs = 10_000,
  ): Promise<ReceivedWebhook> {
    return eventually(
      () => this.about(userId).find((r) => r.payload.type === type && match(r)),
      (r): r is ReceivedWebhook => r !== undefined,
      { timeoutMs },
    );
  }
}
