// Keyset pagination helpers: opaque cursors over (timestamp, id), and the page-size rule.
import { BadUserInputError } from './errors';

export const MAX_PAGE_SIZE = 100;

export interface Page<T> {
  readonly items: ReadonlyArray<{ node: T; cursor: string }>;
  readonly hasNextPage: boolean;
  readonly totalCount: number;
}

export interface Cursor {
  readonly at: Date;
  readonly id: string;
}

/** `first`, capped at MAX_PAGE_SIZE; negative is refused. */
export function pageSize(first: number): number {
  if (!Number.isInteger(first) || first < 0) throw new BadUserInputError('first', ['must be 0 or more']);
  return Math.min(first, MAX_PAGE_SIZE);
}

export function encodeCursor(at: Date, id: string): string {
  return Buffer.from(JSON.stringify([at.toISOString(), id]), 'utf8').toString('base64url');
}

/** `idPattern` is the id column's format, so a forged cursor is refused here rather than by the database. */
export function decodeCursor(cursor: string | null | undefined, idPattern: RegExp): Cursor | null {
  if (cursor === null || cursor === undefined) return null;
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (
      Array.isArray(parsed) &&
      parsed.length === 2 &&
      typeof parsed[0] === 'string' &&
      typeof parsed[1] === 'string'
    ) {
      const at = new Date(parsed[0]);
      const year = at.getUTCFullYear();
      if (!Number.isNaN(at.getTime()) && year >= 1 && year <= 9999 && idPattern.test(parsed[1])) {
        return { at, id: parsed[1] };
      }
    }
  } catch {
    // fall through
  }
  throw new BadUserInputError('after', ['must be a cursor returned by this API']);
}
