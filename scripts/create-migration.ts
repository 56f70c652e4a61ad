// Generates a migration from the difference between the entities and the database at DATABASE_URL
// (default: the local `test` database), then lists it in src/database/migrations/index.ts by hand.
import 'reflect-metadata';
import { MikroORM } from '@mikro-orm/postgresql';
import { ormOptions } from '../src/database/orm-options';
import { ENTITIES } from '../src/modules/entities';
import { parseFlags, refuseUsage } from './parse-flags';

const USAGE = 'npm run migration:create [-- camelCaseName]';

async function main(): Promise<void> {
  const [name, ...extra] = parseFlags({ allowPositionals: true }, USAGE).positionals;
  if (extra.length > 0) refuseUsage(`Unexpected argument '${extra[0]}': one name at most`, USAGE);
  // The name becomes part of a class name: letters and digits only (camelCase).
  if (name !== undefined && !/^[A-Za-z][A-Za-z0-9]*$/.test(name)) throw new Error('name the migration in camelCase');
  const clientUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const orm = await MikroORM.init(ormOptions({ clientUrl, entities: ENTITIES }));
  try {
    await orm.getMigrator().up();
    const result = await orm.getMigrator().createMigration(undefined, false, false, name);
    console.log(result.fileName ? `created ${result.fileName}` : 'no changes');
  } finally {
    await orm.close(true);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
