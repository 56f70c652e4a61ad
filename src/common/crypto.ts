// Small crypto helpers: random tokens, hashes, keyed hashes, constant-time comparison, envelope encryption.
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  hkdfSync,
  randomBytes,
  randomInt,
  timingSafeEqual,
  type KeyObject,
  createSecretKey,
} from 'node:crypto';

export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

/** A uniformly random string of decimal digits from the CSPRNG. */
export function randomDigits(length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += String(randomInt(10));
  return out;
}

export function sha256(input: string): string {
  return createHash('sha256').update(input, 'utf8').digest('base64url');
}

export function hmac(key: KeyObject, input: string): string {
  return createHmac('sha256', key).update(input, 'utf8').digest('base64url');
}

/** Constant-time string equality (lengths are not secret here: both sides are fixed-size digests). */
export function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a, 'utf8');
  const bb = Buffer.from(b, 'utf8');
  if (ab.length !== bb.length) return false;
  return timingSafeEqual(ab, bb);
}

/** Derives an independent key for one purpose from the server secret (HKDF-SHA256). */
export function deriveKey(secret: string, purpose: string): KeyObject {
  const bytes = hkdfSync('sha256', Buffer.from(secret, 'utf8'), Buffer.alloc(0), `portcullis:${purpose}`, 32);
  return createSecretKey(Buffer.from(bytes));
}

/** AES-256-GCM; output is iv.tag.ciphertext in base64url. */
export function encrypt(key: KeyObject, plaintext: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return [iv, cipher.getAuthTag(), body].map((b) => b.toString('base64url')).join('.');
}

export function decrypt(key: KeyObject, sealed: string): string {
  const [iv, tag, body] = sealed.split('.').map((p) => Buffer.from(p, 'base64url'));
  if (!iv || !tag || !body) throw new Error('malformed sealed value');
  const decipher = createDecipheriv('aes-256-gcm', key, iv);
  decipher.setAuthTag(tag);
  return Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8');
}
