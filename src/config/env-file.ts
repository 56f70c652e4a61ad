// Imported first by every entry point (src/main.ts, scripts/*): loads a .env file into process.env before anything
// reads it, with Node's own parser (process.loadEnvFile). A variable set in the real environment keeps its value.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

/**
 * The file to load: ENV_FILE when it is set (it must exist; set but empty: none), else ./.env in the working
 * directory when there is one. ENV_FILE is read from the real environment only.
 */
function envFilePath(): string | null {
  const named = process.env.ENV_FILE;
  if (named !== undefined) return named.trim() === '' ? null : resolve(named.trim());
  const file = resolve('.env');
  return existsSync(file) ? file : null;
}

const file = envFilePath();
if (file !== null) {
  try {
    process.loadEnvFile(file);
  } catch (err) {
    // One line, as for any other bad setting (the entry points' own error handling has not started yet).
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : `cannot be read (${String(err)})`;
    const which = process.env.ENV_FILE === undefined ? file : `ENV_FILE ${file}`;
    process.stderr.write(`Invalid configuration: ${which} ${why}\n`);
    process.exit(1);
  }
}
