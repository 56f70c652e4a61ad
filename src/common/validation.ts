// Generic checks of user-supplied text; failures are BAD_USER_INPUT with reasons.
import { BadUserInputError } from './errors';

// eslint-disable-next-line no-control-regex
export const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

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
