// For tests of the notices: addresses without digits, and the mail an address got once the outbox has sent all
// it holds for it (nothing still on its way), read from the real SMTP server.
import { randomInt } from 'node:crypto';
import type { WithSql } from './account';
import { eventually } from './eventually';
import type { ReceivedMail, TestSmtp } from './smtp';

/** A server whose database tests read, and the SMTP server its mail goes to (a TestApp). */
export type WithOutbox = WithSql & { readonly smtp: TestSmtp };

/** An address with no digits, so that any run of digits in a notice is something the notice put there. */
export function letterEmail(prefix: string): string {
  const letters = Array.from({ length: 12 }, () => String.fromCharCode(97 + randomInt(26))).join('');
  return `${prefix}.${letters}@example.com`;
}

/** Every email to `email`, once the outbox holds none for it that is still to be sent. */
export async function mailWhenSent(app: WithOutbox, email: string): Promise<ReceivedMail[]> {
  await eventually(
    async () =>
      (
        await app.sql<{ n: number }>(
          'select count(*)::int as n from mail_outbox where recipient = ? and sent_at is null and failed_at is null',
          [email],
        )
      )[0]!.n,
    (n) => n === 0,
  );
  return app.smtp.messages.filter((m) => m.to === email);
}
