// The 10,000 most common passwords, from @zxcvbn-ts/language-common (ordered by frequency), compared
// case-insensitively. The set is made by the first check (dictionaries.ts says why).
import { languageCommon } from './dictionaries';

let common: Set<string> | undefined;

export function isCommonPassword(password: string): boolean {
  common ??= new Set(
    languageCommon()
      .dictionary['passwords-common'].slice(0, 10_000)
      .map((p) => p.toLowerCase()),
  );
  return common.has(password.toLowerCase());
}
