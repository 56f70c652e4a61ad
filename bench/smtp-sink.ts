// A throwaway SMTP server that accepts and discards every email: production mode requires SMTP_URL, and the
// scenarios send no mail, but if one ever did it must not fail or be delivered anywhere.
import { SMTPServer } from 'smtp-server';

export interface SmtpSink {
  readonly port: number;
  close(): Promise<void>;
}

export function startSmtpSink(): Promise<SmtpSink> {
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, _session, callback) {
      stream.on('end', () => callback());
      stream.resume();
    },
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.server.address() as { port: number };
      resolve({ port, close: () => new Promise<void>((done) => server.close(() => done())) });
    });
  });
}
