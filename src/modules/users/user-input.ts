// Validation and normalization of user-supplied account fields; failures are BAD_USER_INPUT with reasons.
import { BadUserInputError } from '../../common/errors';

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
// A practical address check: local@domain.tld, no spaces, no control characters.
const EMAIL = /^[^\s@]{1,64}@[^\s@.]+(\.[^\s@.]+)+$/;
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Trimmed and lower-cased: the form emails are stored and compared in. */
export function normalizeEmail(raw: string, field = 'email'): string {
  const email = raw.trim().toLowerCase();
  const reasons: string[] = [];
  if (email.length > 254) reasons.push('must be at most 254 characters');
  if (CONTROL.test(email)) reasons.push('must not contain control characters');
  if (!EMAIL.test(email)) reasons.push('must be an email address like name@example.com');
  if (reasons.length > 0) throw new BadUserInputError(field, reasons);
  return email;
}

export function normalizeFullName(raw: string | null | undefined): string | null {
  if (raw === null || raw === undefined) return null;
  const name = raw.trim();
  const reasons: string[] = [];
  if ([...name].length > 100) reasons.push('must be at most 100 characters');
  if (CONTROL.test(name)) reasons.push('must not contain control characters');
  if (reasons.length > 0) throw new BadUserInputError('fullName', reasons);
  return name === '' ? null : name;
}

/** Free text used in a search: no control characters (PostgreSQL text cannot even hold NUL). */
export function checkSearchText(raw: string, field: string, maxLength = 254): string {
  const reasons: string[] = [];
  if (raw.length > maxLength) reasons.push(`must be at most ${maxLength} characters`);
  if (CONTROL.test(raw)) reasons.push('must not contain control characters');
  if (reasons.length > 0) throw new BadUserInputError(field, reasons);
  return raw;
}

export function checkUuid(raw: string, field: string): string {
  if (!UUID.test(raw)) throw new BadUserInputError(field, ['must be an id returned by this API']);
  return raw.toLowerCase();
}
