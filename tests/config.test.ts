// Configuration: the contract's defaults, one clear error per bad value, production's strict checks, the
// development JWT secret kept under DATA_DIR, and a process that stops with one line on a bad value.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config/config';
import { ConfigError } from '../src/config/config-helpers';

const SECRET = 'config-test-secret-that-is-32-bytes-or-more';
const tempDirs: string[] = [];

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-config-'));
  tempDirs.push(dir);
  return dir;
}

afterAll(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

/** The ConfigError loadConfig throws for `env`; fails the test if it accepts it or throws something else. */
function configError(env: Record<string, string>): ConfigError {
  let thrown: unknown;
  try {
    loadConfig(env);
  } catch (err) {
    thrown = err;
  }
  if (thrown === undefined) throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
  expect(thrown).toBeInstanceOf(ConfigError);
  return thrown as ConfigError;
}

describe('loadConfig', () => {
  it('applies the documented defaults when nothing is set', () => {
    const dataDir = tempDir();
    const config = loadConfig({ JWT_SECRET: SECRET, DATA_DIR: dataDir });
    expect(config).toMatchObject({
      nodeEnv: 'development',
      isProduction: false,
      port: 4000,
      accessTokenTtl: 1800,
      refreshTokenTtl: 604800,
      otpTtl: 600,
      otpMaxAttempts: 3,
      otpResendInterval: 60,
      bcryptCost: 12,
      otpMaxFailuresPerHour: 10,
      rateLimitPerMinute: 100,
      jwtIssuer: 'portcullis',
      jwtAudience: 'portcullis',
      mailFrom: 'Portcullis <no-reply@localhost>',
      jwtSecret: SECRET,
      dataDir,
    });
    expect(config.databaseUrl).toBeUndefined(); // embedded PostgreSQL
    expect(config.redisUrl).toBeUndefined(); // in-process memory
    expect(config.smtpUrl).toBeUndefined(); // development: emails go to the log
    expect(config.corsOrigins).toBe('localhost'); // any localhost origin in development
    expect(loadConfig({ JWT_SECRET: SECRET }).dataDir).toBe('./.data');
  });

  it('takes the values that are set', () => {
    const config = loadConfig({
      JWT_SECRET: SECRET,
      DATA_DIR: tempDir(),
      PORT: '8080',
      ACCESS_TOKEN_TTL: '60',
      OTP_MAX_ATTEMPTS: '5',
      DATABASE_URL: 'postgres://u:p@db:5432/app',
      REDIS_URL: 'redis://cache:6379',
      SMTP_URL: 'smtp://user:pass@mail:587',
      MAIL_FROM: 'Team <team@example.com>',
      CORS_ORIGINS: 'https://app.example.com, http://localhost:3000',
    });
    expect(config).toMatchObject({
      port: 8080,
      accessTokenTtl: 60,
      otpMaxAttempts: 5,
      databaseUrl: 'postgres://u:p@db:5432/app',
      redisUrl: 'redis://cache:6379',
      smtpUrl: 'smtp://user:pass@mail:587',
      mailFrom: 'Team <team@example.com>',
      corsOrigins: ['https://app.example.com', 'http://localhost:3000'],
    });
  });

  it.each([
    ['PORT', 'abc'],
    ['ACCESS_TOKEN_TTL', '-5'],
    ['BCRYPT_COST', '99'],
    ['DATABASE_URL', 'not-a-url'],
    ['DATABASE_URL', 'mysql://x'],
    ['REDIS_URL', 'http://x'],
    ['SMTP_URL', 'ftp://x'],
    ['JWT_SECRET', 'x'.repeat(31)],
    ['CORS_ORIGINS', 'not an origin'],
    ['NODE_ENV', 'staging'],
  ])('refuses %s=%s with a one-line ConfigError naming the variable', (name, value) => {
    const err = configError({ JWT_SECRET: SECRET, DATA_DIR: tempDir(), [name]: value });
    expect(err.variable).toBe(name);
    expect(err.message).toContain(name);
    expect(err.message).not.toContain('\n');
  });

  it('counts a 32-byte secret as long enough, in bytes rather than characters', () => {
    expect(loadConfig({ JWT_SECRET: 'x'.repeat(32), DATA_DIR: tempDir() }).jwtSecret).toBe('x'.repeat(32));
    // 16 two-byte characters are 32 bytes; 31 bytes of multi-byte text is too short
    expect(loadConfig({ JWT_SECRET: 'é'.repeat(16), DATA_DIR: tempDir() }).jwtSecret).toBe('é'.repeat(16));
    expect(configError({ JWT_SECRET: 'é'.repeat(15) + 'x', DATA_DIR: tempDir() }).variable).toBe('JWT_SECRET');
  });

  describe('in production', () => {
    const production = { NODE_ENV: 'production', SMTP_URL: 'smtp://mail.example.com:587', JWT_SECRET: SECRET };

    it('starts with JWT_SECRET and SMTP_URL set', () => {
      const config = loadConfig({ ...production, DATA_DIR: tempDir() });
      expect(config.isProduction).toBe(true);
      expect(config.corsOrigins).toEqual([]); // no origins unless configured
    });

    it('refuses to start without JWT_SECRET, and generates none', () => {
      const dataDir = tempDir();
      const err = configError({ ...production, JWT_SECRET: '', DATA_DIR: dataDir });
      expect(err.variable).toBe('JWT_SECRET');
      expect(err.message).toContain('JWT_SECRET');
      const { JWT_SECRET: _unset, ...withoutSecret } = production;
      expect(configError({ ...withoutSecret, DATA_DIR: dataDir }).variable).toBe('JWT_SECRET');
      expect(readdirSync(dataDir)).toEqual([]);
    });

    it('refuses to start without SMTP_URL (an empty one counts as unset)', () => {
      const { SMTP_URL: _unset, ...withoutSmtp } = production;
      for (const env of [withoutSmtp, { ...withoutSmtp, SMTP_URL: '' }]) {
        const err = configError({ ...env, DATA_DIR: tempDir() });
        expect(err.variable).toBe('SMTP_URL');
        expect(err.message).toContain('SMTP_URL');
      }
    });
  });

  it('in development without JWT_SECRET, generates one under DATA_DIR and keeps it for the next start', () => {
    const dataDir = join(tempDir(), 'nested', 'data');
    const first = loadConfig({ DATA_DIR: dataDir });
    expect(Buffer.byteLength(first.jwtSecret, 'utf8')).toBeGreaterThanOrEqual(32);
    expect(existsSync(dataDir)).toBe(true);
    expect(readdirSync(dataDir).length).toBeGreaterThan(0);

    const second = loadConfig({ DATA_DIR: dataDir, JWT_SECRET: '' });
    expect(second.jwtSecret).toBe(first.jwtSecret);

    const elsewhere = loadConfig({ DATA_DIR: tempDir() });
    expect(elsewhere.jwtSecret).not.toBe(first.jwtSecret); // generated, not a built-in constant
  });
});

describe('the server process', () => {
  it('exits with code 1 and one stderr line naming PORT when PORT is not a number', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const name of Object.keys(env)) {
      if (/^(TEST_|DATABASE_URL|REDIS_URL|SMTP_URL|MAIL_FROM|JWT_|CORS_ORIGINS|NODE_ENV|DATA_DIR)/.test(name)) {
        delete env[name];
      }
    }
    Object.assign(env, { PORT: 'abc', JWT_SECRET: SECRET, DATA_DIR: tempDir() });

    const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', 'src/main.ts'], {
      cwd: join(__dirname, '..'),
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 30_000, // a server that started anyway is killed, and the test fails on its exit code
      killSignal: 'SIGKILL',
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (exitCode) => resolve(exitCode));
    });

    expect({ code, stderr }).toEqual({ code: 1, stderr: expect.stringMatching(/^[^\n]*\bPORT\b[^\n]*\n$/) });
    expect(stdout).not.toContain('listening');
  }, 60_000);
});

