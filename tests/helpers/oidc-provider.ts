// A real OpenID provider for a test file: runs oidc-provider-process.mjs and plays the browser through its forms.
// oidc-provider and jose are ESM-only and jest here cannot load them: all JOSE work happens in the child, and this
// side talks to it over HTTP (its /__test/ control endpoints and its own pages) with global fetch.
import { spawn } from 'node:child_process';
import { join } from 'node:path';

import { OutputLines } from './output-lines';

export interface FixtureClient {
  client_id: string;
  client_secret: string;
  redirect_uris: string[];
  token_endpoint_auth_method?: 'client_secret_post' | 'client_secret_basic';
}

export interface ProviderAccount {
  sub: string;
  email?: string;
  email_verified?: boolean;
  name?: string;
  hd?: string;
}

/** Where the provider sent the browser back: the callback URL with its query (GET) or, for form_post, the form fields
 *  (POST). */
export interface ProviderRedirect {
  method: 'GET' | 'POST';
  url: string;
  form?: URLSearchParams;
}

export interface TestProvider {
  /** http://127.0.0.1:PORT */
  readonly issuer: string;
  /** Adds or replaces the claims of the account `sub` (one not set is just `{ sub }`). */
  setAccount(account: ProviderAccount): Promise<void>;
  /** Plays the browser through the provider's own login and consent forms as `sub`, starting at authorizationUrl;
   *  returns where the provider redirects (or form-posts) back, WITHOUT following it to the relying party. */
  authorize(authorizationUrl: string, sub: string): Promise<ProviderRedirect>;
  /** Same, but the user signs in and then cancels at the consent step: the redirect carries error=access_denied. */
  deny(authorizationUrl: string, sub: string): Promise<ProviderRedirect>;
  /** The next token response carrying an id_token (only that one) gets it replaced: same claims merged with
   *  `claims`, minus `removeClaims`, re-signed under the same header (kid) with the provider's key or, if
   *  `foreignKey`, another one. */
  tamperNextToken(change: {
    claims?: Record<string, unknown>;
    removeClaims?: string[];
    foreignKey?: boolean;
  }): Promise<void>;
  /** A fresh ID token under the provider's kid: iss = issuer, iat = now, exp = now + 600 unless `claims` say
   *  otherwise (`exp: null` leaves exp out; likewise iss and iat). Signed with the provider's key, or another one with
   *  `foreignKey`. */
  mintIdToken(claims: Record<string, unknown>, options?: { foreignKey?: boolean }): Promise<string>;
  stop(): Promise<void>;
}

// Not oidc-provider.mjs: jest resolves './helpers/oidc-provider' to a .mjs before the .ts.
const CHILD = join(__dirname, 'oidc-provider-process.mjs');

