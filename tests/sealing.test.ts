// Secrets at rest are sealed under data keys with ids (common/sealing.ts): DATA_ENCRYPTION_KEYS, rotation, the
// values written before key ids, and `npm run keys:reencrypt` moving every sealed value to the newest key.
import { createSecretKey, randomBytes } from 'node:crypto';
import { encrypt } from '../src/common/crypto';
import { Sealer } from '../src/common/sealing';
import { loadConfig } from '../src/config/config';
import { ConfigError } from '../src/config/config-helpers';
import { register, signUp, uniqueEmail } from './helpers/flows';
import { runDist } from './helpers/run-dist';
import { serverEnv } from './helpers/server-env';
import { queryDatabase } from './helpers/test-database';
import { startTestApp } from './helpers/test-server';

const key = () => randomBytes(32);
const spec = (id: string, bytes: Buffer) => `${id}:${bytes.toString('base64')}`;

describe('the sealer', () => {
  const k1 = key();
  const k2 = key();

  it('seals under the first key, with its id, and opens it again; the value holds nothing of the plaintext', () => {
    const sealer = Sealer.fromBytes([{ id: 'k1', key: k1 }]);
    const sealed = sealer.seal('the code is 123456');
    expect(sealed.startsWith('k1:')).toBe(true);
    expect(sealed).not.toContain('123456');
    expect(sealer.open(sealed)).toBe('the code is 123456');
    expect(sealer.seal('x')).not.toBe(sealer.seal('x')); // a fresh IV each time
  });

  it('after a rotation seals under the new key and still opens the old one; without the old key it cannot', () => {
    const old = Sealer.fromBytes([{ id: 'k1', key: k1 }]).seal('old secret');
    const rotated = Sealer.fromBytes([
      { id: 'k2', key: k2 },
      { id: 'k1', key: k1 },
    ]);
    expect(rotated.open(old)).toBe('old secret');
    expect(rotated.seal('new').startsWith('k2:')).toBe(true);
    expect(rotated.isCurrent(old)).toBe(false);
    expect(() => Sealer.fromBytes([{ id: 'k2', key: k2 }]).open(old)).toThrow(/k1/);
  });

  it('opens a value sealed before key ids with the legacy key only, and refuses a tampered value', () => {
    const legacyKey = createSecretKey(key());
    const legacy = encrypt(legacyKey, 'queued before the upgrade');
    expect(Sealer.fromBytes([{ id: 'k1', key: k1 }], legacyKey).open(legacy)).toBe('queued before the upgrade');
    expect(() => Sealer.fromBytes([{ id: 'k1', key: k1 }]).open(legacy)).toThrow();
    const sealed = Sealer.fromBytes([{ id: 'k1', key: k1 }]).seal('intact');
    const flipped = sealed.slice(0, -2) + (sealed.at(-2) === 'A' ? 'B' : 'A') + sealed.at(-1);
    expect(() => Sealer.fromBytes([{ id: 'k1', key: k1 }]).open(flipped)).toThrow();
  });
});

describe('DATA_ENCRYPTION_KEYS', () => {
  const base = { JWT_SECRET: 'sealing-test-secret-that-is-long-enough', DATA_DIR: '/nonexistent' };
  const refusal = (value: string): string => {
    try {
      loadConfig({ ...base, DATA_ENCRYPTION_KEYS: value });
    } catch (err) {
      if (err instanceof ConfigError) return err.variable;
      throw err;
    }
    return 'accepted';
  };

  it('reads id:base64key pairs, first one first, base64 or base64url', () => {
    const a = key();
    const b = key();
    const { dataKeys } = loadConfig({ ...base, DATA_ENCRYPTION_KEYS: `${spec('a', a)}, b:${b.toString('base64url')}` });
    expect(dataKeys.map((k) => k.id)).toEqual(['a', 'b']);
    expect(Buffer.compare(dataKeys[1]!.key, b)).toBe(0);
  });

  it.each(['nokey', 'a:c2hvcnQ=', `a b:${key().toString('base64')}`, `${spec('a', key())},${spec('a', key())}`])(
    'refuses %j',
    (value) => expect(refusal(value)).toBe('DATA_ENCRYPTION_KEYS'),
  );

  it('is required in production, and derived from JWT_SECRET in development', () => {
    const production = {
      ...base,
      NODE_ENV: 'production',
      DATABASE_URL: 'postgres://p@db.example.com/p',
      SMTP_URL: 'smtp://mail.example.com',
    };
    expect(() => loadConfig(production)).toThrow(/DATA_ENCRYPTION_KEYS/);
    const dev = loadConfig(base).dataKeys;
    expect(dev.map((k) => k.id)).toEqual(['dev']);
    expect(loadConfig(base).dataKeys[0]!.key.equals(dev[0]!.key)).toBe(true);
    expect(loadConfig({ ...base, JWT_SECRET: `${base.JWT_SECRET}-other` }).dataKeys[0]!.key.equals(dev[0]!.key)).toBe(
      false,
    );
  });
});

