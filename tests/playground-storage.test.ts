// The playground keeps no password, code or token in the browser (playground/storage.ts): GraphiQL's tabs, variables,
// headers and history live in the page's memory; only layout and theme reach localStorage. Driven in real Chromium:
// type a password into variables and a token into headers, run both, let GraphiQL save its state, read localStorage.
import type { Browser, Page } from 'playwright-core';
import { EXAMPLE_TABS } from '../playground/operations';
import { ensurePlayground } from '../scripts/build-playground';
import { editor, editorText, hasChromium, launchChromium, openHeaders, replaceText, run } from './helpers/browser';
import { uniqueEmail } from './helpers/flows';
import { startTestApp, type TestApp } from './helpers/test-server';

const PASSWORD = 'Never-In-Storage-7';
const TOKEN = 'eyJhbGciOiJIUzI1NiJ9.never-in-storage.token';
const withChromium = hasChromium('tests/playground-storage.test.ts') ? it : it.skip;

let app: TestApp;
let browser: Browser;
beforeAll(async () => {
  await ensurePlayground(); // builds dist/playground when it is missing or older than its sources
  app = await startTestApp({ env: { NODE_ENV: 'development' } });
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await app?.stop();
});

/** What page.evaluate sees as globalThis (the tests are compiled without the DOM's types). */
type PageGlobals = { localStorage: { setItem(key: string, value: string): void } };

/** Every localStorage entry of the page's origin. */
function stored(page: Page): Promise<Record<string, string>> {
  return page.evaluate(() => ({ ...(globalThis as unknown as { localStorage: Record<string, string> }).localStorage }));
}

async function open(page: Page): Promise<void> {
  await page.goto(app.url);
  await page.locator(editor('operation.graphql')).waitFor({ timeout: 30_000 });
}

/** Waits until the result pane shows `marker`. */
async function answered(page: Page, marker: string): Promise<void> {
  await page
    .locator(`${editor('response.json')} .view-lines`)
    .filter({ hasText: marker })
    .waitFor({ timeout: 15_000 });
}

withChromium(
  'keeps the password typed into variables and the token typed into headers out of localStorage, and forgets them on reload',
  async () => {
    browser = await launchChromium();
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.clock.install(); // time runs as usual; fastForward below fires GraphiQL's debounced saves at once
    await open(page);

    // Register with a password typed into the variables.
    const email = uniqueEmail('storage');
    await replaceText(page, editor('variables.json'), JSON.stringify({ input: { email, password: PASSWORD } }));
    await run(page);
    await answered(page, 'expiresIn');
    expect(await app.smtp.waitFor(email)).toBeDefined(); // it reached the server: a real registration

    // Me with a bearer token typed into the headers.
    await openHeaders(page, 'Me');
    await replaceText(page, editor('request-headers.json'), JSON.stringify({ Authorization: `Bearer ${TOKEN}` }));
    await run(page);
    await answered(page, 'UNAUTHENTICATED');

    // GraphiQL saves tabs 500 ms after the last edit; its history as each operation runs: both happened now.
    await page.clock.fastForward(2_000);
    await page.getByLabel('Show History').click();
    await page.locator('.graphiql-history-item').nth(1).waitFor(); // both operations, read back from GraphiQL's storage

    const entries = await stored(page);
    const everything = JSON.stringify(entries);
    expect(everything).not.toContain(PASSWORD);
    expect(everything).not.toContain(TOKEN);
    expect(everything).not.toContain(email);
    expect(
      Object.keys(entries).filter((key) => /tabState|queries|favorites|variables|headers|query/.test(key)),
    ).toEqual([]);

    // A reload starts from the example tabs again, with no history.
    await page.reload();
    await page.locator(editor('operation.graphql')).waitFor({ timeout: 30_000 });
    await page
      .locator(`${editor('variables.json')} .view-lines`)
      .filter({ hasText: '}' })
      .waitFor(); // its text is in
    expect(JSON.parse(await editorText(page, editor('variables.json')))).toEqual(
      JSON.parse(EXAMPLE_TABS[0]!.variables!),
    );
    await page.locator('.graphiql-history-header').waitFor(); // still open: which panel is open is layout, kept
    expect(await page.locator('.graphiql-history-item').count()).toBe(0);
  },
  120_000,
);

withChromium(
  'removes tabs and history an earlier version of the page left in localStorage, and keeps the layout',
  async () => {
    browser ??= await launchChromium();
    const page = await browser.newPage();
    await open(page);
    await page.evaluate((password) => {
      const local = (globalThis as unknown as PageGlobals).localStorage;
      const variables = JSON.stringify({ password });
      local.setItem('graphiql:tabState', JSON.stringify({ tabs: [{ variables }], activeTabIndex: 0 }));
      local.setItem('graphiql:queries', JSON.stringify({ queries: [{ query: '{ me { id } }', variables }] }));
      local.setItem('graphiql:theme', 'dark');
    }, PASSWORD);

    await open(page);

    const entries = await stored(page);
    expect(entries['graphiql:theme']).toBe('dark');
    expect(Object.keys(entries).filter((key) => /tabState|queries/.test(key))).toEqual([]);
    expect(JSON.stringify(entries)).not.toContain(PASSWORD);
  },
  60_000,
);
