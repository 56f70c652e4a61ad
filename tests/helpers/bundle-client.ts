// The example Apollo client bundled for the browser as an app's build would (esbuild, global `Portcullis`), for the
// tests that run it in Chromium.
import { build } from 'esbuild';
import { join } from 'node:path';

/** `entry`: the bundle's own module (its exports become `Portcullis.*`), resolved from the repository root. */
export async function bundleForBrowser(entry: string): Promise<string> {
  const result = await build({
    stdin: { contents: entry, resolveDir: join(__dirname, '..', '..'), sourcefile: 'page.ts', loader: 'ts' },
    bundle: true,
    format: 'iife',
    globalName: 'Portcullis',
    platform: 'browser',
    target: 'chrome120',
    minify: true,
    write: false,
    define: { 'process.env.NODE_ENV': '"production"' },
    logLevel: 'silent',
  });
  return result.outputFiles[0]!.text;
}