export async function startTestProvider(clients: FixtureClient[]): Promise<TestProvider> {
  const child = spawn(process.execPath, [CHILD], {
    env: { ...process.env, OIDC_FIXTURE_CONFIG: JSON.stringify({ clients, port: 0 }) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = new OutputLines(child);
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  let line: string | undefined;
  try {
    [line] = await output.waitFor(/^oidc-provider listening on /, { timeoutMs: 15_000, what: 'the OIDC provider' });
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  const issuer = line!.slice('oidc-provider listening on '.length).trim();

  async function control(method: 'GET' | 'POST', path: string, body?: unknown): Promise<any> {
    const res = await fetch(`${issuer}/__test/${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const answer = await res.json();
    if (!res.ok) throw new Error(`OIDC provider ${method} /__test/${path}: ${res.status} ${JSON.stringify(answer)}`);
    return answer;
  }

  return {
    issuer,
    async setAccount(account) {
      await control('POST', 'accounts', account);
    },
    authorize: (authorizationUrl, sub) => playBrowser(issuer, authorizationUrl, sub, 'consent'),
    deny: (authorizationUrl, sub) => playBrowser(issuer, authorizationUrl, sub, 'deny'),
    async tamperNextToken(change) {
      await control('POST', 'tamper', change);
    },
    async mintIdToken(claims, options = {}) {
      const { idToken } = await control('POST', 'id-token', { claims, foreignKey: options.foreignKey === true });
      return idToken as string;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await closed;
    },
  };
}

/** The browser's cookies for the provider, for one authorization: name → value (one host, paths ignored). */
class CookieJar {
  private readonly cookies = new Map<string, string>();

  store(res: Response): void {
    for (const setCookie of res.headers.getSetCookie()) {
      const [pair = '', ...attributes] = setCookie.split(';');
      const eq = pair.indexOf('=');
      if (eq < 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expires = attributes.map((a) => a.trim()).find((a) => /^expires=/i.test(a));
      const expired = expires !== undefined && Date.parse(expires.slice('expires='.length)) <= Date.now();
      if (expired || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  header(): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }
}

interface HtmlForm {
  action: string;
  method: string;
  fields: URLSearchParams;
}

function decodeHtml(text: string): string {
  return text
    .replace(/&#(\d+);/g, (_, code: string) => String.fromCodePoint(Number(code)))
    .replace(/&#x([0-9a-f]+);/gi, (_, code: string) => String.fromCodePoint(parseInt(code, 16)))
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

function attribute(tag: string, name: string): string | undefined {
  const match = new RegExp(`\\s${name}="([^"]*)"`, 'i').exec(tag);
  return match?.[1] === undefined ? undefined : decodeHtml(match[1]);
}

/** The forms of a page the provider rendered (its dev interactions, its form_post page): action and named inputs. */
function parseForms(html: string, base: string): HtmlForm[] {
  return [...html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)].map(([, tag = '', body = '']) => {
    const fields = new URLSearchParams();
    for (const [input = ''] of body.matchAll(/<input\b[^>]*>/gi)) {
      const name = attribute(input, 'name');
      if (name !== undefined) fields.append(name, attribute(input, 'value') ?? '');
    }
    return {
      action: new URL(attribute(tag, 'action') ?? base, base).href,
      method: (attribute(tag, 'method') ?? 'get').toUpperCase(),
      fields,
    };
  });
}

/**
 * Follows the provider's redirects and answers its forms like a browser would: sign in as `sub`, then at the consent
 * page either continue or (`deny`) abort. Stops at the first redirect out of the issuer, or at a form_post page.
 */
async function playBrowser(
  issuer: string,
  authorizationUrl: string,
  sub: string,
  atConsent: 'consent' | 'deny',
): Promise<ProviderRedirect> {
  const origin = new URL(issuer).origin;
  if (new URL(authorizationUrl).origin !== origin) throw new Error(`${authorizationUrl} is not at ${issuer}`);
  const jar = new CookieJar();
  let request: { url: string; method: 'GET' | 'POST'; form?: URLSearchParams } = {
    url: authorizationUrl,
    method: 'GET',
  };
  const trail: string[] = [];
  for (let step = 0; step < 20; step++) {
    // Out of the issuer: the relying party's redirect_uri, not followed.
    if (new URL(request.url).origin !== origin) return { method: 'GET', url: request.url };
    trail.push(`${request.method} ${request.url}`);
    const res = await fetch(request.url, {
      method: request.method,
      redirect: 'manual',
      headers: {
        cookie: jar.header(),
        ...(request.form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
      },
      body: request.form?.toString(),
    });
    jar.store(res);
    const location = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && location) {
      await res.body?.cancel();
      request = { url: new URL(location, request.url).href, method: 'GET' };
      continue;
    }
    const html = await res.text();
    const fail = (why: string): Error =>
      new Error(`OIDC provider: ${why} (${res.status}) after:\n${trail.join('\n')}\n${html.slice(0, 2000)}`);
    const [form] = parseForms(html, request.url);
    if (form && form.method === 'POST' && /<title>Submitting Callback<\/title>/.test(html)) {
      // response_mode=form_post: the page that would auto-submit the response to the relying party (400 for an error).
      return { method: 'POST', url: form.action, form: form.fields };
    }
    if (res.status !== 200) throw fail('unexpected answer');
    const prompt = form?.fields.get('prompt');
    if (!form || (prompt !== 'login' && prompt !== 'consent')) throw fail('a page this fixture does not know');
    if (prompt === 'login') {
      form.fields.set('login', sub);
      form.fields.set('password', 'any password');
      request = { url: form.action, method: 'POST', form: form.fields };
    } else if (atConsent === 'consent') {
      request = { url: form.action, method: 'POST', form: form.fields };
    } else {
      // The dev interactions' "[ Cancel ]" link: GET /interaction/:uid/abort, which ends in error=access_denied.
      const cancel = /<a href="([^"]*)">\[ Cancel \]<\/a>/.exec(html)?.[1];
      if (cancel === undefined) throw fail('no Cancel link on the consent page');
      request = { url: new URL(decodeHtml(cancel), request.url).href, method: 'GET' };
    }
  }
  throw new Error(`OIDC provider: too many steps:\n${trail.join('\n')}`);
}
