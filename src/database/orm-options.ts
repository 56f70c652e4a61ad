// MikroORM options shared by the server, the migration scripts and the CLI config.
import { defineConfig, type Options } from '@mikro-orm/postgresql';
import { Migrator } from '@mikro-orm/migrations';
import { inspect } from 'node:util';
import type { Logger } from '../common/logger';
import { ENTITIES } from './entities';
import { MIGRATIONS } from './migrations';

export interface OrmOptionsInput {
  clientUrl: string;
  /** Largest pool; embedded PGlite is one backend session, so it gets 1. */
  poolMax?: number;
  /** Where knex's own warnings go (a dead pooled connection discarded, say); it prints them on stdout otherwise. */
  logger?: Logger;
}

export function ormOptions({ clientUrl, poolMax = 10, logger }: OrmOptionsInput): Options {
  const text = (message: unknown): string => (typeof message === 'string' ? message : inspect(message));
  return defineConfig({
    clientUrl,
    entities: ENTITIES,
    extensions: [Migrator],
    forceUtcTimezone: true,
    allowGlobalContext: false,
    pool: { min: 0, max: poolMax },
    debug: false,
    ...(logger && {
      driverOptions: {
        log: {
          warn: (message: unknown) => logger.warn('database connection pool', { detail: text(message) }),
          error: (message: unknown) => logger.error('database connection pool', { detail: text(message) }),
          deprecate: () => {},
          debug: () => {},
        },
      },
    }),
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
