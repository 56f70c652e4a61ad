// MikroORM options shared by the server, the migration scripts and the CLI config.
import { defineConfig, type Options } from '@mikro-orm/postgresql';
import { Migrator } from '@mikro-orm/migrations';
import { ENTITIES } from './entities';
import { MIGRATIONS } from './migrations';

export interface OrmOptionsInput {
  clientUrl: string;
  /** Largest pool; embedded PGlite is one backend session, so it gets 1. */
  poolMax?: number;
}

export function ormOptions({ clientUrl, poolMax = 10 }: OrmOptionsInput): Options {
  return defineConfig({
    clientUrl,
    entities: ENTITIES,
    extensions: [Migrator],
    forceUtcTimezone: true,
    allowGlobalContext: false,
    pool: { min: 0, max: poolMax },
    debug: false,
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
