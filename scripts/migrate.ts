// `npm run migrate`: applies pending migrations to DATABASE_URL (or the embedded database under DATA_DIR).
import 'reflect-metadata';
import { loadConfig } from '../src/config/config';
import { openDatabase } from '../src/database/database';

async function main(): Promise<void> {
  const config = loadConfig();
  const db = await openDatabase(config); // applies pending migrations
  const executed = await db.orm.getMigrator().getExecutedMigrations();
  console.log(`migrations applied: ${executed.map((m) => m.name).join(', ') || 'none'}`);
  await db.close();
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
