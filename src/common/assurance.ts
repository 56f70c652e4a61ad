// How a session was authenticated (docs/contract.md, "Second factors, assurance, step-up"): the RFC 8176 method
// references each way in records, and the level (acr) they make. One source of truth for tokens and `assurance`.

/** RFC 8176 values, plus `email` (an emailed code) and `fed` (an external provider) as the contract adds. */
export type AuthMethod = 'pwd' | 'otp' | 'hwk' | 'user' | 'mfa' | 'email' | 'fed';

export const AUTH_METHODS: readonly AuthMethod[] = ['pwd', 'otp', 'hwk', 'user', 'mfa', 'email', 'fed'];

export type Acr = 'aal1' | 'aal2';

/** What a passkey proves: possession (`hwk`), and with user verification (biometrics, PIN) the user too (`user`). */
export function passkeyMethods(userVerified: boolean): AuthMethod[] {
  return userVerified ? ['hwk', 'user'] : ['hwk'];
}

/** Two factors (`mfa`), or a passkey with user verification (`hwk` and `user`), are level 2; anything else 1. */
export function acrOf(amr: readonly string[]): Acr {
  return amr.includes('mfa') || (amr.includes('hwk') && amr.includes('user')) ? 'aal2' : 'aal1';
}

export function levelOf(acr: Acr): 1 | 2 {
  return acr === 'aal2' ? 2 : 1;
}
