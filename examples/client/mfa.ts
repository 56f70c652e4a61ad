// Second factors in the example client. A sign-in of a user with MFA on answers MFA_REQUIRED with a ticket instead of
// tokens: the client asks the app (`onMfaRequired`) for a TOTP code, a recovery code or a passkey, and finishes with
// verifyMfa. The same proofs (or the password) answer a step-up (`onStepUp`, step-up-link.ts).
import { CombinedGraphQLErrors } from '@apollo/client';
import type { PasskeyChallengeFragment } from './generated/graphql';

/** The second factors a user can finish a sign-in with, in the server's order. */
export type MfaFactorKind = 'TOTP' | 'PASSKEY' | 'RECOVERY_CODE';

/** A WebAuthn ceremony begun by the server: run it with `startAuthentication({ optionsJSON: options })`. */
export type PasskeyChallenge = PasskeyChallengeFragment;

/**
 * A second factor: a TOTP code from the user's app, one of their recovery codes, or a passkey's answer (the
 * AuthenticationResponseJSON of @simplewebauthn/browser's `startAuthentication`).
 */
export type SecondFactorProof = { code: string } | { recoveryCode: string } | { passkey: unknown };

/** What `onMfaRequired` is asked with. */
export interface MfaRequest {
  /** The factors this user has (`TOTP`, `PASSKEY`, `RECOVERY_CODE`); ask only for these. */
  readonly factors: readonly MfaFactorKind[];
  /** With `PASSKEY` among the factors: the ceremony to run for `{ passkey }` (single use: null after one try). */
  readonly passkeyChallenge: PasskeyChallenge | null;
  /** 1, then 2, 3… after the server refused a proof as wrong (say so to the user). The ticket allows 5 tries. */
  readonly attempt: number;
}

/** Asks the user for a second factor; null when they give up (the sign-in then rejects with MFA_REQUIRED). */
export type OnMfaRequired = (request: MfaRequest) => Promise<SecondFactorProof | null>;

/** The MFA_REQUIRED error's extensions, or null when `error` is not one. */
export function mfaRequiredIn(
  error: unknown,
): { ticket: string; factors: MfaFactorKind[]; passkeyChallenge: PasskeyChallenge | null } | null {
  if (!CombinedGraphQLErrors.is(error)) return null;
  const extensions = error.errors.find((e) => e.extensions?.code === 'MFA_REQUIRED')?.extensions;
  if (extensions === undefined || typeof extensions.mfaTicket !== 'string') return null;
  return {
    ticket: extensions.mfaTicket,
    factors: (extensions.factors ?? []) as MfaFactorKind[],
    passkeyChallenge: (extensions.passkeyChallenge ?? null) as PasskeyChallenge | null,
  };
}

/** The variables of verifyMfa or reauthenticate for one proof: exactly one of them, as the server requires. */
export function proofVariables(proof: SecondFactorProof | { password: string }): {
  password?: string;
  code?: string;
  recoveryCode?: string;
  passkey?: unknown;
} {
  if ('password' in proof) return { password: proof.password };
  if ('code' in proof) return { code: proof.code };
  if ('recoveryCode' in proof) return { recoveryCode: proof.recoveryCode };
  if ('passkey' in proof) return { passkey: proof.passkey };
  throw new Error('A proof is one of { password }, { code }, { recoveryCode } or { passkey }');
}

/**
 * Runs a sign-in; when it answers MFA_REQUIRED, asks `ask` for a second factor and finishes it with `verify`
 * (verifyMfa), again after each INVALID_OTP. Any other error, and RATE_LIMITED once the ticket's tries are spent,
 * rejects. Without `ask` the MFA_REQUIRED error rejects as it is.
 */
export async function withSecondFactor<T>(
  signIn: () => Promise<T>,
  ask: OnMfaRequired | undefined,
  verify: (ticket: string, proof: SecondFactorProof) => Promise<T>,
): Promise<T> {
  try {
    return await signIn();
  } catch (error) {
    const required = mfaRequiredIn(error);
    if (required === null || ask === undefined) throw error;
    let { factors, passkeyChallenge } = required;
    for (let attempt = 1; ; attempt += 1) {
      const proof = await ask({ factors, passkeyChallenge, attempt });
      if (proof === null) throw error; // the user gave up: the sign-in fails as the server answered it
      try {
        return await verify(required.ticket, proof);
      } catch (refused) {
        if (!CombinedGraphQLErrors.is(refused) || !refused.errors.some((e) => e.extensions?.code === 'INVALID_OTP')) {
          throw refused;
        }
        if ('passkey' in proof) {
          // The ticket's passkey ceremony is spent, even by a refused answer: offer the other factors.
          factors = factors.filter((f) => f !== 'PASSKEY');
          passkeyChallenge = null;
        }
      }
    }
  }
}
