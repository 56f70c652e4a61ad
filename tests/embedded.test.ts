// `npm start` with nothing configured: the real entry point on embedded PostgreSQL under DATA_DIR, emails
// in the log, and data (and the generated JWT secret) surviving a restart.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { extractCode } from './helpers/smtp';

const ROOT = join(__dirname, '..');
const PASSWORD = 'Embedded-Pass-1';

interface Running {
  child: ChildProcess;
  url: string;
  lines: string[];
}

function startMain(dataDir: string): Promise<Running> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', PORT: '0', DATA_DIR: dataDir };
  const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', 'src/main.ts'], { cwd: ROOT, env });
  const lines: string[] = [];
  let buffered = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${lines.join('\n')}`)), 60_000);
    child.stderr!.on('data', (d: Buffer) => lines.push(d.toString()));
    child.stdout!.on('data', (d: Buffer) => {
      buffered += d.toString();
      const parts = buffered.split('\n');
      buffered = parts.pop()!;
      for (const line of parts) {
        lines.push(line);
        const m = /listening on (http:\/\/localhost:\d+\/graphql)/.exec(line);
        if (m) {
          clearTimeout(timer);
          resolve({ child, url: m[1]!, lines });
        }
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${lines.join('\n')}`));
    });
  });
}

function stopMain(run: Running): Promise<number | null> {
  return new Promise((resolve) => {
    run.child.removeAllListeners('exit');
    run.child.once('exit', (code) => resolve(code));
    run.child.kill('SIGTERM');
  });
}

async function gql(url: string, query: string, variables: Record<string, unknown> = {}, token?: string) {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(url, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
  return (await res.json()) as { data?: any; errors?: Array<{ extensions?: { code?: string } }> };
}

async function codeFromLog(lines: string[], email: string): Promise<string> {
  for (let i = 0; i < 200; i++) {
    for (const line of lines) {
      if (!line.startsWith('{')) continue;
      const entry = JSON.parse(line) as { msg?: string };
      if (entry.msg?.startsWith(`email to ${email}:`)) return extractCode(entry.msg.split('\n').slice(1).join('\n'));
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no email to ${email} in the log`);
}

describe('the embedded default (no DATABASE_URL, no SMTP_URL)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'portcullis-embedded-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('serves sign-up from a fresh clone and keeps users and tokens across a restart', async () => {
    const email = 'embedded@example.com';
    const first = await startMain(dataDir);
    let accessToken: string;
    try {
      const reg = await gql(first.url, 'mutation($i: RegisterInput!) { register(input: $i) { expiresIn } }', {
        i: { email, password: PASSWORD },
      });
      expect(reg.errors).toBeUndefined();
      const code = await codeFromLog(first.lines, email);
      const verified = await gql(
        first.url,
        'mutation($e: String!, $c: String!) { verifyOtp(email: $e, code: $c, purpose: VERIFY_EMAIL) { accessToken } }',
        { e: email, c: code },
      );
      accessToken = verified.data.verifyOtp.accessToken;
    } finally {
      expect(await stopMain(first)).toBe(0);
    }

    const second = await startMain(dataDir);
    try {
      const me = await gql(second.url, '{ me { email emailVerified } }', {}, accessToken);
      expect(me.data?.me).toEqual({ email, emailVerified: true });
      const login = await gql(
        second.url,
        'mutation($e: String!, $p: String!) { login(email: $e, password: $p) { user { email } } }',
        { e: email, p: PASSWORD },
      );
      expect(login.data?.login.user.email).toBe(email);
    } finally {
      expect(await stopMain(second)).toBe(0);
    }
  }, 120_000);
});
