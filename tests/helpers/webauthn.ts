// Real passkey ceremonies in headless Chromium: a page of the server under test, a CDP virtual authenticator (a
// platform authenticator: CTAP2, internal transport, resident keys, user verification) and @simplewebauthn/browser
// in the page, so a test hands the server's options JSON to the device and the device's response JSON to the server.
//
// What Chromium 156's virtual authenticator does (tests/webauthn-harness.test.ts checks each):
// - While it verifies the user (the default): registration and sign-in carry UP and UV, whatever the options'
//   userVerification, except 'discouraged', for which Chromium asks no UV and the response carries UP only.
// - setUserVerified(false) makes user verification *fail*, not go missing: a sign-in whose options ask for UV
//   ('required' and also 'preferred') rejects with NotAllowedError; only 'discouraged' goes through, without UV.
//   Registration rejects whatever its options (resident key or not, even 'discouraged'): register first.
// - For a response that carries UV=0 although the options asked for UV, use setResponseOverrides({ badUV: true }):
//   Chromium does not check the flag, so even a 'required' ceremony completes with UV=0 (a client that lies).
// - The signature counter is one per credential: 1 after registration, +1 on every assertion.
// - Ceremonies that fail do so at once (no waiting for the options' timeout).
//
// The RP ID must be the page's host or a registrable suffix of it: open the page as http://localhost:PORT/… (a
// secure context, as is every loopback URL) for the RP ID `localhost`. The bundle is injected as an init script
// (CDP, outside the page's CSP), so any page the server serves will do, whatever its Content-Security-Policy (not
// tried: a Permissions-Policy denying publickey-credentials-create/-get should still stop the ceremonies).
import { dirname, join } from 'node:path';
import type { AuthenticationResponseJSON, RegistrationResponseJSON } from '@simplewebauthn/server';
import type { Browser, BrowserContext, CDPSession, Page } from 'playwright-core';

/** The package's UMD bundle (global `SimpleWebAuthnBrowser`), next to its main entry script/index.js. */
const BROWSER_BUNDLE = join(dirname(require.resolve('@simplewebauthn/browser')), '../dist/bundle/index.umd.min.js');

/** A credential the virtual authenticator holds; the ids are base64url, as in the responses' JSON. */
export interface DeviceCredential {
  credentialId: string;
  rpId: string;
  signCount: number;
  isResidentCredential: boolean;
  /** The user.id of the registration options (base64url), for resident credentials. */
  userHandle?: string;
}

/** CDP's WebAuthn.setResponseOverrideBits: each call replaces the previous overrides; `{}` ends them. */
export interface ResponseOverrides {
  /** Clear the UV flag of every response (Chromium lets it through even when the options required UV). */
  badUV?: boolean;
  /** Clear the UP flag of every response. */
  badUP?: boolean;
  /** Sign with garbage: the response looks right but its signature does not verify. */
  bogusSignature?: boolean;
}

export interface PasskeyDevice {
  /** The tab the ceremonies run in (the authenticator and the bundle survive its navigations). */
  readonly page: Page;
  /** Creates a credential for the server's PublicKeyCredentialCreationOptionsJSON, via startRegistration. */
  register(optionsJSON: unknown): Promise<RegistrationResponseJSON>;
  /** Answers the server's PublicKeyCredentialRequestOptionsJSON, via startAuthentication. */
  authenticate(optionsJSON: unknown): Promise<AuthenticationResponseJSON>;
  /**
   * Whether user verification succeeds from now on. When it does not, sign-ins that ask for UV ('required' or
   * 'preferred') reject with NotAllowedError, 'discouraged' ones answer with UV=0, and every registration rejects.
   */
  setUserVerified(verified: boolean): Promise<void>;
  /** Falsifies the authenticator's next responses (see ResponseOverrides); `{}` returns to honest answers. */
  setResponseOverrides(overrides: ResponseOverrides): Promise<void>;
  /** The credentials the virtual authenticator holds (WebAuthn.getCredentials). */
  credentials(): Promise<DeviceCredential[]>;
  /** Removes the authenticator and hands the tab, emptied, to the next device opened in this browser. */
  close(): Promise<void>;
}

