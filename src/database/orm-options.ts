// MikroORM options shared by the server, the migration scripts and the CLI config.
import { defineConfig, PostgreSqlKnexDialect, type EntityClass, type Options } from '@mikro-orm/postgresql';
import { Migrator } from '@mikro-orm/migrations';
import type { EventEmitter } from 'node:events';
import { inspect } from 'node:util';
import { scrubDatabaseError, withoutSqlValues, type Logger } from '../common/logger';
import { MIGRATIONS } from './migrations';

export interface OrmOptionsInput {
  clientUrl: string;
  /** Every entity class (modules/entities.ts): the database layer does not know the modules itself. */
  entities: readonly EntityClass<object>[];
  /** Largest pool; embedded PGlite is one backend session, so it gets 1. */
  poolMax?: number;
  /** Where knex's own warnings go (a dead pooled connection discarded, say); it prints them on stdout otherwise. */
  logger?: Logger;
}

/**
 * knex with every failed query's error stripped of its values as knex builds it (knex puts the statement, with
 * the values MikroORM inlined, at the head of the message), before MikroORM wraps it or anything logs it.
 * Transactions' clients pass their 'query-error' on to this one.
 */
class ValueFreeErrorsDialect extends PostgreSqlKnexDialect {
  // MikroORM types the dialect without knex's constructor argument; knex calls it with its config.
  constructor(...args: unknown[]) {
    super(...(args as []));
    (this as unknown as EventEmitter).on('query-error', (err: unknown) => scrubDatabaseError(err));
  }
}

export function ormOptions({ clientUrl, entities, poolMax = 10, logger }: OrmOptionsInput): Options {
  const text = (message: unknown): string => withoutSqlValues(typeof message === 'string' ? message : inspect(message));
  return defineConfig({
    clientUrl,
    entities: [...entities],
    extensions: [Migrator],
    forceUtcTimezone: true,
    // MikroORM.init creates a missing database by default: a typo in DATABASE_URL would start on an empty one.
    ensureDatabase: false,
    allowGlobalContext: false,
    pool: { min: 0, max: poolMax },
    debug: false,
    colors: false,
    // MikroORM's own messages (deprecations; queries only if debug were on) as log lines, not bare console output.
    ...(logger && { logger: (message: string) => logger.warn('database', { detail: withoutSqlValues(message) }) }),
    driverOptions: {
      client: ValueFreeErrorsDialect,
      compileSqlOnError: false, // a query knex binds itself: its error shows the placeholders, not the values
      ...(logger && {
        log: {
          warn: (message: unknown) => logger.warn('database connection pool', { detail: text(message) }),
          error: (message: unknown) => logger.error('database connection pool', { detail: text(message) }),
          deprecate: () => {},
          debug: () => {},
        },
      }),
    },
    migrations: {
      tableName: 'mikro_orm_migrations',
      path: './src/database/migrations',
      pathTs: './src/database/migrations',
      migrationsList: MIGRATIONS,
      transactional: true,
      allOrNothing: true,
      snapshot: false,
      silent: true,
      emit: 'ts',
      fileName: (timestamp: string, name?: string) => `migration-${timestamp}${name ? `-${name}` : ''}`,
    },
  });
}
