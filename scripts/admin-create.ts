// `npm run admin:create -- --email a@b.c`: creates a verified ADMIN, or promotes an existing account.
// The password (for a new account) is prompted for on a terminal, or read from the first line of stdin.
// It opens the database of DATABASE_URL, or the embedded one under DATA_DIR, which it refuses while a server holds it.
import 'reflect-metadata';
import '../src/config/env-file'; // loads .env before anything reads process.env
import { createInterface } from 'node:readline';
import { OperatorError } from '../src/config/config-helpers';
import { loadConfig } from '../src/config/config';
import { systemClock } from '../src/common/clock';
import { silentLogger } from '../src/common/logger';
import { deriveKeys } from '../src/common/keys';
import { openDatabase } from '../src/database/database';
import { ENTITIES } from '../src/modules/entities';
import { assertPasswordPolicy } from '../src/modules/passwords/password-policy';
import { createServices } from '../src/server/services';
import { AfterCommit } from '../src/database/after-commit';
import { normalizeEmail } from '../src/common/email';
import { parseFlags, refuseUsage } from './parse-flags';

const USAGE = 'npm run admin:create -- --email admin@example.com';

/** One line from stdin; on a terminal, asked twice with the typing hidden. */
async function readPassword(): Promise<string> {
  const tty = process.stdin.isTTY === true;
  const rl = createInterface({ input: process.stdin, output: tty ? process.stderr : undefined, terminal: tty });
  const lines = rl[Symbol.asyncIterator]();
  const ask = async (prompt: string): Promise<string> => {
    if (tty) process.stderr.write(prompt);
    const muted = rl as unknown as { _writeToOutput?: (s: string) => void };
    muted._writeToOutput = () => {}; // a common readline idiom for hidden input
    const next = await lines.next();
    if (tty) process.stderr.write('\n');
    if (next.done) throw new Error('no password given on stdin');
    return next.value;
  };
  try {
    const password = await ask('Password for the new admin: ');
    if (tty && (await ask('Password again: ')) !== password) throw new Error('the passwords differ');
    return password;
  } finally {
    rl.close();
  }
}

async function main(): Promise<void> {
  const rawEmail = parseFlags({ options: { email: { type: 'string' } } }, USAGE).values.email;
  if (!rawEmail) refuseUsage('--email is required', USAGE);
  const email = normalizeEmail(rawEmail);
  const config = loadConfig();
  const db = await openDatabase(config, ENTITIES, undefined, { holder: 'npm run admin:create' });
  const services = createServices(config, deriveKeys(config.jwtSecret, config.dataKeys), systemClock, silentLogger, {
    afterCommit: AfterCommit.attach(db.orm, (err) => console.error(err)),
  });
  try {
    const { userAdmin } = services;
    const { user, created } = await userAdmin.createOrPromoteAdmin(db.orm.em.fork(), email, async () => {
      const password = await readPassword();
      assertPasswordPolicy(password, 'password', { email, minScore: config.passwordMinScore });
      return password;
    });
    console.log(`${created ? 'created' : 'promoted'} ${user.email} (${user.id}) with roles ${user.roles.join(', ')}`);
  } finally {
    await services.close();
    await db.close();
  }
}

main().catch((err: unknown) => {
  // A refusal (bad value, DATA_DIR in use, no such database) is its own line; anything else says what failed.
  console.error(
    err instanceof OperatorError
      ? err.message
      : `admin:create failed: ${err instanceof Error ? err.message : String(err)}`,
  );
  process.exit(1);
});
