// Password strength by zxcvbn-ts: the common (passwords, keyboard patterns) and English dictionaries, plus the
// account's own email and name, give a 0–4 score and English feedback. Built once, on first use (~0.5 s, ~20 MB),
// with the word lists loaded then too (dictionaries.ts says why).
import { ZxcvbnFactory } from '@zxcvbn-ts/core';
import { languageCommon, languageEnglish } from './dictionaries';

/** PASSWORD_MIN_SCORE's default: 3 is "safely unguessable" (about 10^8 guesses or more). */
export const DEFAULT_MIN_SCORE = 3;
/**
 * Characters the estimator reads: a longer password is judged by its start. Its cost grows with the square of
 * the length (and with the l33t variants of each); 32 keeps a 128-character input near 5 ms of CPU
 * (bench/password-strength.ts). Judging a prefix errs on the strict side: 32 strong characters pass whatever
 * follows them, a weak start is refused.
 */
export const ANALYSED_LENGTH = 32;

let estimator: ZxcvbnFactory | undefined;

function zxcvbn(): ZxcvbnFactory {
  if (estimator !== undefined) return estimator;
  const common = languageCommon();
  const english = languageEnglish();
  estimator = new ZxcvbnFactory({
    translations: english.translations,
    graphs: common.adjacencyGraphs,
    // The English word-sequence lists (numbers, months, planets …) each cost a lookup per substring for little
    // gain; the big lists here hold those words anyway.
    dictionary: {
      'passwords-common': common.dictionary['passwords-common'],
      'diceware-common': common.dictionary['diceware-common'],
      'commonWords-en': english.dictionary['commonWords-en'],
      'firstnames-en': english.dictionary['firstnames-en'],
      'lastnames-en': english.dictionary['lastnames-en'],
      'wikipedia-en': english.dictionary['wikipedia-en'],
    },
    maxLength: ANALYSED_LENGTH,
    // Every substitution allowed multiplies the l33t variants tried; 2 still finds p@$$w0rd-style words.
    l33tMaxSubstitutions: 2,
  });
  return estimator;
}

/** The account a password is for: a password made of its email or name is easy to guess for anyone who has them. */
export interface PasswordOwner {
  readonly email?: string | null;
  readonly fullName?: string | null;
}

/** The email, its local part, the name, and the words in them (3+ characters), as zxcvbn user inputs. */
export function ownerWords(owner: PasswordOwner): string[] {
  const email = owner.email?.trim().toLowerCase() ?? '';
  const name = owner.fullName?.trim().toLowerCase() ?? '';
  const words = new Set<string>(['portcullis', email, email.split('@')[0]!, name]);
  for (const word of `${email} ${name}`.split(/[^\p{L}\p{N}]+/u)) if ([...word].length >= 3) words.add(word);
  words.delete('');
  return [...words];
}

export interface Strength {
  /** 0 (too guessable) … 4 (very unguessable). */
  readonly score: number;
  /** zxcvbn's English warning and suggestions, e.g. "This is similar to a commonly used password." */
  readonly feedback: string[];
}

export function passwordStrength(password: string, owner: PasswordOwner = {}): Strength {
  const result = zxcvbn().check(password, ownerWords(owner));
  const { warning, suggestions } = result.feedback;
  return { score: result.score, feedback: [...(warning ? [warning] : []), ...suggestions] };
}
