// Generates a migration from the difference between the entities and the database at DATABASE_URL
// (default: the local `test` database), then lists it in src/database/migrations/index.ts by hand.
import 'reflect-metadata';
import { MikroORM } from '@mikro-orm/postgresql';
import { ormOptions } from '../src/database/orm-options';

async function main(): Promise<void> {
  const clientUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const orm = await MikroORM.init(ormOptions({ clientUrl }));
  try {
    await orm.getMigrator().up();
    const result = await orm.getMigrator().createMigration(undefined, false, false, process.argv[2]);
    console.log(result.fileName ? `created ${result.fileName}` : 'no changes');
  } finally {
    await orm.close(true);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