describe('npm run keys:reencrypt', () => {
  it('moves queued email bodies to the new key, which then opens them; the database never holds them in clear', async () => {
    const oldKey = key();
    const newKey = key();
    const app = await startTestApp({ env: { DATA_ENCRYPTION_KEYS: spec('old', oldKey) } });
    try {
      await app.smtp.stop(); // the mail stays queued
      const email = uniqueEmail('reseal');
      await register(app, email);
      const payloadOf = async () =>
        (
          await queryDatabase<{ payload: string }>(app.db.url, 'select payload from mail_outbox where recipient = $1', [
            email,
          ])
        )[0]!.payload;
      await app.server.stop(); // no sender reads or sends it while it moves
      const before = await payloadOf();
      expect(before.startsWith('old:')).toBe(true);

      const run = await runDist(
        'scripts/keys-reencrypt',
        [],
        serverEnv(app.db, { DATA_ENCRYPTION_KEYS: `${spec('new', newKey)},${spec('old', oldKey)}` }),
      );

      expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
      expect(run.stdout).toMatch(/^mail_outbox\.payload: [1-9]\d* re-sealed under new$/m);
      const after = await payloadOf();
      expect(after.startsWith('new:')).toBe(true);
      const body = JSON.parse(Sealer.fromBytes([{ id: 'new', key: newKey }]).open(after)) as {
        subject: string;
        text: string;
      };
      expect(body.subject).toBe('Portcullis: Confirm your email address');
      // The code itself, not "any six digits": random base64url holds six digits in a row about once in 60 seals.
      const code = body.text.match(/(?<!\d)\d{6}(?!\d)/)![0];
      expect(after).not.toContain(code);
      expect(after.toLowerCase()).not.toContain('confirm');

      const again = await runDist(
        'scripts/keys-reencrypt',
        [],
        serverEnv(app.db, { DATA_ENCRYPTION_KEYS: spec('new', newKey) }),
      );
      expect(again.stdout).toMatch(/^mail_outbox\.payload: 0 re-sealed under new$/m);
    } finally {
      await app.smtp.stop(); // stopped already where the mail had to stay queued; closing it twice is harmless
      await app.db.drop();
    }
  });

  it('moves TOTP secrets to the new key too, where they open to the secret the user enrolled', async () => {
    const oldKey = key();
    const newKey = key();
    const app = await startTestApp({ env: { DATA_ENCRYPTION_KEYS: spec('old', oldKey) } });
    try {
      const user = await signUp(app);
      const enrolled = await app.gql<{ enrollTotp: { factorId: string; secret: string } }>(
        'mutation { enrollTotp { factorId secret } }',
        {},
        { token: user.accessToken },
      );
      const { factorId, secret } = enrolled.data!.enrollTotp;
      await app.server.stop();
      const sealedOf = async () =>
        (
          await queryDatabase<{ secret: string }>(app.db.url, 'select secret from mfa_factors where id = $1', [
            factorId,
          ])
        )[0]!.secret;
      expect((await sealedOf()).startsWith('old:')).toBe(true);

      const run = await runDist(
        'scripts/keys-reencrypt',
        [],
        serverEnv(app.db, { DATA_ENCRYPTION_KEYS: `${spec('new', newKey)},${spec('old', oldKey)}` }),
      );

      expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
      expect(run.stdout).toMatch(/^mfa_factors\.secret: 1 re-sealed under new$/m);
      const after = await sealedOf();
      expect(after.startsWith('new:')).toBe(true);
      expect(after).not.toContain(secret);
      expect(Sealer.fromBytes([{ id: 'new', key: newKey }]).open(after)).toBe(secret);
    } finally {
      await app.smtp.stop(); // stopped already where the mail had to stay queued; closing it twice is harmless
      await app.db.drop();
    }
  });

  it('leaves a value no configured key opens as it is, and says so with exit code 1', async () => {
    const app = await startTestApp({ env: { DATA_ENCRYPTION_KEYS: spec('gone', key()) } });
    try {
      await app.smtp.stop();
      const email = uniqueEmail('reseal-lost');
      await register(app, email);
      await app.server.stop();
      const run = await runDist(
        'scripts/keys-reencrypt',
        [],
        serverEnv(app.db, { DATA_ENCRYPTION_KEYS: spec('new', key()) }),
      );
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/mail_outbox\.payload: [1-9]\d* sealed with a key that is not configured/);
    } finally {
      await app.smtp.stop(); // stopped already where the mail had to stay queued; closing it twice is harmless
      await app.db.drop();
    }
  });
});
