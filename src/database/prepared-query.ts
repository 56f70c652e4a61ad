// Named prepared statements on the ORM's own connection pool.
import type { EntityManager } from '@mikro-orm/postgresql';
import { randomToken } from '../common/crypto';

/**
 * Runs a named prepared statement on a pooled connection (PostgreSQL parses and plans it once per connection), for
 * a statement on a hot path where knex's query building and a fresh plan each time cost more than the query itself
 * (the session check of every uncached signed-in request).
 */
export async function preparedQuery<T>(
  em: EntityManager,
  statement: { readonly name: string; readonly text: string },
  values: unknown[],
): Promise<T[]> {
  const { client } = em.getConnection().getKnex() as unknown as { client: PgPoolClient };
  const connection = await client.acquireConnection();
  try {
    // A name of this connection's own: embedded PGlite serves every connection (and every server a test process
    // starts) from one backend session, where a statement prepared under the same name would already exist.
    let names = statementNames.get(connection);
    if (names === undefined) statementNames.set(connection, (names = new Map<string, string>()));
    let name = names.get(statement.name);
    if (name === undefined) names.set(statement.name, (name = `${statement.name}_${randomToken(6)}`));
    return (await connection.query<T>({ name, text: statement.text, values })).rows;
  } finally {
    await client.releaseConnection(connection);
  }
}

/** Per pooled connection: each statement's name there. */
const statementNames = new WeakMap<object, Map<string, string>>();

/** The part of knex's client this file uses, over node-postgres's connections. */
interface PgPoolClient {
  acquireConnection(): Promise<{
    query<T>(config: { name: string; text: string; values: unknown[] }): Promise<{ rows: T[] }>;
  }>;
  releaseConnection(connection: unknown): Promise<unknown>;
}
