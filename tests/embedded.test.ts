// `npm start` with nothing configured: the real entry point on embedded PostgreSQL under DATA_DIR, emails
// in the log, and data (and the generated JWT secret) surviving a restart.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually } from './helpers/eventually';
import { startMain, stopMain } from './helpers/main-process';
import { extractCode } from './helpers/smtp';

const PASSWORD = 'Embedded-Pass-1';

async function codeFromLog(lines: string[], email: string): Promise<string> {
  const message = await eventually(
    () =>
      lines
        .filter((line) => line.startsWith('{'))
        .map((line) => (JSON.parse(line) as { msg?: string }).msg)
        .find((msg) => msg?.startsWith(`email to ${email}:`)),
    Boolean,
    { timeoutMs: 10_000, intervalMs: 50 },
  );
  return extractCode(message!.split('\n').slice(1).join('\n'));
}

describe('the embedded default (no DATABASE_URL, no SMTP_URL)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'portcullis-embedded-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('serves sign-up from a fresh clone and keeps users and tokens across a restart', async () => {
    const email = 'embedded@example.com';
    const first = await startMain({ PORT: '0', DATA_DIR: dataDir });
    let accessToken: string;
    try {
      const reg = await first.gql('mutation($i: RegisterInput!) { register(input: $i) { expiresIn } }', {
        i: { email, password: PASSWORD },
      });
      expect(reg.errors).toBeUndefined();
      const code = await codeFromLog(first.lines, email);
      const verified = await first.gql(
        'mutation($e: String!, $c: String!) { verifyOtp(email: $e, code: $c, purpose: VERIFY_EMAIL) { accessToken } }',
        { e: email, c: code },
      );
      accessToken = verified.data!.verifyOtp.accessToken;
    } finally {
      expect(await stopMain(first)).toBe(0);
    }

    const second = await startMain({ PORT: '0', DATA_DIR: dataDir });
    try {
      const me = await second.gql('{ me { email emailVerified } }', {}, { token: accessToken });
      expect(me.data?.me).toEqual({ email, emailVerified: true });
      const login = await second.gql(
        'mutation($e: String!, $p: String!) { login(email: $e, password: $p) { user { email } } }',
        { e: email, p: PASSWORD },
      );
      expect(login.data?.login.user.email).toBe(email);
    } finally {
      expect(await stopMain(second)).toBe(0);
    }
  }, 120_000);
});
