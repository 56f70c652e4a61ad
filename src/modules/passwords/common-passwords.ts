// The 10,000 most common passwords, from @zxcvbn-ts/language-common (ordered by frequency), compared
// case-insensitively.
import { dictionary } from '@zxcvbn-ts/language-common';

const COMMON = new Set(dictionary['passwords-common'].slice(0, 10_000).map((p) => p.toLowerCase()));

export function isCommonPassword(password: string): boolean {
  return COMMON.has(password.toLowerCase());
}
