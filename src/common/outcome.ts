// Lets a transaction commit its bookkeeping (a failed attempt, a revoked session) and fail afterwards.
export type Outcome<T> = { ok: true; value: T } | { ok: false; error: Error };

export const success = <T>(value: T): Outcome<T> => ({ ok: true, value });
export const failure = (error: Error): Outcome<never> => ({ ok: false, error });

export function unwrap<T>(outcome: Outcome<T>): T {
  if (!outcome.ok) throw outcome.error;
  return outcome.value;
}
