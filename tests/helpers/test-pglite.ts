// Embedded PGlite instances for a test run, started from a cached copy of a freshly initialised data directory:
// PGlite.create() runs initdb in WebAssembly (6–8 s of CPU on the main thread, per instance); loading the copy
// takes about 1.5 s. The copy is made by the first run and kept in node_modules/.cache, keyed by PGlite's version.
import { readFileSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EmbeddedPostgres } from '../../src/database/embedded';
import { serveSession } from './pglite-session';

const ROOT = join(__dirname, '..', '..');
const PGLITE_VERSION = (
  JSON.parse(readFileSync(join(ROOT, 'node_modules', '@electric-sql', 'pglite', 'package.json'), 'utf8')) as {
    version: string;
  }
).version;
// As embedded.ts, PGlite is loaded with import(): its types are those of the ES module.
type Pglite = Awaited<ReturnType<(typeof import('@electric-sql/pglite'))['PGlite']['create']>>;

const CACHE_DIR = join(ROOT, 'node_modules', '.cache', 'portcullis');
const CACHE_FILE = join(CACHE_DIR, `pglite-${PGLITE_VERSION}-initdb.tar`);

function cachedImage(): Blob | undefined {
  try {
    return new Blob([readFileSync(CACHE_FILE)]);
  } catch {
    return undefined;
  }
}

async function saveImage(image: Blob): Promise<void> {
  try {
    mkdirSync(CACHE_DIR, { recursive: true });
    const partial = `${CACHE_FILE}.${process.pid}`;
    writeFileSync(partial, Buffer.from(await image.arrayBuffer()));
    renameSync(partial, CACHE_FILE); // atomic: a run starting meanwhile reads the whole copy or none
  } catch {
    // A read-only node_modules only costs the next run its initdb.
  }
}

/** Serves `db` on a local port to the pg driver, as src/database/embedded.ts does, one batch at a time. */
async function serve(db: Pglite, maxConnections: number): Promise<EmbeddedPostgres> {
  const server = await serveSession(db, maxConnections);
  return {
    url: `postgres://postgres@127.0.0.1:${server.port}/postgres?sslmode=disable`,
    async stop() {
      await server.close();
      await db.close();
    },
  };
}

/** `count` in-memory PGlite instances, each served on a port of its own with `maxConnections` clients. */
export async function startTestPglites(count: number, maxConnections: number): Promise<EmbeddedPostgres[]> {
  const { PGlite } = await import('@electric-sql/pglite');
  const instances: EmbeddedPostgres[] = [];
  let image = cachedImage();
  if (image !== undefined) {
    try {
      instances.push(await serve(await PGlite.create({ loadDataDir: image }), maxConnections));
    } catch {
      image = undefined; // an unreadable copy: made afresh below
    }
  }
  if (image === undefined) {
    const first = await PGlite.create();
    image = await first.dumpDataDir('none');
    await saveImage(image);
    instances.push(await serve(first, maxConnections));
  }
  while (instances.length < count)
    instances.push(await serve(await PGlite.create({ loadDataDir: image }), maxConnections));
  return instances;
}
