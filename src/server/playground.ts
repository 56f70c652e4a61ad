// The GraphQL playground (GraphiQL, bundled by scripts/build-playground.ts into dist/playground): a browser's
// GET /graphql gets its page, /graphql/playground/… its assets; every other request passes on to Apollo.
import express, { type Request, type RequestHandler } from 'express';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The bundle's description, written by the build beside `assets/`: its entry script and style sheet. */
export interface PlaygroundManifest {
  readonly script: string;
  readonly style: string;
}

export const PLAYGROUND_MANIFEST = 'manifest.json';
/** The bundle's files, under the playground directory and under the mount path alike. */
export const PLAYGROUND_ASSETS = 'assets';
const ASSETS_PATH = `/playground/${PLAYGROUND_ASSETS}`;

/**
 * Strict and offline: nothing but this origin. Monaco injects <style> elements and style attributes
 * ('unsafe-inline' styles); its fonts are data: URLs; its workers are files of the bundle.
 */
export const PLAYGROUND_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "worker-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "font-src 'self' data:",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

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

function readManifest(dir: string): PlaygroundManifest | null {
  try {
    return JSON.parse(readFileSync(join(dir, PLAYGROUND_MANIFEST), 'utf8')) as PlaygroundManifest;
  } catch {
    return null;
  }
}

const escapeAttr = (s: string): string => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');

function page(assets: string, manifest: PlaygroundManifest): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Portcullis playground</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${escapeAttr(`${assets}/${manifest.style}`)}">
<script type="module" src="${escapeAttr(`${assets}/${manifest.script}`)}"></script>
</head>
<body><div id="playground"></div></body>
</html>
`;
}

/** A browser's navigation prefers HTML to JSON; curl, fetch and GraphQL clients go on to Apollo. */
function wantsPage(req: Request): boolean {
  return req.accepts(['application/json', 'text/html']) === 'text/html';
}

/** Mount on the GraphQL path, before Apollo. `dir` is the built bundle (playgroundDir() unless a test says otherwise). */
export function playground(dir = playgroundDir()): RequestHandler {
  const router = express.Router();
  router.use(
    ASSETS_PATH,
    // File names carry a content hash, so they never change.
    express.static(join(dir, PLAYGROUND_ASSETS), { index: false, immutable: true, maxAge: '365d', redirect: false }),
    (_req, res) => {
      res.status(404).type('text/plain').send('Not found\n');
    },
  );
  router.get('/', (req, res, next) => {
    res.vary('Accept'); // the same URL answers the page or, to Apollo, JSON
    if (!wantsPage(req)) return next();
    res.setHeader('Content-Security-Policy', PLAYGROUND_CSP);
    res.setHeader('Cache-Control', 'no-cache');
    const manifest = readManifest(dir); // read per request: a rebuild needs no restart
    if (manifest === null) {
      res.status(503).type('text/plain').send('playground not built: run npm run build\n');
      return;
    }
    res.type('html').send(page(`${req.baseUrl}${ASSETS_PATH}`, manifest));
  });
  // Every POST (each GraphQL request) passes straight on, without walking the router.
  return (req, res, next) => (req.method === 'GET' || req.method === 'HEAD' ? router(req, res, next) : next());
}
