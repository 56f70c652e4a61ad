// The GraphQL playground (src/server/playground.ts, playground/, scripts/build-playground.ts): a browser's
// GET /graphql gets GraphiQL, bundled and served by the server itself under a strict CSP, so it works with
// no internet connection; every other request still reaches Apollo. The browser part drives Debian's
// chromium through playwright-core: register through the page, read the answer, sign in with the headers editor.
import express from 'express';
import { buildSchema, Kind, parse, validate, type OperationDefinitionNode } from 'graphql';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { BEARER_TEMPLATE, EXAMPLE_TABS } from '../playground/operations';
import { ensurePlayground } from '../scripts/build-playground';
import {
  PLAYGROUND_CSP,
  PLAYGROUND_MANIFEST,
  playground,
  playgroundDir,
  type PlaygroundManifest,
} from '../src/server/playground';
import {
  editor,
  editorText,
  hasChromium,
  launchChromium,
  openHeaders,
  openTab,
  replaceText,
  run,
} from './helpers/browser';
import { uniqueEmail } from './helpers/flows';
import { extractCode } from './helpers/smtp';
import { startTestApp, type TestApp } from './helpers/test-server';

const ARTIFACTS = join(__dirname, '..', 'test-artifacts');
const PRODUCTION = { NODE_ENV: 'production', BCRYPT_COST: '10' };
/** What a browser sends when it navigates to a URL. */
const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8';
const PASSWORD = 'Analytical-Engine-1';
const REGISTER = 'mutation($input: RegisterInput!) { register(input: $input) { expiresIn retryAfter } }';

const withChromium = hasChromium('tests/playground.test.ts');

beforeAll(async () => {
  await ensurePlayground(); // builds dist/playground when it is missing or older than its sources
}, 120_000);

function get(url: string, accept = BROWSER_ACCEPT, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { headers: { accept, ...headers } });
}

/** The page's asset URLs (script and style sheet), absolute. */
function assetUrls(html: string, base: string): string[] {
  return [...html.matchAll(/(?:src|href)="(\/graphql\/playground\/[^"]+)"/g)].map((m) =>
    new URL(m[1]!, base).toString(),
  );
}

describe('the preloaded operations', () => {
  const schema = buildSchema(readFileSync(join(__dirname, '..', 'schema.graphql'), 'utf8'));

  it('are valid against schema.graphql and walk the sign-in flows: register … logout, then social sign-in', () => {
    const fields = EXAMPLE_TABS.map((tab) => {
      const doc = parse(tab.query);
      expect(validate(schema, doc)).toEqual([]);
      const op = doc.definitions[0] as OperationDefinitionNode;
      return op.selectionSet.selections.map((s) => (s.kind === Kind.FIELD ? s.name.value : s.kind));
    });

    expect(fields).toEqual([
      ['register'],
      ['verifyOtp'],
      ['login'],
      ['me'],
      ['refresh'],
      ['logout'],
      ['identityProviders'],
      ['startSocialSignIn'],
      ['completeSocialSignIn'],
    ]);
  });

  it('carry JSON variables, and a bearer-token header to fill in where a signed-in caller is needed', () => {
    for (const tab of EXAMPLE_TABS) {
      if (tab.variables !== undefined) expect(JSON.parse(tab.variables)).toEqual(expect.any(Object));
    }
    expect(JSON.parse(BEARER_TEMPLATE)).toEqual({ Authorization: 'Bearer <paste accessToken>' });
    expect(EXAMPLE_TABS.map((t) => t.headers !== undefined)).toEqual([
      false,
      false,
      false,
      true,
      false,
      true,
      false,
      false,
      false,
    ]);
  });

  it('start and complete social sign-in with one PKCE pair: the challenge is base64url(SHA-256(verifier))', () => {
    const variablesOf = (name: string) => {
      const tab = EXAMPLE_TABS.find((t) => t.query.includes(`mutation ${name}(`));
      return JSON.parse(tab!.variables!) as Record<string, string>;
    };
    const { codeChallenge } = variablesOf('StartSocialSignIn');
    const { codeVerifier } = variablesOf('CompleteSocialSignIn');

    expect(codeVerifier).toMatch(/^[A-Za-z0-9._~-]{43,128}$/);
    expect(createHash('sha256').update(codeVerifier!).digest('base64url')).toBe(codeChallenge);
  });
});

