// Moves every sealed value to the current data key (`npm run keys:reencrypt`), in batches, each row updated only if
// it still holds the value read (a row sent or removed meanwhile is left alone).
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Sealer } from '../common/sealing';

export interface ResealColumn {
  readonly table: string;
  readonly column: string;
  readonly id: string;
}

export interface ResealResult {
  /** `table.column` → values re-sealed under the current key. */
  readonly resealed: Record<string, number>;
  /** `table.column` → values no configured key opens (left as they are). */
  readonly unreadable: Record<string, number>;
}

const BATCH = 500;

export async function resealAll(
  orm: MikroORM,
  sealer: Sealer,
  columns: readonly ResealColumn[],
): Promise<ResealResult> {
  const conn = orm.em.getConnection();
  const resealed: Record<string, number> = {};
  const unreadable: Record<string, number> = {};
  for (const { table, column, id } of columns) {
    const name = `${table}.${column}`;
    resealed[name] = 0;
    unreadable[name] = 0;
    const skipped = new Set<string>();
    for (;;) {
      const rows = await conn.execute<Array<{ id: string; value: string }>>(
        `select ${id} as id, ${column} as value from ${table}
         where ${column} is not null and ${column} not like ? order by ${id} limit ?`,
        [`${sealer.currentKeyId}:%`, BATCH + skipped.size],
      );
      const todo = rows.filter((r) => !skipped.has(r.id));
      if (todo.length === 0) break;
      for (const row of todo) {
        let plaintext: string;
        try {
          plaintext = sealer.open(row.value);
        } catch {
          skipped.add(row.id);
          unreadable[name] += 1;
          continue;
        }
        const updated = await conn.execute<{ affectedRows: number }>(
          `update ${table} set ${column} = ? where ${id} = ? and ${column} = ?`,
          [sealer.seal(plaintext), row.id, row.value],
          'run',
        );
        resealed[name] += updated.affectedRows;
        if (updated.affectedRows === 0) skipped.add(row.id); // changed meanwhile: not ours to touch
      }
    }
  }
  return { resealed, unreadable };
}
