// Chromium for the browser tests (playwright-core): launching it, recording what goes wrong on a page, reading and
// typing into the playground's GraphiQL monaco editors (found by the model names GraphiQL gives them).
import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { checkBrowserUse, runningFile } from './groups';

export const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  // One renderer process for every tab, and no process per site: a test's tabs come and go by the dozen (passkey
  // devices, provider forms, the playground), and each new renderer costs CPU to start. Cookies, storage and CORS
  // are kept apart by browser context and origin, not by process. Four browser files, alone: Chromium's CPU went
  // from 66.5 s (81 renderers) to 54 s (11) (docs/test-time.md).
  '--renderer-process-limit=1',
  '--disable-site-isolation-trials',
  '--disable-features=site-per-process,IsolateOrigins',
];

/** Whether Chromium is installed; in CI its absence is an error, elsewhere the browser tests are skipped. */
export function hasChromium(testFile: string): boolean {
  if (existsSync(CHROMIUM)) return true;
  const why = `${CHROMIUM} is missing (apt-get install chromium)`;
  if (process.env.CI) throw new Error(`${testFile} needs Chromium in CI: ${why}`);
  console.warn(`Skipping the browser tests of ${testFile}: ${why}.`);
  return false;
}

/** Chromium, headless, with the flags above; in a group, only for a file counted as driving it (groups.ts). */
export async function launchChromium(): Promise<Browser> {
  const file = runningFile();
  if (file !== undefined) checkBrowserUse(file);
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS });
}

/** The monaco editor whose model is GraphiQL's `<name>` (operation.graphql, variables.json, …). */
export function editor(name: string): string {
  return `.monaco-editor[data-uri$="-${name}"]`;
}

/** The visible text of a monaco editor (monaco renders spaces as no-break spaces). */
export async function editorText(page: Page, selector: string): Promise<string> {
  return (await page.locator(`${selector} .view-lines`).innerText()).replace(/\u00a0/g, ' ');
}

/** Clicks into the editor, selects everything, deletes it and types `text` in its place. */
export async function replaceText(page: Page, selector: string, text: string): Promise<void> {
  await page.locator(`${selector} .view-lines`).click();
  await page.keyboard.press('ControlOrMeta+A');
  await page.keyboard.press('Backspace');
  await page.keyboard.insertText(text); // one insertion: monaco's auto-closing brackets do not get in the way
}

export async function openTab(page: Page, title: string): Promise<void> {
  await page.locator('.graphiql-tab-button', { hasText: new RegExp(`^${title}$`) }).click();
}

export async function run(page: Page): Promise<void> {
  await page.getByLabel('Execute query (Ctrl-Enter)').click();
}

/** Opens tab `title` and its headers editor, once that shows the template's Authorization header. */
export async function openHeaders(page: Page, title: string): Promise<void> {
  await openTab(page, title);
  await page.locator('.graphiql-editor-tools button[data-name="headers"]').click();
  await page
    .locator(`${editor('request-headers.json')} .view-lines`)
    .filter({ hasText: 'Authorization' })
    .waitFor();
}

/** Pushes onto `problems` every failed request, HTTP error, console error or warning and page error of `tab`. */
export function recordProblems(context: BrowserContext, tab: Page, problems: string[]): void {
  context.on('requestfailed', (req) => problems.push(`request failed: ${req.url()} ${req.failure()?.errorText}`));
  context.on('response', (res) => {
    if (res.status() >= 400) problems.push(`HTTP ${res.status()}: ${res.request().method()} ${res.url()}`);
  });
  tab.on('console', (msg) => {
    if (msg.type() === 'error' || msg.type() === 'warning') problems.push(`console ${msg.type()}: ${msg.text()}`);
  });
  tab.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
}
