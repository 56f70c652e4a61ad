// On STEP_UP_REQUIRED (the operation needs a recent authentication, or a second factor): prove the user again
// (reauthenticate, with what the app's `onStepUp` gives), then retry the operation once with the new access token.
// A retry refused again reaches the caller; nothing loops.
import type { ApolloLink } from '@apollo/client';
import { CombinedGraphQLErrors } from '@apollo/client';
import { ErrorLink } from '@apollo/client/link/error';
import { from, of, switchMap, throwError, type Observable } from 'rxjs';
import type { PasskeyChallenge, SecondFactorProof } from './mfa';

/** What the operation needs: an authentication at most `maxAge` seconds old, at `level` (2: with a second factor). */
export interface StepUpRequired {
  readonly level: number;
  readonly maxAge: number;
}

/** What `onStepUp` is asked with. */
export interface StepUpRequest extends StepUpRequired {
  /** Begins a passkey reauthentication (when the user has a passkey): run its `options`, answer `{ passkey }`. */
  startPasskey(): Promise<PasskeyChallenge>;
}

/** The password (level 1 only), or a second factor (level 2). */
export type StepUpProof = { password: string } | SecondFactorProof;

/** Asks the user to prove it is them again; null when they decline (the operation then fails with STEP_UP_REQUIRED). */
export type OnStepUp = (request: StepUpRequest) => Promise<StepUpProof | null>;

/** Set on an operation's context to keep this link out of it (reauthenticate itself). */
export const SKIP_STEP_UP = 'portcullisSkipStepUp';

export interface StepUpLinkOptions {
  /**
   * Proves the user again and keeps the new access token: true to retry, false to give the caller the refusal
   * (the user declined). Rejects with reauthenticate's error (INVALID_OTP, INVALID_CREDENTIALS…), which the caller
   * then gets instead.
   */
  stepUp(required: StepUpRequired): Promise<boolean>;
}

export function createStepUpLink(options: StepUpLinkOptions): ApolloLink {
  return new ErrorLink(({ error, result, operation, forward }) => {
    if (operation.getContext()[SKIP_STEP_UP] === true) return undefined;
    const required = stepUpRequiredIn(error);
    if (required === null) return undefined;
    const original: Observable<ApolloLink.Result> = result ? of(result) : throwError(() => error);
    // Back through the auth link, which sends the new token. ErrorLink hands the retry's answer straight to the
    // caller, never to this handler again: a second STEP_UP_REQUIRED is the caller's.
    return from(options.stepUp(required)).pipe(switchMap((proven) => (proven ? forward(operation) : original)));
  });
}

/** The STEP_UP_REQUIRED error's extensions, or null when `error` is not one. */
export function stepUpRequiredIn(error: unknown): StepUpRequired | null {
  if (!CombinedGraphQLErrors.is(error)) return null;
  const extensions = error.errors.find((e) => e.extensions?.code === 'STEP_UP_REQUIRED')?.extensions;
  if (extensions === undefined) return null;
  return { level: Number(extensions.level ?? 1), maxAge: Number(extensions.maxAge) };
}
