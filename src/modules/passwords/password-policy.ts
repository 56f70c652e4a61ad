// The password policy of docs/contract.md: 8–128 characters with lower, upper, digit and symbol, not one of the
// 10,000 most common, and hard enough to guess by zxcvbn-ts's estimate (knowing the account's email and name).
import { BadUserInputError } from '../../common/errors';
import { isCommonPassword } from './common-passwords';
import { DEFAULT_MIN_SCORE, passwordStrength, type PasswordOwner } from './password-strength';

export const PASSWORD_MIN = 8;
export const PASSWORD_MAX = 128;

/** Whose password it is, and how strong it must be. */
export interface PasswordContext extends PasswordOwner {
  /** PASSWORD_MIN_SCORE, 0–4; DEFAULT_MIN_SCORE (3) when not given. */
  readonly minScore?: number;
}

/** Every unmet rule, in a fixed order; empty when the password is acceptable. */
export function passwordProblems(password: string, context: PasswordContext = {}): string[] {
  const length = [...password].length;
  const reasons: string[] = [];
  if (length < PASSWORD_MIN) reasons.push(`must be at least ${PASSWORD_MIN} characters`);
  if (length > PASSWORD_MAX) reasons.push(`must be at most ${PASSWORD_MAX} characters`);
  if (!/\p{Ll}/u.test(password)) reasons.push('must contain a lowercase letter');
  if (!/\p{Lu}/u.test(password)) reasons.push('must contain an uppercase letter');
  if (!/\p{Nd}/u.test(password)) reasons.push('must contain a digit');
  if (!/[^\p{L}\p{N}]/u.test(password)) reasons.push('must contain a character that is neither letter nor digit');
  if (isCommonPassword(password)) reasons.push('is one of the 10,000 most common passwords');
  // The estimate is asked only of a password that meets every rule above: those reasons say what to fix first.
  if (reasons.length === 0) {
    const minScore = context.minScore ?? DEFAULT_MIN_SCORE;
    const { score, feedback } = passwordStrength(password, context);
    if (score < minScore)
      reasons.push(`is too easy to guess (strength ${score} of 4, ${minScore} needed)`, ...feedback);
  }
  return reasons;
}

/** Throws BAD_USER_INPUT on `field` with every reason; pass the account's email and name whenever known. */
export function assertPasswordPolicy(password: string, field: string, context: PasswordContext = {}): void {
  const reasons = passwordProblems(password, context);
  if (reasons.length > 0) throw new BadUserInputError(field, reasons);
}

/** For sign-in: refuse absurd lengths before spending a hash on them. */
export function assertPasswordLength(password: string, field: string): void {
  if ([...password].length > PASSWORD_MAX) {
    throw new BadUserInputError(field, [`must be at most ${PASSWORD_MAX} characters`]);
  }
}
