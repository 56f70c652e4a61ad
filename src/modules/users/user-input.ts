// Validation and normalization of user-supplied account fields; failures are BAD_USER_INPUT with reasons.
import { BadUserInputError } from '../../common/errors';
import { CONTROL } from '../../common/validation';

export function normalizeFullName(raw: string | null | undefined): string | null {
  if (raw === null || raw === undefined) return null;
  const name = raw.trim();
  const reasons: string[] = [];
  if ([...name].length > 100) reasons.push('must be at most 100 characters');
  if (CONTROL.test(name)) reasons.push('must not contain control characters');
  if (reasons.length > 0) throw new BadUserInputError('fullName', reasons);
  return name === '' ? null : name;
}
