// The mail outbox through HTTP with a real SMTP server: queued with the code, sealed at rest, retried
// while the mail server is down, delivered exactly once, and logged in development without SMTP_URL.
import { randomInt } from 'node:crypto';
import type { Logger } from '../src/common/logger';
import { eventually } from './helpers/eventually';
import { register, requestOtp, verifyOtp } from './helpers/flows';
import { extractCode } from './helpers/smtp';
import { errorCode, startTestApp, type TestApp } from './helpers/test-server';

interface OutboxRow {
  id: string;
  recipient: string;
  kind: string;
  payload: string | null;
  attempts: number;
  last_error: string | null;
  sent_at: Date | null;
}

/** An address with no digits at all, so the only run of digits in an email or log line is the code. */
function letterEmail(prefix: string): string {
  const letters = Array.from({ length: 12 }, () => String.fromCharCode(97 + randomInt(26))).join('');
  return `${prefix}.${letters}@example.com`;
}

/** Polls `probe` (every 25 ms, for 10 s at most) until it returns something other than undefined. */
function until<T>(probe: () => Promise<T | undefined>): Promise<T> {
  return eventually(probe, (value): value is T => value !== undefined, { timeoutMs: 10_000, intervalMs: 25 });
}

/**
 * Queues one more email and waits for it to arrive. The sender claims rows in id order, one pass at a time, so
 * once this later row is delivered every pass that could have sent an earlier row again is over.
 */
async function laterPassDone(app: TestApp): Promise<void> {
  const marker = letterEmail('marker');
  await register(app, marker);
  await app.smtp.waitFor(marker);
}

async function outboxRows(app: TestApp, recipient: string): Promise<OutboxRow[]> {
  return app.sql<OutboxRow>(
    'select id, recipient, kind, payload, attempts, last_error, sent_at from mail_outbox where recipient = ? order by id',
    [recipient],
  );
}

const SUBJECT_OF_KIND: Record<string, RegExp> = {
  'verify-email': /confirm/i,
  'login-code': /sign-in code/i,
};

