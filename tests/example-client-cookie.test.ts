// The example client's cookie mode (examples/client, `refreshTokenCookie: true`) in Chromium: a page served from
// another port of the same host signs in against a server with REFRESH_TOKEN_COOKIE=true whose CORS_ORIGINS is
// the page's origin. The refresh token lives only in the HttpOnly cookie; refresh, resume and logout use it.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, BrowserContext, Cookie, Page } from 'playwright-core';
import { createPortcullisClient, type PortcullisClient } from '../examples/client/client';
import type * as Documents from '../examples/client/generated/graphql';
import { sha256 } from '../src/common/crypto';
import { hasChromium, launchChromium, recordProblems } from './helpers/browser';
import { bundleForBrowser } from './helpers/bundle-client';
import { PASSWORD, refresh, signUp, uniqueEmail } from './helpers/flows';
import { errorCode, startTestApp, type TestApp } from './helpers/test-server';

const ACCESS_TOKEN_TTL = 60;
const COOKIE = 'portcullis_refresh';
// The page lives under /graphql, the refresh cookie's path (cookies ignore ports): there, document.cookie would
// show the refresh cookie if it were not HttpOnly, as it shows the page server's own `page_marker`.
const PAGE_PATH = '/graphql/example/';
const PAGE_MARKER = 'page_marker=1';

const withChromium = hasChromium('tests/example-client-cookie.test.ts');

/** What the page's script puts on `window` (see pageHtml). */
interface PageWindow {
  Portcullis: { documents: typeof Documents };
  portcullis: PortcullisClient;
  signOuts: number;
  document: { cookie: string };
}

/** The example client and its documents bundled for the browser, as an app's build would (global `Portcullis`). */
async function bundleClient(): Promise<string> {
  return bundleForBrowser(
    "export { createPortcullisClient } from './examples/client/client';\n" +
      "export * as documents from './examples/client/generated/graphql';\n",
  );
}