describe('in development', () => {
  let app: TestApp;
  beforeAll(async () => void (app = await startTestApp({ env: { NODE_ENV: 'development' } })));
  afterAll(() => app.stop());

  it("answers a browser's GET /graphql with the playground page, under a CSP that allows nothing but this origin", async () => {
    const res = await get(app.url);
    const html = await res.text();

    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('content-security-policy')).toBe(PLAYGROUND_CSP);
    expect(PLAYGROUND_CSP).toMatch(/default-src 'none'/);
    expect(PLAYGROUND_CSP).toMatch(/script-src 'self'(;|$)/);
    expect(PLAYGROUND_CSP).not.toMatch(/https?:|\*|'unsafe-eval'/);
    expect(res.headers.get('vary')).toMatch(/accept/i);
    expect(html).toContain('<title>Portcullis playground</title>');
    expect(assetUrls(html, app.url)).toHaveLength(2);
  });

  it("serves the bundle's files from the server, cached as immutable, and 404 for any other name", async () => {
    const html = await (await get(app.url)).text();

    for (const url of assetUrls(html, app.url)) {
      const res = await get(url, '*/*');
      expect({ url, status: res.status }).toEqual({ url, status: 200 });
      expect(res.headers.get('content-type')).toMatch(/^(text\/javascript|application\/javascript|text\/css)/);
      expect(res.headers.get('cache-control')).toMatch(/immutable/);
      expect((await res.text()).length).toBeGreaterThan(1000);
    }
    const missing = await get(new URL('/graphql/playground/assets/nothing-here.js', app.url).toString(), '*/*');
    expect(missing.status).toBe(404);
  });

  it('leaves every other GET /graphql to Apollo: a JSON GET query is answered as before', async () => {
    const query = `${app.url}?query=${encodeURIComponent('{ __typename }')}`;
    for (const accept of ['application/json', '*/*', 'application/graphql-response+json, application/json;q=0.9']) {
      const res = await get(query, accept, { 'apollo-require-preflight': 'true' });
      expect({ accept, status: res.status }).toEqual({ accept, status: 200 });
      expect(await res.json()).toEqual({ data: { __typename: 'Query' } });
    }
  });

  it("keeps helmet's default CSP on API answers", async () => {
    const res = await app.gql('{ __typename }');

    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
  });

  (withChromium ? it : it.skip)(
    'runs register in the browser with no request leaving the server, and signs in through the headers editor',
    async () => {
      const origin = new URL(app.url).origin;
      const email = uniqueEmail('playground');
      const expected = (await app.gql(REGISTER, { input: { email: uniqueEmail('api'), password: PASSWORD } })).data;
      expect(expected).toEqual({ register: { expiresIn: expect.any(Number), retryAfter: expect.any(Number) } });

      const browser: Browser = await launchChromium();
      try {
        const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
        const requests: string[] = [];
        const problems: string[] = [];
        page.on('request', (req) => requests.push(req.url()));
        page.on('console', (msg) => {
          if (msg.type() === 'error' || msg.type() === 'warning') problems.push(`console ${msg.type()}: ${msg.text()}`);
        });
        page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));

        await page.goto(app.url);
        await page.locator(editor('operation.graphql')).waitFor({ timeout: 30_000 });
        expect(await page.locator('.graphiql-tab').allInnerTexts()).toEqual([
          'Register',
          'VerifyEmail',
          'Login',
          'Me',
          'Refresh',
          'Logout',
          'IdentityProviders',
          'StartSocialSignIn',
          'CompleteSocialSignIn',
        ]);

        // Register, through the preloaded tab, with this test's email typed into its variables.
        const variables = { input: { email, password: PASSWORD, fullName: 'Playground' } };
        await replaceText(page, editor('variables.json'), JSON.stringify(variables));
        expect(JSON.parse(await editorText(page, editor('variables.json')))).toEqual(variables);
        await page.getByLabel('Prettify query (Shift-Ctrl-P)').click();
        await run(page);
        const registered = await response(page, 'expiresIn');

        expect(registered).toEqual({ data: expected });
        const shown = await editorText(page, editor('response.json'));
        expect(shown).toContain(`"expiresIn": ${expected!.register.expiresIn}`);
        expect(shown).toContain(`"retryAfter": ${expected!.register.retryAfter}`);
        const mail = await app.smtp.waitFor(email);
        expect(mail.subject).toMatch(/confirm/i);
        const code = extractCode(mail.text);
        mkdirSync(ARTIFACTS, { recursive: true });
        await page.screenshot({ path: join(ARTIFACTS, 'playground.png') });

        // Verify the email with the emailed code: the answer holds an access token.
        await openTab(page, 'VerifyEmail');
        await replaceText(page, editor('variables.json'), JSON.stringify({ email, code }));
        await run(page);
        const verified = (await response(page, 'accessToken')) as { data: { verifyOtp: { accessToken: string } } };
        const { accessToken } = verified.data.verifyOtp;
        expect(accessToken).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);

        // Me, with that token pasted into the headers editor over the template.
        await openHeaders(page, 'Me');
        expect(JSON.parse(await editorText(page, editor('request-headers.json')))).toEqual(JSON.parse(BEARER_TEMPLATE));
        await replaceText(
          page,
          editor('request-headers.json'),
          JSON.stringify({ Authorization: `Bearer ${accessToken}` }),
        );
        await run(page);
        const me = (await response(page, '"me"')) as { data: { me: { email: string; emailVerified: boolean } } };
        expect(me.data.me).toMatchObject({ email, emailVerified: true });

        const foreign = requests.filter((url) => new URL(url).origin !== origin);
        expect(foreign).toEqual([]);
        for (const label of ['editor', 'json', 'graphql']) {
          expect(requests).toContainEqual(
            expect.stringMatching(new RegExp(`/graphql/playground/assets/${label}\\.worker-\\w+\\.js$`)),
          );
        }
        expect(problems).toEqual([]); // a CSP violation, a failed load or a failed prettify would show here
      } finally {
        await browser.close();
      }
    },
    120_000,
  );
});

