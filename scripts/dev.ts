// `npm run dev`: the server, restarted whenever a source file changes. `tsc -b --watch` recompiles what changed into
// dist/ (tsc, not esbuild or tsx: type-graphql and MikroORM need the decorator metadata only tsc emits) and
// `node --watch` restarts dist/src/main.js once a file it loaded is rewritten. Edits under playground/ rebuild the
// bundle instead, which the running server picks up on the next page load. `npm run dev` builds once first.
import { spawn, type ChildProcess } from 'node:child_process';
import { watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { ensurePlayground } from './build-playground';
import { projectRoot } from '../src/server/playground-files';

const root = projectRoot(__dirname);
const children = new Map<ChildProcess, string>();
let stopping = false;

function start(what: string, args: string[]): void {
  const child = spawn(process.execPath, args, { cwd: root, stdio: 'inherit' });
  children.set(child, what);
  child.on('exit', (code, signal) => {
    children.delete(child);
    if (stopping) {
      if (children.size === 0) process.exit(process.exitCode ?? 0);
      return;
    }
    console.error(`dev: ${what} stopped (${signal ?? `exit ${code}`}); stopping`);
    stop(1);
  });
}

function stop(exitCode: number, signal: NodeJS.Signals = 'SIGTERM'): void {
  if (stopping) return;
  stopping = true;
  process.exitCode = exitCode;
  playgroundWatcher?.close();
  if (children.size === 0) process.exit(exitCode);
  for (const child of children.keys()) child.kill(signal); // node --watch passes it on to the server, which shuts down cleanly
}

// 200 ms of quiet before rebuilding: an editor's save is several file events.
let rebuild: NodeJS.Timeout | undefined;
let playgroundWatcher: FSWatcher | undefined;
function watchPlayground(): void {
  playgroundWatcher = watch(join(root, 'playground'), () => {
    clearTimeout(rebuild);
    rebuild = setTimeout(() => {
      ensurePlayground().then(
        (built) =>
          built && console.log(`dev: playground rebuilt in ${(built.ms / 1000).toFixed(1)} s (reload the page)`),
        (err: unknown) =>
          console.error(`dev: playground build failed: ${err instanceof Error ? err.message : String(err)}`),
      );
    }, 200);
  });
}

start('tsc --watch', [
  require.resolve('typescript/bin/tsc'),
  '-b',
  'tsconfig.build.json',
  '--watch',
  '--preserveWatchOutput',
]);
start('the server', ['--watch', '--watch-preserve-output', '--enable-source-maps', join('dist', 'src', 'main.js')]);
watchPlayground();
process.on('SIGINT', () => stop(0, 'SIGINT'));
process.on('SIGTERM', () => stop(0));
