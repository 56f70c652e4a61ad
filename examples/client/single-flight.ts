// Shares one in-flight call among every caller: while a refresh runs, later callers wait for it
// instead of starting their own (which would spend the same refresh token twice). Later callers'
// arguments are not used: they get the answer of the call already under way.
export function singleFlight<A extends unknown[], T>(run: (...args: A) => Promise<T>): (...args: A) => Promise<T> {
  let inFlight: Promise<T> | null = null;
  return (...args) => {
    inFlight ??= run(...args).finally(() => {
      inFlight = null;
    });
    return inFlight;
  };
}
