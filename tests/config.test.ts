// Configuration: the contract's defaults, one clear error per bad value, production's strict checks, the
// development JWT secret kept under DATA_DIR, warnings for settings that half work, and a process that stops
// with one line on a bad value or names the address it really listens on.
import { existsSync, readdirSync } from 'node:fs';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config/config';
import { ConfigError } from '../src/config/config-helpers';
import { startMain, stopMain } from './helpers/main-process';
import { runDist } from './helpers/run-dist';
import { serverEnv, TEST_DATA_KEYS } from './helpers/server-env';
import { tempDirs } from './helpers/temp-dirs';
import { createTestDatabase, type TestDatabase } from './helpers/test-database';

const SECRET = 'config-test-secret-that-is-32-bytes-or-more';
/** What production requires; loadConfig does not connect, so the database need not exist. */
const PRODUCTION = {
  NODE_ENV: 'production',
  DATABASE_URL: 'postgres://portcullis@db.example.com:5432/portcullis',
  SMTP_URL: 'smtp://mail.example.com:587',
  JWT_SECRET: SECRET,
  DATA_ENCRYPTION_KEYS: TEST_DATA_KEYS,
};
const tempDir = tempDirs('portcullis-config-');

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
    expect(config.host).toBe('127.0.0.1'); // this machine only, outside production
    expect(config.warnings).toEqual([]);
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
    ['HOST', 'http://example.com'],
    ['HOST', '127.0.0.1:4000'],
    ['HOST', '999.1.1.1'],
    ['HOST', '[::1]'],
    ['HOST', 'two words'],
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
    it('starts with DATABASE_URL, JWT_SECRET and SMTP_URL set', () => {
      const config = loadConfig({ ...PRODUCTION, DATA_DIR: tempDir() });
      expect(config.isProduction).toBe(true);
      expect(config.corsOrigins).toEqual([]); // no origins unless configured
      expect(config.host).toBe('0.0.0.0'); // every interface: reachable from outside its container
    });

    it('refuses to start without DATABASE_URL: the embedded database is not for production', () => {
      const { DATABASE_URL: _unset, ...withoutDatabase } = PRODUCTION;
      for (const env of [withoutDatabase, { ...withoutDatabase, DATABASE_URL: '' }]) {
        const err = configError({ ...env, DATA_DIR: tempDir() });
        expect(err.variable).toBe('DATABASE_URL');
        expect(err.message).toBe(
          'Invalid configuration: DATABASE_URL is required when NODE_ENV=production (the embedded database is for development)',
        );
      }
    });

    it('refuses to start without JWT_SECRET, and generates none', () => {
      const dataDir = tempDir();
      const err = configError({ ...PRODUCTION, JWT_SECRET: '', DATA_DIR: dataDir });
      expect(err.variable).toBe('JWT_SECRET');
      expect(err.message).toContain('JWT_SECRET');
      const { JWT_SECRET: _unset, ...withoutSecret } = PRODUCTION;
      expect(configError({ ...withoutSecret, DATA_DIR: dataDir }).variable).toBe('JWT_SECRET');
      expect(readdirSync(dataDir)).toEqual([]);
    });

    it('refuses to start without SMTP_URL (an empty one counts as unset)', () => {
      const { SMTP_URL: _unset, ...withoutSmtp } = PRODUCTION;
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

describe('HOST', () => {
  it('defaults to 127.0.0.1 in development and test, and to 0.0.0.0 in production', () => {
    expect(loadConfig({ JWT_SECRET: SECRET, DATA_DIR: tempDir() }).host).toBe('127.0.0.1');
    expect(loadConfig({ JWT_SECRET: SECRET, DATA_DIR: tempDir(), NODE_ENV: 'test' }).host).toBe('127.0.0.1');
    expect(loadConfig({ ...PRODUCTION, DATA_DIR: tempDir() }).host).toBe('0.0.0.0');
  });

  it.each(['0.0.0.0', '::', '::1', '192.168.1.20', 'localhost', 'api.internal'])('takes %s', (value) => {
    expect(loadConfig({ JWT_SECRET: SECRET, DATA_DIR: tempDir(), HOST: value }).host).toBe(value);
    expect(loadConfig({ ...PRODUCTION, DATA_DIR: tempDir(), HOST: value }).host).toBe(value);
  });
});

describe('cookie mode without CORS_ORIGINS', () => {
  it('is a warning in development, naming CORS_ORIGINS, returned rather than logged', () => {
    const config = loadConfig({ JWT_SECRET: SECRET, DATA_DIR: tempDir(), REFRESH_TOKEN_COOKIE: 'true' });
    expect(config.refreshTokenCookie).toBe(true);
    expect(config.warnings).toEqual([
      expect.stringMatching(/^REFRESH_TOKEN_COOKIE=true without CORS_ORIGINS: browsers on other origins will fail/),
    ]);
    expect(config.warnings[0]).toContain('set CORS_ORIGINS');
    expect(config.warnings[0]).not.toContain('\n');
  });

  it('is no warning with CORS_ORIGINS set, or without cookie mode', () => {
    const base = { JWT_SECRET: SECRET, DATA_DIR: tempDir() };
    expect(
      loadConfig({ ...base, REFRESH_TOKEN_COOKIE: 'true', CORS_ORIGINS: 'http://localhost:5173' }).warnings,
    ).toEqual([]);
    expect(loadConfig({ ...base, REFRESH_TOKEN_COOKIE: 'false' }).warnings).toEqual([]);
  });

  it('is refused in production, naming CORS_ORIGINS', () => {
    const err = configError({ ...PRODUCTION, DATA_DIR: tempDir(), REFRESH_TOKEN_COOKIE: 'true' });
    expect(err.variable).toBe('CORS_ORIGINS');
    expect(err.message).toContain('REFRESH_TOKEN_COOKIE=true');
    const allowed = loadConfig({
      ...PRODUCTION,
      DATA_DIR: tempDir(),
      REFRESH_TOKEN_COOKIE: 'true',
      CORS_ORIGINS: 'https://app.example.com',
    });
    expect(allowed.warnings).toEqual([]);
  });
});

describe('the server process', () => {
  it.each<{ why: string; env: Record<string, string>; variable: string }>([
    { why: 'PORT is not a number', env: { PORT: 'abc', JWT_SECRET: SECRET }, variable: 'PORT' },
    { why: 'HOST is not an address', env: { HOST: 'http://0.0.0.0', JWT_SECRET: SECRET }, variable: 'HOST' },
    { why: 'production has no DATABASE_URL', env: { ...PRODUCTION, DATABASE_URL: '' }, variable: 'DATABASE_URL' },
    {
      why: 'production has cookie mode without CORS_ORIGINS',
      env: { ...PRODUCTION, REFRESH_TOKEN_COOKIE: 'true' },
      variable: 'CORS_ORIGINS',
    },
  ])(
    'exits with code 1 and one stderr line naming $variable when $why',
    async ({ env, variable }) => {
      // A server that started anyway is killed at the timeout, and the test fails.
      const { code, stdout, stderr } = await runDist(
        'src/main',
        [],
        { ...env, DATA_DIR: tempDir() },
        { timeoutMs: 30_000 },
      );
      expect({ code, stderr }).toEqual({
        code: 1,
        stderr: expect.stringMatching(new RegExp(`^Invalid configuration: ${variable}\\b[^\\n]*\\n$`)),
      });
      expect(stdout).not.toContain('listening');
    },
    60_000,
  );

  describe('started', () => {
    jest.setTimeout(60_000);
    let db: TestDatabase;
    beforeAll(async () => void (db = await createTestDatabase()));
    afterAll(async () => db?.drop());

    const env = (extra: Record<string, string> = {}): Record<string, string> =>
      serverEnv(db, { JWT_SECRET: SECRET, DATA_DIR: tempDir(), ...extra });
    const messages = (lines: string[]): Array<{ level: string; msg: string }> =>
      lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { level: string; msg: string });
    // An address of this machine other than loopback, to show what HOST keeps out (none: only loopback is checked).
    const outside = Object.values(networkInterfaces())
      .flat()
      .find((a) => a?.family === 'IPv4' && !a.internal)?.address;
    const answers = (host: string, port: string): Promise<boolean> =>
      fetch(`http://${host}:${port}/healthz`).then(
        (res) => res.ok,
        () => false,
      );

    it('listens on 127.0.0.1 only by default and says so, naming that address', async () => {
      const main = await startMain(env());
      try {
        const line = messages(main.lines).find((m) => m.msg.includes('listening'));
        const port = new URL(main.url).port;
        expect(line?.msg).toBe(`Portcullis listening on http://127.0.0.1:${port}/graphql`);
        expect(await answers('127.0.0.1', port)).toBe(true);
        if (outside) expect(await answers(outside, port)).toBe(false);
      } finally {
        expect(await stopMain(main)).toBe(0);
      }
    });

    it('with HOST=0.0.0.0, listens on every interface and says so', async () => {
      const main = await startMain(env({ HOST: '0.0.0.0' }));
      try {
        const line = messages(main.lines).find((m) => m.msg.includes('listening'));
        const port = new URL(main.url).port;
        expect(line?.msg).toBe(`Portcullis listening on http://0.0.0.0:${port}/graphql (all interfaces)`);
        expect(await answers('127.0.0.1', port)).toBe(true);
        if (outside) expect(await answers(outside, port)).toBe(true);
      } finally {
        expect(await stopMain(main)).toBe(0);
      }
    });

    it('refuses with one line when its port is taken', async () => {
      const taken = createNetServer();
      await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
      const { port } = taken.address() as AddressInfo;
      try {
        const { code, stderr } = await runDist('src/main', [], env({ PORT: String(port) }));
        expect({ code, stderr }).toEqual({
          code: 1,
          stderr: `127.0.0.1:${port} is already in use by another process; stop it or set another PORT\n`,
        });
      } finally {
        await new Promise((resolve) => taken.close(resolve));
      }
    });

    it('refuses with one line when HOST is not an address of this machine', async () => {
      const { code, stderr } = await runDist('src/main', [], env({ HOST: '203.0.113.7' })); // TEST-NET-3: nobody's
      expect({ code, stderr }).toEqual({ code: 1, stderr: 'HOST 203.0.113.7 is not an address of this machine\n' });
    });

    it('warns at start-up in development when cookie mode has no CORS_ORIGINS, and still starts', async () => {
      const main = await startMain(env({ REFRESH_TOKEN_COOKIE: 'true' }));
      try {
        const warnings = messages(main.lines).filter((m) => m.level === 'warn');
        expect(warnings.map((w) => w.msg)).toEqual([
          expect.stringMatching(
            /^REFRESH_TOKEN_COOKIE=true without CORS_ORIGINS: browsers on other origins will fail.*set CORS_ORIGINS/,
          ),
        ]);
      } finally {
        expect(await stopMain(main)).toBe(0);
      }
    });
  });
});

describe('REFRESH_TOKEN_COOKIE', () => {
  it('is off by default and read as a boolean', () => {
    const base = { JWT_SECRET: SECRET, DATA_DIR: tempDir() };
    expect(loadConfig(base).refreshTokenCookie).toBe(false);
    for (const on of ['true', 'TRUE', '1', 'yes'])
      expect(loadConfig({ ...base, REFRESH_TOKEN_COOKIE: on }).refreshTokenCookie).toBe(true);
    for (const off of ['false', '0', 'no', ''])
      expect(loadConfig({ ...base, REFRESH_TOKEN_COOKIE: off }).refreshTokenCookie).toBe(false);
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

describe('REDIS_COMMAND_TIMEOUT_MS', () => {
  it('defaults to 200 milliseconds and is read in milliseconds', () => {
    const base = { JWT_SECRET: SECRET, DATA_DIR: tempDir() };
    expect(loadConfig(base).redisCommandTimeoutMs).toBe(200);
    expect(loadConfig({ ...base, REDIS_COMMAND_TIMEOUT_MS: '750' }).redisCommandTimeoutMs).toBe(750);
  });

  it.each(['9', '60001', 'fast', '0.5'])('refuses REDIS_COMMAND_TIMEOUT_MS=%s, naming the variable', (value) => {
    const err = configError({ JWT_SECRET: SECRET, DATA_DIR: tempDir(), REDIS_COMMAND_TIMEOUT_MS: value });
    expect(err.variable).toBe('REDIS_COMMAND_TIMEOUT_MS');
    expect(err.message).toContain('REDIS_COMMAND_TIMEOUT_MS');
  });
});

describe('PLAYGROUND', () => {
  it('is on outside production unless turned off, and in production only with PLAYGROUND=true', () => {
    const base = { JWT_SECRET: SECRET, DATA_DIR: tempDir() };
    expect(loadConfig(base).playground).toBe(true);
    expect(loadConfig({ ...base, NODE_ENV: 'test' }).playground).toBe(true);
    expect(loadConfig({ ...base, PLAYGROUND: 'false' }).playground).toBe(false);
    expect(loadConfig({ ...PRODUCTION, DATA_DIR: tempDir() }).playground).toBe(false);
    expect(loadConfig({ ...PRODUCTION, DATA_DIR: tempDir(), PLAYGROUND: '' }).playground).toBe(false);
    expect(loadConfig({ ...PRODUCTION, DATA_DIR: tempDir(), PLAYGROUND: 'true' }).playground).toBe(true);
  });

  it('refuses a value that is not a boolean, naming the variable', () => {
    const err = configError({ JWT_SECRET: SECRET, DATA_DIR: tempDir(), PLAYGROUND: 'sometimes' });
    expect(err.variable).toBe('PLAYGROUND');
    expect(err.message).toContain('PLAYGROUND');
  });
});
