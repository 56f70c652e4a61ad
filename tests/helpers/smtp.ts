// A real SMTP server (smtp-server) in the test process; messages are parsed with mailparser.
import { simpleParser, type ParsedMail } from 'mailparser';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';

// smtp-server holds every new connection's greeting for 100 ms, to catch spam bots that talk before it, and has no
// option to turn that off. Every email a test waited for paid it: run on its own, account-email-change took 13.8 s
// with it and 6.9 s without. The test servers greet at once; the rest of the SMTP conversation is smtp-server's own
// (its init also checks maxClients, which the test servers do not set).
// (A whole `npm test` is CPU-bound and gained nothing: other files used the wait.) test-smtp.test.ts checks it.
for (const method of ['_setListeners', 'connectionReady'] as const) {
  if (typeof SMTPConnection.prototype[method] !== 'function') {
    throw new Error(`smtp-server changed: SMTPConnection has no ${method} (tests/helpers/smtp.ts greets early)`);
  }
}
SMTPConnection.prototype.init = function init(this: SMTPConnection) {
  this._setListeners(() => this.connectionReady());
};

export interface ReceivedMail {
  readonly to: string;
  readonly subject: string;
  readonly text: string;
  readonly html: string;
}

/** When the server answers a message's DATA phase (accepting it): at once unless a test holds it. */
export type Acceptance = (mail: ReceivedMail, accept: () => void) => void;

export class TestSmtp {
  /** The messages accepted so far. */
  readonly messages: ReceivedMail[] = [];
  private server: SMTPServer | undefined;
  private waiters: Array<() => void> = [];
  port = 0;

  constructor(private readonly acceptance: Acceptance = (_mail, accept) => accept()) {}

  /** Starts listening (on the same port as before after a `stop`, to play a mail server coming back). */
  async start(): Promise<void> {
    const server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      disableReverseLookup: true, // a slow resolver would hold each greeting too
      onData: (stream, _session, callback) => {
        simpleParser(stream).then(
          (mail: ParsedMail) => {
            const to = Array.isArray(mail.to) ? mail.to[0] : mail.to;
            const received: ReceivedMail = {
              to: to?.value[0]?.address ?? '',
              subject: mail.subject ?? '',
              text: mail.text ?? '',
              html: typeof mail.html === 'string' ? mail.html : '',
            };
            this.acceptance(received, () => {
              this.messages.push(received);
              for (const wake of this.waiters.splice(0)) wake();
              callback();
            });
          },
          (err: Error) => callback(err),
        );
      },
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    server.on('error', () => {}); // a client killed mid-message resets its connection
    this.port = (server.server.address() as AddressInfo).port;
    this.server = server;
  }

  /** Closes the port: connections are refused until `start` is called again. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  get url(): string {
    return `smtp://127.0.0.1:${this.port}`;
  }

  /** Waits for the next message to `to` (after `since` messages) matching `predicate`. */
  async waitFor(
    to: string,
    predicate: (m: ReceivedMail) => boolean = () => true,
    timeoutMs = 10_000,
  ): Promise<ReceivedMail> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.messages.find((m) => m.to === to.toLowerCase() && predicate(m));
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no email to ${to} within ${timeoutMs} ms (got ${this.messages.length} in all)`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** The code in the newest message to `to` with `subject`, read the way a person would. */
  async codeFor(to: string, subject: RegExp, after = 0): Promise<string> {
    const seen = new Set(this.messages.slice(0, after));
    const mail = await this.waitFor(to, (m) => subject.test(m.subject) && !seen.has(m));
    return extractCode(mail.text);
  }

  clear(): void {
    this.messages.length = 0;
  }
}

/** The one run of 6 digits in a plain-text email; fails if there is none or more than one. */
export function extractCode(text: string): string {
  const runs = text.match(/\d{6,}/g) ?? [];
  if (runs.length !== 1 || runs[0].length !== 6) throw new Error(`expected exactly one 6-digit code in: ${text}`);
  return runs[0];
}