describe('REFRESH_TOKEN_COOKIE', () => {
  it('is off by default and read as a boolean', () => {
    const base = { JWT_SECRET: SECRET, DATA_DIR: tempDir() };
    expect(loadConfig(base).refreshTokenCookie).toBe(false);
    for (const on of ['true', 'TRUE', '1', 'yes']) expect(loadConfig({ ...base, REFRESH_TOKEN_COOKIE: on }).refreshTokenCookie).toBe(true);
    for (const off of ['false', '0', 'no', '']) expect(loadConfig({ ...base, REFRESH_TOKEN_COOKIE: off }).refreshTokenCookie).toBe(false);
  });

  it('refuses a value that is not a boolean, naming the variable', () => {
    const err = configError({ JWT_SECRET: SECRET, DATA_DIR: tempDir(), REFRESH_TOKEN_COOKIE: 'cookie' });
    expect(err.variable).toBe('REFRESH_TOKEN_COOKIE');
    expect(err.message).toContain('REFRESH_TOKEN_COOKIE');
  });
});

describe('SHUTDOWN_TIMEOUT', () => {
  it('defaults to 10 seconds and is read in seconds', () => {
    const base = { JWT_SECRET: SECRET, DATA_DIR: tempDir() };
    expect(loadConfig(base).shutdownTimeoutMs).toBe(10_000);
    expect(loadConfig({ ...base, SHUTDOWN_TIMEOUT: '25' }).shutdownTimeoutMs).toBe(25_000);
  });

  it.each(['0', '601', 'soon', '1.5'])('refuses SHUTDOWN_TIMEOUT=%s, naming the variable', (value) => {
    const err = configError({ JWT_SECRET: SECRET, DATA_DIR: tempDir(), SHUTDOWN_TIMEOUT: value });
    expect(err.variable).toBe('SHUTDOWN_TIMEOUT');
    expect(err.message).toContain('SHUTDOWN_TIMEOUT');
  });
});

describe('PLAYGROUND', () => {
  const production = { NODE_ENV: 'production', SMTP_URL: 'smtp://mail.example.com:587', JWT_SECRET: SECRET };

  it('is on outside production unless turned off, and in production only with PLAYGROUND=true', () => {
    const base = { JWT_SECRET: SECRET, DATA_DIR: tempDir() };
    expect(loadConfig(base).playground).toBe(true);
    expect(loadConfig({ ...base, NODE_ENV: 'test' }).playground).toBe(true);
    expect(loadConfig({ ...base, PLAYGROUND: 'false' }).playground).toBe(false);
    expect(loadConfig({ ...production, DATA_DIR: tempDir() }).playground).toBe(false);
    expect(loadConfig({ ...production, DATA_DIR: tempDir(), PLAYGROUND: '' }).playground).toBe(false);
    expect(loadConfig({ ...production, DATA_DIR: tempDir(), PLAYGROUND: 'true' }).playground).toBe(true);
  });

  it('refuses a value that is not a boolean, naming the variable', () => {
    const err = configError({ JWT_SECRET: SECRET, DATA_DIR: tempDir(), PLAYGROUND: 'sometimes' });
    expect(err.variable).toBe('PLAYGROUND');
    expect(err.message).toContain('PLAYGROUND');
  });
});
