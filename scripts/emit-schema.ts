// Writes schema.graphql from the type-graphql classes; with --check, fails if the committed file is stale.
import 'reflect-metadata';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { printSchemaFile } from '../src/server/schema';
import { parseFlags } from './parse-flags';

async function main(): Promise<void> {
  const { check } = parseFlags({ options: { check: { type: 'boolean' } } }, 'npm run schema [-- --check]').values;
  const file = join(__dirname, '..', 'schema.graphql');
  const sdl = await printSchemaFile();
  if (check) {
    const committed = readFileSync(file, 'utf8');
    if (committed !== sdl) {
      console.error('schema.graphql is stale: run `npm run schema` and commit it');
      process.exit(1);
    }
    console.log('schema.graphql is current');
    return;
  }
  writeFileSync(file, sdl);
  console.log(`wrote ${file}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
