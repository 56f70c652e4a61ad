// Keyset pagination over (createdAt, id) for any entity that has both: one page, its cursors, the total.
import type { EntityName, FilterQuery } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { decodeCursor, encodeCursor, pageSize, type Page } from '../common/pagination';

export interface KeysetOptions {
  readonly first: number;
  readonly after: string | null | undefined;
  /** Format of the id column, so a forged cursor is refused before it reaches SQL. */
  readonly idPattern: RegExp;
  readonly newestFirst: boolean;
}

export async function keysetPage<T extends { id: string; createdAt: Date }>(
  em: EntityManager,
  entity: EntityName<T>,
  where: Record<string, unknown>,
  { first, after, idPattern, newestFirst }: KeysetOptions,
): Promise<Page<T>> {
  const limit = pageSize(first);
  const totalCount = await em.count(entity, where as FilterQuery<T>);
  const cursor = decodeCursor(after, idPattern);
  const beyond = newestFirst ? '$lt' : '$gt';
  const direction = newestFirst ? 'desc' : 'asc';
  const filter = cursor
    ? { ...where, $or: [{ createdAt: { [beyond]: cursor.at } }, { createdAt: cursor.at, id: { [beyond]: cursor.id } }] }
    : where;
  const rows = (await em.find(entity, filter as FilterQuery<T>, {
    orderBy: [{ createdAt: direction }, { id: direction }] as never,
    limit: limit + 1,
  })) as T[];
  return {
    items: rows.slice(0, limit).map((node) => ({ node, cursor: encodeCursor(node.createdAt, node.id) })),
    hasNextPage: rows.length > limit,
    totalCount,
  };
}
