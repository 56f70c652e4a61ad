// TOTP as the contract fixes it (RFC 6238: SHA-1, 6 digits, 30 s, ±1 step), on otpauth. A step once accepted is
// never accepted again for its factor: the caller keeps the last accepted step and passes it back.
import { Secret, TOTP } from 'otpauth';

const PERIOD = 30;
const DIGITS = 6;

/** A new random secret (160 bits, as RFC 4226 recommends), base32. */
export function newTotpSecret(): string {
  return new Secret({ size: 20 }).base32;
}

function totp(secret: string, issuer: string, label: string): TOTP {
  return new TOTP({
    issuer,
    label,
    algorithm: 'SHA1',
    digits: DIGITS,
    period: PERIOD,
    secret: Secret.fromBase32(secret),
  });
}

/** The otpauth:// URI an authenticator app reads from the QR code. */
export function totpUri(secret: string, issuer: string, label: string): string {
  return totp(secret, issuer, label).toString();
}

/**
 * The time step `code` matches at `nowMs` (±1 step), or null when it matches none or only steps at or before
 * `lastStep` (a replay, or an older code after a newer one was used).
 */
export function acceptTotp(secret: string, code: string, nowMs: number, lastStep: number | null): number | null {
  if (!/^\d{6}$/.test(code)) return null;
  const delta = totp(secret, '', '').validate({ token: code, timestamp: nowMs, window: 1 });
  if (delta === null) return null;
  const step = Math.floor(nowMs / 1000 / PERIOD) + delta;
  return lastStep !== null && step <= lastStep ? null : step;
}