/** A tab with the bundle and CDP's WebAuthn domain on: a new one costs Chromium about a second of CPU. */
interface Tab {
  readonly context: BrowserContext;
  readonly page: Page;
  readonly cdp: CDPSession;
}

/** Tabs of closed devices, by browser, for the next device to open. */
const idleTabs = new WeakMap<Browser, Tab[]>();

async function openTab(browser: Browser): Promise<Tab> {
  const idle = idleTabs.get(browser)?.pop();
  if (idle !== undefined) return idle;
  const context = await browser.newContext();
  try {
    // An init script runs in every document before the page's own scripts, and outside its CSP.
    await context.addInitScript({ path: BROWSER_BUNDLE });
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send('WebAuthn.enable', { enableUI: false });
    return { context, page, cdp };
  } catch (err) {
    await context.close();
    throw err;
  }
}

/** Hands `tab` to the next device, emptied: no authenticator (its credentials and overrides go with it), no cookies
 *  or storage, a blank page. A tab that cannot be emptied is closed instead. */
async function releaseTab(
  browser: Browser,
  tab: Tab,
  authenticatorId: string | undefined,
  origin: string,
): Promise<void> {
  if (!browser.isConnected()) return;
  try {
    if (authenticatorId !== undefined) await tab.cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId });
    await tab.page.goto('about:blank');
    await tab.context.clearCookies();
    await tab.cdp.send('Storage.clearDataForOrigin', { origin, storageTypes: 'all' });
  } catch {
    await tab.context.close().catch(() => {});
    return;
  }
  const idle = idleTabs.get(browser) ?? [];
  idleTabs.set(browser, idle);
  idle.push(tab);
}

/**
 * Opens `pageUrl` (e.g. `http://localhost:PORT/` — any page the server serves) in a tab of `browser` with a new
 * virtual platform authenticator (CTAP2, internal transport, resident keys, user verification) and
 * @simplewebauthn/browser loaded as `SimpleWebAuthnBrowser`. `userVerified` (default true): see setUserVerified.
 * The tab is a closed device's when there is one (emptied: a device sees no earlier device's credentials, cookies
 * or storage), else a new context's.
 * A failed ceremony rejects with an Error whose message starts with the DOMException's name (`NotAllowedError: …`,
 * `SecurityError: …`) and names @simplewebauthn/browser's code when it has one.
 */
export async function openPasskeyDevice(
  browser: Browser,
  pageUrl: string,
  opts: { userVerified?: boolean } = {},
): Promise<PasskeyDevice> {
  const origin = new URL(pageUrl).origin;
  const tab = await openTab(browser);
  const { page, cdp } = tab;
  let authenticatorId: string | undefined;
  try {
    ({ authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: {
        protocol: 'ctap2',
        transport: 'internal',
        hasResidentKey: true,
        hasUserVerification: true,
        isUserVerified: opts.userVerified ?? true,
        automaticPresenceSimulation: true,
      },
    }));
    await page.goto(pageUrl);
  } catch (err) {
    await releaseTab(browser, tab, authenticatorId, origin);
    throw err;
  }
  const id = authenticatorId;
  let closed: Promise<void> | undefined;

  return {
    page,
    register: async (optionsJSON) =>
      (await ceremony(page, 'startRegistration', optionsJSON)) as RegistrationResponseJSON,
    authenticate: async (optionsJSON) =>
      (await ceremony(page, 'startAuthentication', optionsJSON)) as AuthenticationResponseJSON,
    async setUserVerified(verified) {
      await cdp.send('WebAuthn.setUserVerified', { authenticatorId: id, isUserVerified: verified });
    },
    async setResponseOverrides({ badUV, badUP, bogusSignature }) {
      await cdp.send('WebAuthn.setResponseOverrideBits', {
        authenticatorId: id,
        isBadUV: badUV ?? false,
        isBadUP: badUP ?? false,
        isBogusSignature: bogusSignature ?? false,
      });
    },
    async credentials() {
      const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId: id });
      return credentials.map((c) => ({
        credentialId: base64ToBase64url(c.credentialId),
        rpId: c.rpId ?? '',
        signCount: c.signCount,
        isResidentCredential: c.isResidentCredential,
        ...(c.userHandle === undefined ? {} : { userHandle: base64ToBase64url(c.userHandle) }),
      }));
    },
    close: () => (closed ??= releaseTab(browser, tab, id, origin)),
  };
}

