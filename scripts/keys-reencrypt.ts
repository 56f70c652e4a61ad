// `npm run keys:reencrypt`: re-seals every value sealed with an older data key under the first key of
// DATA_ENCRYPTION_KEYS (after a rotation, before the old key is removed), and says how many of each it moved.
import 'reflect-metadata';
import '../src/config/env-file'; // loads .env before anything reads process.env
import { OperatorError } from '../src/config/config-helpers';
import { loadConfig } from '../src/config/config';
import { deriveKeys } from '../src/common/keys';
import { openDatabase } from '../src/database/database';
import { resealAll } from '../src/database/reseal';
import { ENTITIES } from '../src/modules/entities';
import { SEALED_COLUMNS } from '../src/modules/sealed-columns';
import { parseFlags } from './parse-flags';

async function main(): Promise<void> {
  parseFlags({}, 'npm run keys:reencrypt');
  const config = loadConfig();
  const { sealer } = deriveKeys(config.jwtSecret, config.dataKeys);
  const db = await openDatabase(config, ENTITIES, undefined, { holder: 'npm run keys:reencrypt' });
  try {
    const { resealed, unreadable } = await resealAll(db.orm, sealer, SEALED_COLUMNS);
    for (const [name, n] of Object.entries(resealed))
      console.log(`${name}: ${n} re-sealed under ${sealer.currentKeyId}`);
    const lost = Object.entries(unreadable).filter(([, n]) => n > 0);
    for (const [name, n] of lost)
      console.error(`${name}: ${n} sealed with a key that is not configured; left as they are`);
    if (lost.length > 0) process.exitCode = 1;
  } finally {
    await db.close();
  }
}

main().catch((err: unknown) => {
  console.error(
    err instanceof OperatorError
      ? err.message
      : `keys:reencrypt failed: ${err instanceof Error ? err.message : String(err)}`,
  );
  process.exit(1);
});
