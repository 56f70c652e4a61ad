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
  // MikroORM (whose cursors are this same JSON) would send a forged one to SQL: it gets the checked values re-encoded.
  const cursor = decodeCursor(after, idPattern);
  const direction = newestFirst ? 'desc' : 'asc';
  const page = await em.findByCursor(entity, where as FilterQuery<T>, {
    first: limit,
    after: cursor === null ? undefined : encodeCursor(cursor.at, cursor.id),
    orderBy: [{ createdAt: direction }, { id: direction }] as never,
  });
  return {
    items: page.items.map((node) => ({ node, cursor: page.from(node) })),
    hasNextPage: page.hasNextPage,
    totalCount: page.totalCount,
  };
}