/** Runs SimpleWebAuthnBrowser[fn] in the page; turns its failure into an Error named after the DOMException. */
async function ceremony(page: Page, fn: 'startRegistration' | 'startAuthentication', optionsJSON: unknown) {
  const outcome: { response: unknown } | { error: string } = await page.evaluate(
    async ([name, options]) => {
      const lib = (globalThis as any).SimpleWebAuthnBrowser;
      if (!lib) return { error: 'the @simplewebauthn/browser bundle is not loaded in this page' };
      try {
        return { response: await lib[name]({ optionsJSON: options }) };
      } catch (e) {
        const { name: errorName, code, message } = e as { name?: string; code?: string; message?: string };
        return { error: `${errorName ?? 'Error'}${code ? ` (${code})` : ''}: ${message}` };
      }
    },
    [fn, optionsJSON] as const,
  );
  if ('error' in outcome) throw new Error(`${fn} failed: ${outcome.error}`);
  return outcome.response;
}

/** The client data a response's clientDataJSON carries (the fields WebAuthn defines; others pass through). */
export interface ClientData {
  type: string;
  challenge: string;
  origin: string;
  crossOrigin?: boolean;
  topOrigin?: string;
  [field: string]: unknown;
}

/**
 * A copy of `response` whose clientDataJSON `edit` rewrote (the signature stays as it was: an attacker's forgery,
 * e.g. another origin or challenge). `edit` changes the object in place.
 */
export function withClientData<T extends { response: { clientDataJSON: string } }>(
  response: T,
  edit: (clientData: ClientData) => void,
): T {
  const clientData = JSON.parse(Buffer.from(response.response.clientDataJSON, 'base64url').toString('utf8'));
  edit(clientData);
  const clientDataJSON = Buffer.from(JSON.stringify(clientData), 'utf8').toString('base64url');
  return { ...response, response: { ...response.response, clientDataJSON } };
}

/** The client data of a response, decoded. */
export function clientDataOf(response: { response: { clientDataJSON: string } }): ClientData {
  return JSON.parse(Buffer.from(response.response.clientDataJSON, 'base64url').toString('utf8'));
}

/** What the authenticator put in a response's authenticatorData (a registration's too, as the browser reports it). */
export interface AuthenticatorDataSummary {
  /** SHA-256 of the RP ID, hex. */
  rpIdHash: string;
  flags: {
    userPresent: boolean;
    userVerified: boolean;
    backupEligible: boolean;
    backedUp: boolean;
    attestedCredentialData: boolean;
    extensionData: boolean;
  };
  signCount: number;
}

export function authenticatorDataOf(response: { response: { authenticatorData?: string } }): AuthenticatorDataSummary {
  const encoded = response.response.authenticatorData;
  if (encoded === undefined) throw new Error('the response has no authenticatorData');
  const data = Buffer.from(encoded, 'base64url');
  const flags = data[32]!;
  return {
    rpIdHash: data.subarray(0, 32).toString('hex'),
    flags: {
      userPresent: (flags & 0x01) !== 0,
      userVerified: (flags & 0x04) !== 0,
      backupEligible: (flags & 0x08) !== 0,
      backedUp: (flags & 0x10) !== 0,
      attestedCredentialData: (flags & 0x40) !== 0,
      extensionData: (flags & 0x80) !== 0,
    },
    signCount: data.readUInt32BE(33),
  };
}

function base64ToBase64url(base64: string): string {
  return Buffer.from(base64, 'base64').toString('base64url');
}
