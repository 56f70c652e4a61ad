// Every key the server uses, derived once from JWT_SECRET so one secret configures the whole service.
import type { KeyObject } from 'node:crypto';
import { createSecretKey } from 'node:crypto';
import { deriveKey } from './crypto';
import { Sealer } from './sealing';

export interface Keys {
  /** HS256 key for access tokens: JWT_SECRET's UTF-8 bytes, as docs/contract.md says. */
  readonly jwt: KeyObject;
  /** HMAC key for one-time code hashes. */
  readonly otp: KeyObject;
  /** HMAC key that derives a rotated refresh token from its predecessor. */
  readonly refresh: KeyObject;
  /** HMAC key for recovery code hashes. */
  readonly recovery: KeyObject;
  /** Seals reversible secrets at rest (email bodies, PKCE verifiers, TOTP secrets) under the data keys (DATA_ENCRYPTION_KEYS). */
  readonly sealer: Sealer;
}

/** `dataKeys`: the Config's DATA_ENCRYPTION_KEYS, the first sealing. */
export function deriveKeys(secret: string, dataKeys: ReadonlyArray<{ id: string; key: Buffer }>): Keys {
  return Object.freeze({
    jwt: createSecretKey(Buffer.from(secret, 'utf8')),
    otp: deriveKey(secret, 'otp'),
    refresh: deriveKey(secret, 'refresh'),
    recovery: deriveKey(secret, 'recovery'),
    // Email bodies queued before data keys had ids were sealed with this key: it still opens them.
    sealer: Sealer.fromBytes(dataKeys, deriveKey(secret, 'outbox')),
  });
}
