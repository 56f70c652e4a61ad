// Where emails go: an SMTP server (nodemailer), or, in development without SMTP_URL, the log.
import { createTransport, type Transporter } from 'nodemailer';
import type { Logger } from '../../common/logger';
import type { EmailContent } from './templates';

export interface OutgoingEmail extends EmailContent {
  readonly to: string;
}

export interface Mailer {
  send(email: OutgoingEmail): Promise<void>;
  close(): void;
}

export class SmtpMailer implements Mailer {
  private readonly transport: Transporter;

  constructor(
    smtpUrl: string,
    private readonly from: string,
  ) {
    this.transport = createTransport({
      url: smtpUrl,
      connectionTimeout: 10_000,
      greetingTimeout: 10_000,
      socketTimeout: 30_000,
    });
  }

  async send(email: OutgoingEmail): Promise<void> {
    await this.transport.sendMail({ from: this.from, ...email });
  }

  close(): void {
    this.transport.close();
  }
}

/** Development without SMTP_URL: the email, code included, goes to the log so a new user can sign in. */
export class LogMailer implements Mailer {
  constructor(private readonly logger: Logger) {}

  async send(email: OutgoingEmail): Promise<void> {
    this.logger.info(`email to ${email.to}: ${email.subject}\n${email.text}`, { mail: { to: email.to } });
  }

  close(): void {}
}
