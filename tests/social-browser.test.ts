// Sign in with an OpenID provider end to end in Chromium: a page on its own port makes the PKCE pair with WebCrypto,
// calls startSocialSignIn and sends the browser to the provider (oidc-provider, tests/helpers/oidc-provider.ts),
// whose real login and consent forms the test fills in; the provider sends the browser to PUBLIC_URL/oauth/callback,
// which redirects to the page with a one-time code; the page completes the sign-in and shows `me`. Once with a page
// script of its own, once with the example client (examples/client) bundled for the browser.
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, Page, Request } from 'playwright-core';
import { VERIFIER_KEY as CLIENT_VERIFIER_KEY } from '../examples/client/social-sign-in';
import { startFrontDoor, type FrontDoor } from './helpers/front-door';
import { hasChromium, launchChromium, recordProblems } from './helpers/browser';
import { bundleForBrowser } from './helpers/bundle-client';
import { uniqueEmail } from './helpers/flows';
import { startTestProvider, type TestProvider } from './helpers/oidc-provider';
import { complete, fixtureClient, providerEnv } from './helpers/social';
import { errorCode, startTestApp, type TestApp } from './helpers/test-server';

/** The two apps' pages, each its own redirect URI. */
const SCRIPT_PAGE = '/app/signed-in';
const CLIENT_PAGE = '/client-app/signed-in';
const CLIENT_BUNDLE = '/client-app/client.js';
const VERIFIER_KEY = 'portcullis.pkce';

const withChromium = hasChromium('tests/social-browser.test.ts');

/**
 * The app's page: it lists the providers as buttons; a click makes the PKCE pair, keeps the verifier in
 * sessionStorage and sends the browser to the provider. Back with ?code=… (or ?error=…) it removes them from the
 * address bar, completes the sign-in with the stored verifier and shows who is signed in.
 */
function scriptPageHtml(api: string): string {
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>Social sign-in</title><link rel="icon" href="data:,"></head>
<body><div id="providers"></div><p id="status">Signed out</p>
<script>
const API = ${JSON.stringify(api)};
const status = (text) => { document.getElementById('status').textContent = text; };

async function gql(query, variables, token) {
  const headers = { 'content-type': 'application/json' };
  if (token) headers.authorization = 'Bearer ' + token;
  const res = await fetch(API, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
  const body = await res.json();
  if (body.errors) throw new Error(body.errors.map((e) => e.extensions?.code + ': ' + e.message).join('; '));
  return body.data;
}

const base64url = (bytes) =>
  btoa(String.fromCharCode(...bytes)).replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, '');

async function pkce() {
  const verifier = base64url(crypto.getRandomValues(new Uint8Array(32)));
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier));
  return { verifier, challenge: base64url(new Uint8Array(digest)) };
}

async function signInWith(provider) {
  const { verifier, challenge } = await pkce();
  const redirectUri = location.origin + location.pathname;
  const data = await gql(
    'mutation($p: String!, $r: String!, $c: String!) ' +
      '{ startSocialSignIn(provider: $p, redirectUri: $r, codeChallenge: $c) { authorizationUrl } }',
    { p: provider, r: redirectUri, c: challenge },
  );
  sessionStorage.setItem(${JSON.stringify(VERIFIER_KEY)}, verifier);
  location.assign(data.startSocialSignIn.authorizationUrl);
}

async function finish(params) {
  const verifier = sessionStorage.getItem(${JSON.stringify(VERIFIER_KEY)});
  sessionStorage.removeItem(${JSON.stringify(VERIFIER_KEY)});
  if (params.has('error')) throw new Error('the provider said ' + params.get('error'));
  if (verifier === null) throw new Error('no sign-in was started in this tab');
  const done = await gql(
    'mutation($c: String!, $v: String!) { completeSocialSignIn(code: $c, codeVerifier: $v) { accessToken } }',
    { c: params.get('code'), v: verifier },
  );
  const { me } = await gql('{ me { email } }', {}, done.completeSocialSignIn.accessToken);
  status('Signed in as ' + me.email);
}