describe('with an SMTP server', () => {
  let app: TestApp;
  let smtpDown = false;
  const smtpStop = async () => {
    await app.smtp.stop();
    smtpDown = true;
  };
  const smtpStart = async () => {
    await app.smtp.start();
    smtpDown = false;
  };
  beforeAll(async () => {
    app = await startTestApp({ realClock: true });
  });
  afterAll(async () => {
    await app.stop();
  });
  afterEach(async () => {
    if (smtpDown) await smtpStart(); // a failed test must not leave the mail server down for the next
  });

  it('answers register while the mail server refuses connections, retries, and delivers once it is back', async () => {
    const email = letterEmail('down');
    await smtpStop();

    const res = await app.gql('mutation($input: RegisterInput!) { register(input: $input) { expiresIn retryAfter } }', {
      input: { email, password: 'Correct-Horse-9' },
    });
    expect(res.errors).toBeUndefined();
    expect(res.data?.register).toEqual({ expiresIn: 600, retryAfter: 60 });

    // Waits for a failed delivery attempt recorded in the outbox.
    const failed = await until(async () => {
      const rows = await outboxRows(app, email);
      return rows.length === 1 && rows[0]!.attempts >= 1 && rows[0]!.last_error !== null ? rows[0] : undefined;
    });
    expect(failed.sent_at).toBeNull();
    expect(failed.payload).not.toBeNull(); // not given up: the body is kept for the next try
    expect(app.smtp.messages.filter((m) => m.to === email)).toHaveLength(0);

    await smtpStart();
    const code = await app.smtp.codeFor(email, /confirm/i);
    const signedIn = await verifyOtp(app, email, code);
    expect(signedIn.errors).toBeUndefined();
    expect(signedIn.data?.verifyOtp.user.email).toBe(email);

    // Waits for the outbox row marked sent.
    const [sent] = await until(async () => {
      const rows = await outboxRows(app, email);
      return rows[0]?.sent_at ? rows : undefined;
    });
    expect(sent!.last_error).toBeNull();
  });

  it('delivers each queued email exactly once and wipes its body after sending', async () => {
    const emails = Array.from({ length: 4 }, (_, i) => letterEmail(`once${i}`));
    await Promise.all(emails.map((email) => register(app, email)));
    const asked = await Promise.all(emails.map((email) => requestOtp(app, email, 'LOGIN')));
    for (const res of asked) expect(res.errors).toBeUndefined();

    // Waits for every outbox row sent.
    const rows = await until(async () => {
      const all = (await Promise.all(emails.map((email) => outboxRows(app, email)))).flat();
      return all.length === 2 * emails.length && all.every((r) => r.sent_at !== null) ? all : undefined;
    });
    await laterPassDone(app); // a second delivery of any row would have arrived before this

    for (const email of emails) {
      const mine = rows.filter((r) => r.recipient === email);
      const received = app.smtp.messages.filter((m) => m.to === email);
      expect(received).toHaveLength(mine.length);
      for (const row of mine) {
        expect(received.filter((m) => SUBJECT_OF_KIND[row.kind]!.test(m.subject))).toHaveLength(1);
      }
    }
    for (const row of rows) expect(row.payload).toBeNull();
  });

  it('stores queued bodies sealed: neither the code nor the subject is readable in the database', async () => {
    const email = letterEmail('sealed');
    await smtpStop();
    await register(app, email);
    const [queued] = await outboxRows(app, email);
    expect(queued).toBeDefined();
    const payload = queued!.payload;
    expect(typeof payload).toBe('string');
    expect(payload!.length).toBeGreaterThan(0);

    await smtpStart();
    const code = await app.smtp.codeFor(email, /confirm/i);
    const mail = app.smtp.messages.find((m) => m.to === email)!;
    expect(mail.subject).toMatch(/confirm/i);

    expect(payload).not.toContain(code);
    expect(payload!.toLowerCase()).not.toContain('confirm');
    expect(payload).not.toContain(mail.subject);
    expect(() => JSON.parse(payload!)).toThrow();
  });

  it('queues the email in the same transaction as the code: a refused register adds no outbox row', async () => {
    const email = letterEmail('limited');
    await register(app, email);
    expect(await outboxRows(app, email)).toHaveLength(1); // committed with the code, before any delivery

    const again = await app.gql(
      'mutation($input: RegisterInput!) { register(input: $input) { expiresIn retryAfter } }',
      { input: { email, password: 'Other-Horse-10' } },
    );
    expect(errorCode(again)).toBe('RATE_LIMITED');
    expect(again.errors![0]!.extensions!.retryAfter).toBeGreaterThanOrEqual(1);

    const resend = await requestOtp(app, email, 'VERIFY_EMAIL');
    expect(errorCode(resend)).toBe('RATE_LIMITED');

    expect(await outboxRows(app, email)).toHaveLength(1);
    const code = await app.smtp.codeFor(email, /confirm/i);
    await laterPassDone(app);
    expect(app.smtp.messages.filter((m) => m.to === email)).toHaveLength(1);
    expect((await verifyOtp(app, email, code)).errors).toBeUndefined();
  });
});

describe('in development without SMTP_URL', () => {
  it('writes each email, code included, to the log, and that code signs the user in', async () => {
    const lines: Array<{ msg: string; fields?: Record<string, unknown> }> = [];
    const capture = (msg: string, fields?: Record<string, unknown>) => void lines.push({ msg, fields });
    const logger: Logger = { info: capture, warn: capture, error: capture };
    const app = await startTestApp({ env: { SMTP_URL: '' }, logger });
    try {
      const email = letterEmail('logged');
      await register(app, email);

      // Waits for a log line with the recipient and a 6-digit code.
      const code = await until(async () => {
        for (const { msg, fields } of lines) {
          const text = `${msg} ${JSON.stringify(fields ?? {})}`;
          if (!text.includes(email)) continue;
          const rest = text.split(email).join(' ');
          if (/(^|\D)\d{6}(\D|$)/.test(rest)) return extractCode(rest);
        }
        return undefined;
      });

      const res = await verifyOtp(app, email, code);
      expect(res.errors).toBeUndefined();
      expect(res.data?.verifyOtp.user.email).toBe(email);
      expect(app.smtp.messages).toHaveLength(0); // logged, not sent to the SMTP server the helper runs
    } finally {
      await app.stop();
    }
  });
});
