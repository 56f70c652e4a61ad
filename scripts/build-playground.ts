// Bundles the playground (playground/index.tsx: GraphiQL, React, monaco and its three web workers) with
// esbuild into dist/playground, where src/server/playground.ts serves it: nothing is loaded from a CDN.
// `npm run build` runs it (skipped when the bundle is newer than its sources); `npm run build:playground` forces it.
import type { Metafile, Plugin } from 'esbuild';
import { existsSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import {
  PLAYGROUND_ASSETS,
  PLAYGROUND_MANIFEST,
  playgroundDir,
  projectRoot,
  type PlaygroundManifest,
} from '../src/server/playground-files';
import { parseFlags } from './parse-flags';

/** Monaco's worker entry points, by the label monaco asks for (see playground/index.tsx). */
const WORKERS = {
  editor: 'monaco-editor/esm/vs/editor/editor.worker.js',
  json: 'monaco-editor/esm/vs/language/json/json.worker.js',
  graphql: 'monaco-graphql/esm/graphql.worker.js',
} as const;

export interface PlaygroundBuild {
  readonly dir: string;
  readonly files: number;
  readonly bytes: number;
  readonly ms: number;
}

/**
 * graphiql/style.css already holds monaco's styles and its codicon font (as a data: URL); the .css files
 * monaco's modules import would only repeat them, so they are left out.
 */
const skipMonacoCss: Plugin = {
  name: 'skip-monaco-css',
  setup(b) {
    b.onResolve({ filter: /\.css$/ }, (args) =>
      /[\\/]monaco-editor[\\/]esm[\\/]/.test(args.importer) ? { path: args.path, namespace: 'skipped-css' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'skipped-css' }, () => ({ contents: '', loader: 'empty' }));
  },
};

/** The output file (name only) built from the entry point `entry`, and its style sheet when it has one. */
function outputOf(metafile: Metafile, root: string, entry: string): { file: string; css: string | undefined } {
  const wanted = relative(root, entry).split('\\').join('/');
  for (const [file, output] of Object.entries(metafile.outputs)) {
    if (output.entryPoint === wanted && file.endsWith('.js')) {
      return { file: basename(file), css: output.cssBundle && basename(output.cssBundle) };
    }
  }
  throw new Error(`esbuild produced nothing for ${wanted}`);
}

/** Builds into a fresh directory, then swaps it in, so a running server never sees half a bundle. */
export async function buildPlayground(dir = playgroundDir()): Promise<PlaygroundBuild> {
  const started = Date.now();
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  try {
    await bundle(projectRoot(__dirname), tmp);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  const files = readdirSync(join(dir, PLAYGROUND_ASSETS));
  const bytes = files.reduce((sum, file) => sum + statSync(join(dir, PLAYGROUND_ASSETS, file)).size, 0);
  return { dir, files: files.length, bytes, ms: Date.now() - started };
}

/** The workers first (the page needs their hashed names), then the page, its chunks and style sheet. */
async function bundle(root: string, out: string): Promise<void> {
  const { build } = await import('esbuild'); // loaded only to build: the up-to-date check runs on every npm start
  const assets = join(out, PLAYGROUND_ASSETS);
  const common = {
    absWorkingDir: root,
    bundle: true,
    minify: true,
    target: 'es2022',
    outdir: assets,
    entryNames: '[name]-[hash]',
    metafile: true,
    logLevel: 'warning',
    legalComments: 'none',
    define: { 'process.env.NODE_ENV': '"production"' },
  } as const;

  const entries = Object.fromEntries(
    Object.entries(WORKERS).map(([label, module]) => [`${label}.worker`, require.resolve(module, { paths: [root] })]),
  );
  const workers = await build({ ...common, entryPoints: entries, format: 'iife' });
  const workerFiles = Object.fromEntries(
    Object.keys(WORKERS).map((label) => [label, outputOf(workers.metafile, root, entries[`${label}.worker`]!).file]),
  );

  const entry = join(root, 'playground', 'index.tsx');
  const main = await build({
    ...common,
    entryPoints: { index: entry },
    format: 'esm',
    splitting: true, // monaco is imported lazily, after the first paint
    chunkNames: 'chunk-[hash]',
    jsx: 'automatic',
    tsconfig: join(root, 'playground', 'tsconfig.json'),
    define: { ...common.define, PLAYGROUND_WORKERS: JSON.stringify(workerFiles) },
    // GraphiQL's prettify imports these legacy CommonJS paths, whose `parsers` come out empty once bundled
    // ("Couldn't resolve parser"); the ES modules they stand for export the same plugins properly.
    alias: { 'prettier/parser-graphql': 'prettier/plugins/graphql', 'prettier/parser-babel': 'prettier/plugins/babel' },
    plugins: [skipMonacoCss],
  });
  const { file: script, css: style } = outputOf(main.metafile, root, entry);
  if (style === undefined) throw new Error('esbuild produced no style sheet for the playground');
  const manifest: PlaygroundManifest = { script, style };
  writeFileSync(join(out, PLAYGROUND_MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
}

/** Newest modification time among what the bundle is made of: playground/, this script, its constants, the lock file. */
function newestSource(root: string): number {
  const sources = readdirSync(join(root, 'playground')).map((f) => join(root, 'playground', f));
  sources.push(
    join(root, 'scripts', 'build-playground.ts'),
    join(root, 'src', 'server', 'playground-files.ts'),
    join(root, 'package-lock.json'),
  );
  return Math.max(...sources.filter((f) => existsSync(f)).map((f) => statSync(f).mtimeMs));
}

/** Builds the bundle unless one newer than everything it is made of is already there. */
export async function ensurePlayground(dir = playgroundDir()): Promise<PlaygroundBuild | null> {
  const manifest = join(dir, PLAYGROUND_MANIFEST);
  if (existsSync(manifest) && statSync(manifest).mtimeMs >= newestSource(projectRoot(__dirname))) return null;
  return buildPlayground(dir);
}

// `--force` rebuilds even when the bundle is up to date (npm run build:playground). Silent when there was nothing
// to do, like tsc -b: `npm start`, `npm run migrate` and the rest print only their own lines then.
if (require.main === module) {
  const usage = 'node dist/scripts/build-playground.js [--force]';
  const { force } = parseFlags({ options: { force: { type: 'boolean' } } }, usage).values;
  const where = relative(process.cwd(), playgroundDir()) || '.';
  (force ? buildPlayground() : ensurePlayground()).then(
    (b) => {
      if (b === null) return;
      const [s, mb] = [(b.ms / 1000).toFixed(1), (b.bytes / 1024 / 1024).toFixed(1)];
      console.log(`playground built in ${s} s: ${b.files} files, ${mb} MB in ${where}`);
    },
    (err: unknown) => {
      console.error(err instanceof Error ? err.message : err);
      process.exit(1);
    },
  );
}