function pageHtml(apiUrl: string): string {
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>Portcullis cookie mode</title><link rel="icon" href="data:,">
<script src="client.js"></script>
<script>
  window.signOuts = 0;
  window.portcullis = Portcullis.createPortcullisClient({
    uri: ${JSON.stringify(apiUrl)},
    refreshTokenCookie: true,
    onSignedOut: () => { window.signOuts += 1; },
  });
</script></head><body></body></html>`;
}

/** A plain node:http server for the page and its bundle, on a port of its own. */
interface PageServer {
  readonly origin: string;
  readonly url: string;
  /** The API the page talks to: known once the API has started with this server's origin in CORS_ORIGINS. */
  readonly api: { url: string };
  readonly server: Server;
}

async function startPageServer(bundle: string): Promise<PageServer> {
  const api = { url: '' };
  const server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === PAGE_PATH) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'set-cookie': `${PAGE_MARKER}; Path=/graphql` });
      res.end(pageHtml(api.url));
    } else if (req.method === 'GET' && req.url === `${PAGE_PATH}client.js`) {
      res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' });
      res.end(bundle);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { origin, url: `${origin}${PAGE_PATH}`, api, server };
}

let app: TestApp;
let page: PageServer;
let browser: Browser | undefined;

beforeAll(async () => {
  page = await startPageServer(await bundleClient());
  app = await startTestApp({
    env: { REFRESH_TOKEN_COOKIE: 'true', CORS_ORIGINS: page.origin, ACCESS_TOKEN_TTL: String(ACCESS_TOKEN_TTL) },
  });
  page.api.url = app.url;
  if (withChromium) browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await app?.stop();
  await new Promise((resolve) => page?.server.close(resolve));
});

interface Sent {
  url: string;
  method: string;
  operation?: string;
  variables?: Record<string, unknown>;
}

/** A fresh browser profile (no cookies) with the page loaded; records every request it makes and every problem. */
async function openPage(): Promise<{ context: BrowserContext; tab: Page; sent: Sent[]; problems: string[] }> {
  const context = await browser!.newContext();
  const tab = await context.newPage();
  const sent: Sent[] = [];
  const problems: string[] = [];
  context.on('request', (req) => {
    const body = req.postData();
    const json: Partial<Pick<Sent, 'operation' | 'variables'>> & { operationName?: string } =
      body === null ? {} : JSON.parse(body);
    sent.push({ url: req.url(), method: req.method(), operation: json.operationName, variables: json.variables });
  });
  recordProblems(context, tab, problems);
  await tab.goto(page.url);
  await waitForClient(tab);
  return { context, tab, sent, problems };
}

async function waitForClient(tab: Page): Promise<void> {
  await tab.waitForFunction(() => (globalThis as unknown as Partial<PageWindow>).portcullis !== undefined);
}

/**
 * Runs `fn(window, arg)` in the page and resolves with its (awaited, serialised) result. Only the function's
 * source travels, so it may use nothing but its arguments.
 */
function inPage<R, A = null>(tab: Page, fn: (w: PageWindow, arg: A) => R | Promise<R>, arg?: A): Promise<R> {
  return tab.evaluate<R>(`(${fn.toString()})(globalThis, ${JSON.stringify(arg ?? null)})`);
}

/** The GraphQL operations the page sent to the API, in order. */
function operations(sent: Sent[]): string[] {
  return sent.filter((s) => s.url === app.url && s.method === 'POST').map((s) => s.operation ?? '?');
}

/** Every request went to the page's server or the API, nowhere else. */
function expectOnlyOurServers(sent: Sent[]): void {
  const allowed = [page.origin, new URL(app.url).origin];
  expect(sent.filter((s) => !allowed.includes(new URL(s.url).origin))).toEqual([]);
  expect(sent.length).toBeGreaterThan(0);
}

/** The refresh cookie the browser holds for the API (undefined when there is none). */
async function refreshCookie(context: BrowserContext): Promise<Cookie | undefined> {
  return (await context.cookies(app.url)).find((c) => c.name === COOKIE);
}

async function liveTokenHashes(userId: string): Promise<string[]> {
  const rows = await app.sql<{ h: string }>(
    'select current_token_hash as h from sessions where user_id = ? and revoked_at is null',
    [userId],
  );
  return rows.map((r) => r.h);
}

/** `me` through the example client in the page: the user's id, or the error codes it failed with. */
function meInPage(tab: Page): Promise<{ id: string } | { codes: unknown[] }> {
  return inPage(tab, (w) =>
    w.portcullis.apollo
      .query({ query: w.Portcullis.documents.MeDocument, fetchPolicy: 'network-only', errorPolicy: 'none' })
      .then(
        (r) => ({ id: r.data.me.id }),
        (e: { errors?: Array<{ extensions?: { code?: unknown } }> }) => ({
          codes: (e.errors ?? []).map((x) => x.extensions?.code),
        }),
      ),
  );
}

/** Which of `needles` the page's JavaScript heap holds anywhere (a V8 heap snapshot, through the DevTools protocol). */
async function heapHolds(tab: Page, needles: string[]): Promise<string[]> {
  const cdp = await tab.context().newCDPSession(tab);
  const chunks: string[] = [];
  cdp.on('HeapProfiler.addHeapSnapshotChunk', ({ chunk }) => chunks.push(chunk));
  await cdp.send('HeapProfiler.enable');
  await cdp.send('HeapProfiler.takeHeapSnapshot', { reportProgress: false });
  await cdp.detach();
  const snapshot = chunks.join('');
  return needles.filter((needle) => snapshot.includes(needle));
}

const inBrowser = withChromium ? describe : describe.skip;

inBrowser('in Chromium, from a page on another port', () => {
  it('login() keeps only the access token; requests with an expired one share one refresh by cookie', async () => {
    const user = (await signUp(app, uniqueEmail('cookie-client'))).user;
    const { context, tab, sent, problems } = await openPage();

    const payload = await inPage(tab, (w, credentials) => w.portcullis.login(credentials), {
      email: user.email,
      password: PASSWORD,
    });

    expect(payload).toMatchObject({ refreshToken: null, tokenType: 'Bearer', user: { id: user.id } });
    const first = await refreshCookie(context);
    expect(first).toMatchObject({ httpOnly: true, secure: true, sameSite: 'Strict', path: '/graphql' });
    expect(first!.domain).toBe('127.0.0.1'); // host-only, stored from a page on another port
    expect(await liveTokenHashes(user.id)).toContain(sha256(first!.value));
    const afterLogin = await inPage(tab, (w) => w.portcullis.tokens.read());
    expect(afterLogin).toEqual({ accessToken: payload.accessToken, refreshToken: null });
    expect(await meInPage(tab)).toEqual({ id: user.id });

    app.clock.advance(ACCESS_TOKEN_TTL + 1);
    sent.length = 0;
    const ids = await inPage(tab, (w) => {
      const me = () =>
        w.portcullis.apollo
          .query({
            query: w.Portcullis.documents.MeDocument,
            fetchPolicy: 'network-only',
            errorPolicy: 'none',
            context: { queryDeduplication: false }, // each must reach the server and fail
          })
          .then((r) => r.data.me.id);
      return Promise.all([me(), me(), me()]);
    });

    expect(ids).toEqual([user.id, user.id, user.id]);
    const ops = operations(sent);
    expect(ops.filter((o) => o === 'Refresh')).toHaveLength(1);
    expect(ops.filter((o) => o === 'Me')).toHaveLength(6); // three refused, three retried
    expect(sent.find((s) => s.operation === 'Refresh')!.variables).toEqual({}); // no token: the cookie carries it
    const second = await refreshCookie(context);
    expect(second!.value).not.toBe(first!.value);
    expect(await liveTokenHashes(user.id)).toContain(sha256(second!.value));
    expect(await liveTokenHashes(user.id)).not.toContain(sha256(first!.value));
    const held = await inPage(tab, (w) => w.portcullis.tokens.read());
    expect(held).toEqual({ accessToken: expect.any(String), refreshToken: null });
    expect(held!.accessToken).not.toBe(payload.accessToken);

    // Scripts cannot reach the refresh token: not in document.cookie, nowhere in the JS heap (which does hold
    // the access token, so the search works).
    expect(await inPage(tab, (w) => w.document.cookie)).toBe(PAGE_MARKER);
    expect(await heapHolds(tab, [held!.accessToken, first!.value, second!.value])).toEqual([held!.accessToken]);
    expect(await inPage(tab, (w) => w.signOuts)).toBe(0);
    expectOnlyOurServers(sent);
    expect(problems).toEqual([]);
    await context.close();
  }, 60_000);

  it('signs up in the page, and a reloaded page resumes the session from the cookie', async () => {
    const email = uniqueEmail('cookie-page');
    const { context, tab, sent, problems } = await openPage();
    const before = app.smtp.messages.length;
    const input = { email, password: PASSWORD, fullName: 'Ada' };
    await inPage(
      tab,
      async (w, variables) => {
        const mutation = w.Portcullis.documents.RegisterDocument;
        await w.portcullis.apollo.mutate({ mutation, variables, errorPolicy: 'none' });
      },
      { input },
    );
    const code = await app.smtp.codeFor(email, /confirm/i, before);
    const payload = await inPage(tab, (w, variables) => w.portcullis.verifyOtp(variables), {
      email,
      code,
      purpose: 'VERIFY_EMAIL' as const,
    });
    expect(payload).toMatchObject({ refreshToken: null, user: { email, emailVerified: true } });
    const cookie = await refreshCookie(context);
    expect(await liveTokenHashes(payload.user.id)).toEqual([sha256(cookie!.value)]);

    await tab.reload();
    await waitForClient(tab);

    // A new page: nothing in memory, so requests go signed out and nothing is refreshed by itself.
    expect(await inPage(tab, (w) => w.portcullis.tokens.read())).toBeNull();
    sent.length = 0;
    expect(await meInPage(tab)).toEqual({ codes: ['UNAUTHENTICATED'] });
    expect(operations(sent)).toEqual(['Me']);

    expect(await inPage(tab, (w) => w.portcullis.resume())).toBe(true);

    expect(await meInPage(tab)).toEqual({ id: payload.user.id });
    expect(operations(sent)).toEqual(['Me', 'Refresh', 'Me']);
    expect(sent.find((s) => s.operation === 'Refresh')!.variables).toEqual({});
    const held = await inPage(tab, (w) => w.portcullis.tokens.read());
    expect(held).toEqual({ accessToken: expect.any(String), refreshToken: null });
    expect((await refreshCookie(context))!.value).not.toBe(cookie!.value); // resuming rotated it
    expectOnlyOurServers(sent);
    expect(problems).toEqual([]);
    await context.close();
  }, 60_000);

  it('logout ends the session and clears the cookie: a following refresh is refused', async () => {
    const user = (await signUp(app, uniqueEmail('cookie-logout'))).user;
    const { context, tab, sent, problems } = await openPage();
    await inPage(tab, (w, credentials) => w.portcullis.login(credentials).then(() => null), {
      email: user.email,
      password: PASSWORD,
    });
    const cookie = await refreshCookie(context);
    expect(await liveTokenHashes(user.id)).toContain(sha256(cookie!.value));
    sent.length = 0;

    await inPage(tab, (w) => w.portcullis.logout().then(() => null));

    expect(await refreshCookie(context)).toBeUndefined();
    expect(await liveTokenHashes(user.id)).not.toContain(sha256(cookie!.value)); // (the sign-up's session lives on)
    expect(await inPage(tab, (w) => w.portcullis.tokens.read())).toBeNull();
    expect(sent.find((s) => s.operation === 'Logout')!.variables).toEqual({});

    expect(await inPage(tab, (w) => w.portcullis.resume())).toBe(false);

    expect(operations(sent)).toEqual(['Logout', 'Refresh']);
    expect(errorCode(await refresh(app, cookie!.value))).toBe('UNAUTHENTICATED'); // the old cookie's token is dead
    expect(await inPage(tab, (w) => w.signOuts)).toBe(0);
    expectOnlyOurServers(sent);
    expect(problems).toEqual([]);
    await context.close();
  }, 60_000);
});

it('a client in token mode against this server says to turn cookie mode on', async () => {
  const { user } = await signUp(app, uniqueEmail('token-client'));
  const client = createPortcullisClient({ uri: app.url });

  await expect(client.login({ email: user.email, password: PASSWORD })).rejects.toThrow(/refreshTokenCookie: true/);

  expect(client.tokens.read()).toBeNull();
});
