// Recovery codes as the contract fixes them: 10, `xxxxx-xxxxx` in base32 (50 random bits each), case-insensitive.
// Stored as HMACs under a server key, so a copy of the table alone cannot be searched offline.
import type { KeyObject } from 'node:crypto';
import { randomInt } from 'node:crypto';
import { hmac } from '../../common/crypto';

export const RECOVERY_CODE_COUNT = 10;
const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';

export function newRecoveryCodes(): string[] {
  return Array.from({ length: RECOVERY_CODE_COUNT }, () => {
    const chars = Array.from({ length: 10 }, () => ALPHABET[randomInt(32)]).join('');
    return `${chars.slice(0, 5)}-${chars.slice(5)}`;
  });
}

/** The code as typed, without case, spaces or dashes; null when it cannot be a recovery code. */
export function normalizeRecoveryCode(raw: string): string | null {
  const code = raw.toLowerCase().replace(/[\s-]/g, '');
  return /^[a-z2-7]{10}$/.test(code) ? code : null;
}

export function hashRecoveryCode(key: KeyObject, normalized: string): string {
  return hmac(key, normalized);
}
