// Shares one in-flight call among every caller: while a refresh runs, later callers wait for it
// instead of starting their own (which would spend the same refresh token twice).
export function singleFlight<T>(run: () => Promise<T>): () => Promise<T> {
  let inFlight: Promise<T> | null = null;
  return () => {
    inFlight ??= run().finally(() => {
      inFlight = null;
    });
    return inFlight;
  };
}