async function main() {
  const params = new URLSearchParams(location.search);
  if (params.has('code') || params.has('error')) {
    history.replaceState(null, '', location.pathname); // single use: keep the code out of history and bookmarks
    status('Signing in…');
    await finish(params);
    return;
  }
  const { identityProviders } = await gql('{ identityProviders { id displayName } }');
  for (const { id, displayName } of identityProviders) {
    const button = document.createElement('button');
    button.textContent = 'Sign in with ' + displayName;
    button.onclick = () => signInWith(id).catch((err) => status('Sign-in failed: ' + err.message));
    document.getElementById('providers').append(button);
  }
}
main().catch((err) => status('Sign-in failed: ' + err.message));
</script></body></html>`;
}

/**
 * The example client's page: the same, through `startSocialSignIn` / `completeSocialSignIn`, which keep the verifier
 * in sessionStorage by default.
 */
function clientPageHtml(api: string): string {
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>Social sign-in (example client)</title><link rel="icon" href="data:,">
<script src="client.js"></script></head>
<body><button id="start">Sign in with Acme</button><p id="status">Signed out</p>
<script>
const portcullis = Portcullis.createPortcullisClient({ uri: ${JSON.stringify(api)} });
const status = (text) => { document.getElementById('status').textContent = text; };
const redirectUri = location.origin + location.pathname;
document.getElementById('start').onclick = () =>
  portcullis
    .startSocialSignIn({ provider: 'acme', redirectUri })
    .then((url) => location.assign(url))
    .catch((err) => status('Sign-in failed: ' + err.message));
if (location.search !== '') {
  const url = location.href;
  history.replaceState(null, '', location.pathname);
  portcullis
    .completeSocialSignIn({ url })
    .then((payload) => {
      status('Signed in as ' + payload.user.email + ' holding ' + portcullis.tokens.read().accessToken);
    })
    .catch((err) => status('Sign-in failed: ' + err.message));
}
</script></body></html>`;
}

/** The example client bundled for the browser, as an app's build would (global `Portcullis`). */
async function bundleClient(): Promise<string> {
  return bundleForBrowser("export { createPortcullisClient } from './examples/client/client';\n");
}

