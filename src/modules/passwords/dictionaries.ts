// zxcvbn-ts's word lists, loaded by the first password that needs them. The packages unpack their lists when
// loaded, which was a tenth of the CPU a process spends loading the server (~0.25 s on a 2-core VM): paid by
// every start and every one-shot script, most of which never see a password.
type LanguageCommon = typeof import('@zxcvbn-ts/language-common');
type LanguageEnglish = typeof import('@zxcvbn-ts/language-en');

let common: LanguageCommon | undefined;
let english: LanguageEnglish | undefined;

/** The passwords, diceware words and keyboard graphs of @zxcvbn-ts/language-common. */
export function languageCommon(): LanguageCommon {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on first use, see above
  return (common ??= require('@zxcvbn-ts/language-common') as LanguageCommon);
}

/** The English words, names and feedback texts of @zxcvbn-ts/language-en. */
export function languageEnglish(): LanguageEnglish {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on first use, see above
  return (english ??= require('@zxcvbn-ts/language-en') as LanguageEnglish);
}
