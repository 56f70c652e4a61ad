// Waits for a condition the test cannot be told about (a row written, a counter moved): polls it at a short
// interval until it holds, failing with the last value seen. Never a fixed sleep that assumes it happened.
export interface EventuallyOptions {
  readonly timeoutMs?: number;
  readonly intervalMs?: number;
  /** 'return': resolve with the last value at the timeout instead of failing, for a test that asserts on it. */
  readonly onTimeout?: 'throw' | 'return';
}

/** Resolves with `probe()`'s first result that `until` accepts (default: truthy); rejects after `timeoutMs`. */
export function eventually<T, U extends T>(
  probe: () => T | Promise<T>,
  until: (value: T) => value is U,
  options?: EventuallyOptions & { readonly onTimeout?: 'throw' },
): Promise<U>;
export function eventually<T>(
  probe: () => T | Promise<T>,
  until?: (value: T) => boolean,
  options?: EventuallyOptions,
): Promise<T>;
export async function eventually<T>(
  probe: () => T | Promise<T>,
  until: (value: T) => boolean = Boolean,
  { timeoutMs = 15_000, intervalMs = 20, onTimeout = 'throw' }: EventuallyOptions = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (until(value)) return value;
    if (Date.now() > deadline) {
      if (onTimeout === 'return') return value;
      throw new Error(`condition not met within ${timeoutMs} ms; last value: ${JSON.stringify(value)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
