// Coalesces the uncached session checks of concurrent requests: every check asked for during one turn of the event
// loop is answered by one statement (`where s.id = any($1)`), so under load the database round trip, the statement
// and the pool checkout are paid once per batch instead of once per request. A lone request waits only for the end
// of the current turn (setImmediate).
import { UUID } from '../../common/validation';

interface Waiter<R> {
  resolve(row: R | null): void;
  reject(err: unknown): void;
}

/** The most ids one statement carries; a larger turn is split. */
export const MAX_BATCH = 200;

/** `C`: what the query runs with (a request's EntityManager: the batch uses its first request's). */
export class LiveSessionBatch<R extends { readonly sessionId: string }, C> {
  private pending: Map<string, Array<Waiter<R>>> | null = null;
  private context: C | undefined;

  /** `query`: the rows of those of `ids` that are live (in any order, at most one each). */
  constructor(private readonly query: (ids: string[], context: C) => Promise<R[]>) {}

  load(sessionId: string, context: C): Promise<R | null> {
    if (!UUID.test(sessionId)) return Promise.resolve(null); // one malformed id must not fail the whole batch
    const id = sessionId.toLowerCase();
    if (this.pending === null) {
      this.pending = new Map();
      this.context = context;
      setImmediate(() => this.flush());
    }
    const pending = this.pending;
    return new Promise<R | null>((resolve, reject) => {
      const waiting = pending.get(id);
      if (waiting === undefined) pending.set(id, [{ resolve, reject }]);
      else waiting.push({ resolve, reject });
    });
  }

  private flush(): void {
    const batch = [...this.pending!];
    const context = this.context!;
    this.pending = null;
    this.context = undefined;
    for (let i = 0; i < batch.length; i += MAX_BATCH) void this.answer(batch.slice(i, i + MAX_BATCH), context);
  }

  private async answer(part: Array<[string, Array<Waiter<R>>]>, context: C): Promise<void> {
    try {
      const rows = await this.query(
        part.map(([id]) => id),
        context,
      );
      const byId = new Map(rows.map((row) => [row.sessionId, row]));
      for (const [id, waiters] of part) for (const w of waiters) w.resolve(byId.get(id) ?? null);
    } catch (err) {
      for (const [, waiters] of part) for (const w of waiters) w.reject(err);
    }
  }
}