/** The apps' own server, on a port of its own: their origin, and their redirect URIs. */
async function startPageServer(api: { url: string }, bundle: string): Promise<{ server: Server; origin: string }> {
  const server = createHttpServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const html = path === SCRIPT_PAGE ? scriptPageHtml : path === CLIENT_PAGE ? clientPageHtml : undefined;
    if (req.method === 'GET' && html !== undefined) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(html(api.url));
    } else if (req.method === 'GET' && path === CLIENT_BUNDLE) {
      res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' });
      res.end(bundle);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

let pages: { server: Server; origin: string };
let front: FrontDoor;
let provider: TestProvider;
let app: TestApp;
let browser: Browser | undefined;
const api = { url: '' };

beforeAll(async () => {
  pages = await startPageServer(api, await bundleClient());
  front = await startFrontDoor('127.0.0.1');
  [provider, browser] = await Promise.all([
    startTestProvider([fixtureClient('acme', front.origin)]),
    withChromium ? launchChromium() : undefined,
  ]);
  app = await startTestApp({
    // No CORS_ORIGINS: outside production any 127.0.0.1 origin may call the API (without credentials).
    env: {
      PUBLIC_URL: front.origin,
      OAUTH_REDIRECT_URIS: `${pages.origin}${SCRIPT_PAGE},${pages.origin}${CLIENT_PAGE}`,
      ...providerEnv('acme', provider),
    },
  });
  front.target.port = Number(new URL(app.url).port);
  api.url = `${front.origin}/graphql`; // the pages, too, reach the API at PUBLIC_URL
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await front?.close();
  await app?.stop();
  await provider?.stop();
  pages?.server.closeAllConnections();
  await new Promise((resolve) => pages?.server.close(resolve));
});

interface OpenPage {
  tab: Page;
  /** The URLs the tab navigated to, in order. */
  navigations: string[];
  problems: string[];
  close: () => Promise<void>;
}

/** A fresh browser profile on the page at `path`; records the tab's navigations and every problem it meets. */
async function openPage(path: string): Promise<OpenPage> {
  const context = await browser!.newContext();
  const tab = await context.newPage();
  const navigations: string[] = [];
  const problems: string[] = [];
  context.on('request', (req: Request) => {
    if (req.isNavigationRequest() && req.frame() === tab.mainFrame()) navigations.push(req.url());
  });
  // The provider's pages load a web font from Google and ask for a /favicon.ico it does not serve: offline, an
  // empty style sheet and no icon.
  await context.route('https://fonts.googleapis.com/**', (route) =>
    route.fulfill({ status: 200, contentType: 'text/css', body: '' }),
  );
  await context.route(`${provider.issuer}/favicon.ico`, (route) => route.fulfill({ status: 204 }));
  recordProblems(context, tab, problems);
  await tab.goto(`${pages.origin}${path}`);
  return { tab, navigations, problems, close: () => context.close() };
}

/** At the provider: its login form as `sub` (any password), then its consent page. */
async function signInAtProvider(tab: Page, sub: string, atConsent: 'continue' | 'cancel' = 'continue') {
  await tab.locator('input[name="login"]').fill(sub);
  await tab.locator('input[name="password"]').fill('any password');
  await tab.getByRole('button', { name: 'Sign-in' }).click();
  const proceed = tab.getByRole('button', { name: 'Continue' });
  if (atConsent === 'continue') {
    await proceed.click();
  } else {
    await proceed.waitFor(); // the consent page: the login page has a Cancel link too
    await tab.getByRole('link', { name: '[ Cancel ]' }).click();
  }
}

/**
 * The tab's way: the app's page → the provider → PUBLIC_URL/oauth/callback → the app's page with the code, nothing
 * after; answers the code it landed with.
 */
function expectRoundTrip(navigations: string[], pageUrl: string): string {
  const origins = navigations.map((url) => new URL(url).origin);
  expect(navigations[0]).toBe(pageUrl);
  expect(origins).toContain(provider.issuer);
  const callback = navigations.findIndex((url) => url.startsWith(`${front.origin}/oauth/callback?`));
  expect(callback).toBeGreaterThan(0);
  const landing = new URL(navigations[callback + 1]!);
  expect(`${landing.origin}${landing.pathname}`).toBe(pageUrl);
  expect(navigations).toHaveLength(callback + 2);
  const code = landing.searchParams.get('code');
  expect(code).toEqual(expect.any(String));
  return code!;
}

/** The verifier the page keeps in its sessionStorage (null when none). */
function storedVerifier(tab: Page, key = VERIFIER_KEY): Promise<string | null> {
  type PageWindow = { sessionStorage: { getItem(key: string): string | null } };
  return tab.evaluate((name) => (globalThis as unknown as PageWindow).sessionStorage.getItem(name), key);
}

const inBrowser = withChromium ? describe : describe.skip;

inBrowser('in Chromium, from a page on another port', () => {
  it("signs in through the provider's login and consent pages, the callback and the app's redirect URI", async () => {
    const email = uniqueEmail('browser-social');
    await provider.setAccount({ sub: 'browser-ada', email, email_verified: true, name: 'Ada Lovelace' });
    const { tab, navigations, problems, close } = await openPage(SCRIPT_PAGE);

    await tab.getByRole('button', { name: 'Sign in with Acme' }).click();
    await signInAtProvider(tab, 'browser-ada');

    await tab.getByText(`Signed in as ${email}`).waitFor({ timeout: 10_000 });
    const pageUrl = `${pages.origin}${SCRIPT_PAGE}`;
    const code = expectRoundTrip(navigations, pageUrl);
    // The page took the code out of the address bar and the verifier out of storage.
    expect(tab.url()).toBe(pageUrl);
    expect(await storedVerifier(tab)).toBeNull();
    // The code was single use: the page spent it.
    expect(errorCode(await complete(app, code, 'x'.repeat(43)))).toBe('INVALID_OTP');
    const users = await app.sql<{ email: string }>('select email from users where email = ?', [email]);
    expect(users).toEqual([{ email }]);
    expect(problems).toEqual([]);
    await close();
  }, 30_000);

  it('shows the error when the user cancels at the provider', async () => {
    await provider.setAccount({ sub: 'browser-bob', email: uniqueEmail('browser-cancel'), email_verified: true });
    const { tab, navigations, problems, close } = await openPage(SCRIPT_PAGE);

    await tab.getByRole('button', { name: 'Sign in with Acme' }).click();
    await signInAtProvider(tab, 'browser-bob', 'cancel');

    await tab.getByText('Sign-in failed: the provider said access_denied').waitFor({ timeout: 10_000 });
    expect(new URL(navigations.at(-1)!).searchParams.get('error')).toBe('access_denied');
    expect(tab.url()).toBe(`${pages.origin}${SCRIPT_PAGE}`);
    expect(await storedVerifier(tab)).toBeNull();
    expect(problems).toEqual([]);
    await close();
  }, 30_000);

  it("the example client's helpers do the same, keeping the verifier in sessionStorage over the trip", async () => {
    const email = uniqueEmail('browser-client');
    await provider.setAccount({ sub: 'browser-cy', email, email_verified: true });
    const { tab, navigations, problems, close } = await openPage(CLIENT_PAGE);

    await tab.getByRole('button', { name: 'Sign in with Acme' }).click();
    await signInAtProvider(tab, 'browser-cy');

    const status = tab.getByText(`Signed in as ${email} holding `);
    await status.waitFor({ timeout: 10_000 });
    const pageUrl = `${pages.origin}${CLIENT_PAGE}`;
    expectRoundTrip(navigations, pageUrl);
    expect(tab.url()).toBe(pageUrl);
    expect(await storedVerifier(tab, CLIENT_VERIFIER_KEY)).toBeNull();
    // The client keeps a working access token.
    const accessToken = (await status.innerText()).split(' holding ')[1]!;
    expect((await app.gql('{ me { email } }', undefined, { token: accessToken })).data?.me).toEqual({ email });
    expect(problems).toEqual([]);
    await close();
  }, 30_000);
});
