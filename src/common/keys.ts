// Every key the server uses, derived once from JWT_SECRET so one secret configures the whole service.
import type { KeyObject } from 'node:crypto';
import { createSecretKey } from 'node:crypto';
import { deriveKey } from './crypto';

export interface Keys {
  /** HS256 key for access tokens: JWT_SECRET's UTF-8 bytes, as docs/contract.md says. */
  readonly jwt: KeyObject;
  /** HMAC key for one-time code hashes. */
  readonly otp: KeyObject;
  /** HMAC key that derives a rotated refresh token from its predecessor. */
  readonly refresh: KeyObject;
  /** AES key for queued email bodies (they contain codes). */
  readonly outbox: KeyObject;
  /** AES key sealing the provider PKCE verifier of a social sign-in flow. */
  readonly oauth: KeyObject;
}

export function deriveKeys(secret: string): Keys {
  return Object.freeze({
    jwt: createSecretKey(Buffer.from(secret, 'utf8')),
    otp: deriveKey(secret, 'otp'),
    refresh: deriveKey(secret, 'refresh'),
    outbox: deriveKey(secret, 'outbox'),
    oauth: deriveKey(secret, 'oauth'),
  });
}
