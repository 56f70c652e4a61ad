// Where the playground bundle lives and how it is laid out: shared by the server (playground.ts) and the build
// (scripts/build-playground.ts), which checks whether it is up to date without loading Express or esbuild.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The bundle's description, written by the build beside `assets/`: its entry script and style sheet. */
export interface PlaygroundManifest {
  readonly script: string;
  readonly style: string;
}

export const PLAYGROUND_MANIFEST = 'manifest.json';
/** The bundle's files, under the playground directory and under the mount path alike. */
export const PLAYGROUND_ASSETS = 'assets';

/** The directory holding package.json, from src/ under ts-node as from dist/src/ once compiled. */
export function projectRoot(from = __dirname): string {
  let dir = from;
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${from}`);
    dir = parent;
  }
  return dir;
}

/** Where the build writes the bundle and the server reads it. */
export function playgroundDir(): string {
  return join(projectRoot(), 'dist', 'playground');
}
