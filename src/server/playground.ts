// The GraphQL playground (GraphiQL, bundled by scripts/build-playground.ts into dist/playground): a browser's
// GET /graphql gets its page, /graphql/playground/… its assets, GET / a redirect to it; every other request
// passes on to Apollo.
import express, { type Request, type RequestHandler } from 'express';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  PLAYGROUND_ASSETS,
  PLAYGROUND_MANIFEST,
  playgroundDir,
  projectRoot,
  type PlaygroundManifest,
} from './playground-files';

export { PLAYGROUND_ASSETS, PLAYGROUND_MANIFEST, playgroundDir, projectRoot, type PlaygroundManifest };

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

/** GET or HEAD / from a browser: 302 to the playground at `path`; anything else (an API client) passes on. */
export function playgroundRedirect(path: string): RequestHandler {
  return (req, res, next) => {
    res.vary('Accept');
    if (!wantsPage(req)) return next();
    res.redirect(302, path); // not 308: a browser would keep it after PLAYGROUND is turned off
  };
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
