// The password policy of docs/contract.md: 8–128 characters with lower, upper, digit and symbol, and not common.
import { BadUserInputError } from '../../common/errors';
import { isCommonPassword } from './common-passwords';

export const PASSWORD_MIN = 8;
export const PASSWORD_MAX = 128;

/** Every unmet rule, in a fixed order; empty when the password is acceptable. */
export function passwordProblems(password: string): string[] {
  const length = [...password].length;
  const reasons: string[] = [];
  if (length < PASSWORD_MIN) reasons.push(`must be at least ${PASSWORD_MIN} characters`);
  if (length > PASSWORD_MAX) reasons.push(`must be at most ${PASSWORD_MAX} characters`);
  if (!/\p{Ll}/u.test(password)) reasons.push('must contain a lowercase letter');
  if (!/\p{Lu}/u.test(password)) reasons.push('must contain an uppercase letter');
  if (!/\p{Nd}/u.test(password)) reasons.push('must contain a digit');
  if (!/[^\p{L}\p{N}]/u.test(password)) reasons.push('must contain a character that is neither letter nor digit');
  if (isCommonPassword(password)) reasons.push('is one of the 10,000 most common passwords');
  return reasons;
}

export function assertPasswordPolicy(password: string, field: string): void {
  const reasons = passwordProblems(password);
  if (reasons.length > 0) throw new BadUserInputError(field, reasons);
}

/** For sign-in: refuse absurd lengths before spending a hash on them. */
export function assertPasswordLength(password: string, field: string): void {
  if ([...password].length > PASSWORD_MAX) {
    throw new BadUserInputError(field, [`must be at most ${PASSWORD_MAX} characters`]);
  }
}