/**
 * Waits until the result pane shows `marker`, then parses the whole answer it holds: from its monaco model
 * (GraphiQL 5 keeps monaco on globalThis.__MONACO), as the screen wraps long tokens over several lines.
 */
async function response(page: Page, marker: string): Promise<unknown> {
  await page
    .locator(`${editor('response.json')} .view-lines`)
    .filter({ hasText: marker })
    .waitFor({ timeout: 15_000 });
  const text = await page.evaluate(() => {
    type Model = { uri: { path: string }; getValue(): string };
    const monaco = (globalThis as { __MONACO?: { editor: { getModels(): Model[] } } }).__MONACO;
    return (
      monaco?.editor
        .getModels()
        .find((m) => m.uri.path.endsWith('-response.json'))
        ?.getValue() ?? null
    );
  });
  if (text === null) throw new Error('no response model found in the page (globalThis.__MONACO)');
  return JSON.parse(text);
}

describe('in production', () => {
  describe('without PLAYGROUND', () => {
    let app: TestApp;
    beforeAll(async () => void (app = await startTestApp({ env: PRODUCTION })));
    afterAll(() => app.stop());

    it("serves no page: a browser's GET /graphql reaches Apollo, which serves no landing page either", async () => {
      const res = await get(app.url);
      const body = await res.text();

      expect(res.status).toBe(400);
      expect(res.headers.get('content-type')).not.toMatch(/html/);
      expect(res.headers.get('content-security-policy')).not.toBe(PLAYGROUND_CSP);
      expect(body).not.toMatch(/<html|playground|cdn|apollographql/i);
    });

    it("serves none of the bundle's files", async () => {
      const { script } = JSON.parse(
        readFileSync(join(playgroundDir(), PLAYGROUND_MANIFEST), 'utf8'),
      ) as PlaygroundManifest;
      const res = await get(new URL(`/graphql/playground/assets/${script}`, app.url).toString(), '*/*');

      expect(res.status).not.toBe(200);
      expect(await res.text()).not.toContain('import');
    });
  });

  describe('with PLAYGROUND=true', () => {
    let app: TestApp;
    beforeAll(async () => void (app = await startTestApp({ env: { ...PRODUCTION, PLAYGROUND: 'true' } })));
    afterAll(() => app.stop());

    it('serves the page and its files', async () => {
      const res = await get(app.url);
      const html = await res.text();

      expect(res.status).toBe(200);
      expect(res.headers.get('content-security-policy')).toBe(PLAYGROUND_CSP);
      const [script] = assetUrls(html, app.url);
      expect((await get(script!, '*/*')).status).toBe(200);
    });
  });
});

describe('before the bundle is built', () => {
  let server: Server;
  let url: string;
  const empty = mkdtempSync(join(tmpdir(), 'portcullis-playground-'));
  beforeAll(async () => {
    const app = express().use('/graphql', playground(empty), (_req, res) => void res.json({ apollo: true }));
    server = app.listen(0);
    await new Promise((resolve) => server.once('listening', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    rmSync(empty, { recursive: true, force: true });
  });

  it('answers 503 with what to run instead of a page, and still passes JSON requests on', async () => {
    const page = await get(url);
    expect(page.status).toBe(503);
    expect(await page.text()).toMatch(/playground not built: run npm run build/);

    expect(await (await get(url, 'application/json')).json()).toEqual({ apollo: true });
  });
});
