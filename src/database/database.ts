// Opens the database the Config names (a real PostgreSQL, or embedded PGlite) and applies migrations.
import { MikroORM } from '@mikro-orm/postgresql';
import type { Config } from '../config/config';
import { startEmbeddedPostgres, type EmbeddedPostgres } from './embedded';
import { ormOptions } from './orm-options';

export interface Database {
  readonly orm: MikroORM;
  close(): Promise<void>;
}

export async function openDatabase(config: Pick<Config, 'databaseUrl' | 'dataDir' | 'databasePoolSize'>): Promise<Database> {
  let embedded: EmbeddedPostgres | undefined;
  let clientUrl = config.databaseUrl;
  if (clientUrl === undefined) {
    embedded = await startEmbeddedPostgres(config.dataDir);
    clientUrl = embedded.url;
  }
  const orm = await MikroORM.init(ormOptions({ clientUrl, poolMax: embedded ? 1 : config.databasePoolSize }));
  try {
    await orm.getMigrator().up();
  } catch (err) {
    await orm.close(true);
    await embedded?.stop();
    throw err;
  }
  return {
    orm,
    async close() {
      await orm.close(true);
      await embedded?.stop();
    },
  };
}
