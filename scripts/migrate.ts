// `npm run migrate`: applies pending migrations to DATABASE_URL (or the embedded database under DATA_DIR) and
// says which it applied, or "up to date".
import 'reflect-metadata';
import '../src/config/env-file'; // loads .env before anything reads process.env
import { OperatorError } from '../src/config/config-helpers';
import { loadConfig } from '../src/config/config';
import { openDatabase } from '../src/database/database';
import { ENTITIES } from '../src/modules/entities';

async function main(): Promise<void> {
  const config = loadConfig();
  const db = await openDatabase(config, ENTITIES, undefined, { holder: 'npm run migrate' }); // applies pending migrations
  await db.close();
  console.log(db.applied.length > 0 ? `applied: ${db.applied.join(', ')}` : 'up to date');
}

main().catch((err: unknown) => {
  // A refusal (bad value, DATA_DIR in use, no such database) is its own line; anything else says what failed.
  console.error(
    err instanceof OperatorError ? err.message : `migrate failed: ${err instanceof Error ? err.message : String(err)}`,
  );
  process.exit(1);
});
