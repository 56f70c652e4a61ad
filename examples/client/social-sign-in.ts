// Sign in with Google or another OpenID provider: the app's side of the redirect flow. Before sending the browser to
// the provider the app makes a PKCE pair and keeps the verifier; back on its redirect URI with `?code=…` it sends the
// code with that verifier. WebCrypto only, so it runs in browsers and in Node 20+ alike.

/** Where the verifier waits while the browser is at the provider: `sessionStorage` fits (the same tab comes back). */
export interface VerifierStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/** The key the verifier is kept under. One sign-in or link at a time per storage: starting another replaces it. */
export const VERIFIER_KEY = 'portcullis.socialSignIn.verifier';

export function memoryVerifierStorage(): VerifierStorage {
  const items = new Map<string, string>();
  return {
    getItem: (key) => items.get(key) ?? null,
    setItem: (key, value) => void items.set(key, value),
    removeItem: (key) => void items.delete(key),
  };
}

/** The page's `sessionStorage` in a browser (it survives the trip to the provider); elsewhere, memory. */
export function defaultVerifierStorage(): VerifierStorage {
  try {
    const session = (globalThis as { sessionStorage?: VerifierStorage }).sessionStorage;
    if (session !== undefined) return session;
  } catch {
    // Storage blocked (a sandboxed frame, storage disabled): reading sessionStorage throws a SecurityError.
  }
  return memoryVerifierStorage();
}

function base64url(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export interface PkcePair {
  /** 43 characters of base64url (32 random bytes): kept by the app, sent only to complete. */
  readonly verifier: string;
  /** base64url(SHA-256(verifier)): sent to start. */
  readonly challenge: string;
}

/** A fresh PKCE pair (RFC 7636, S256). */
export async function createPkcePair(): Promise<PkcePair> {
  const verifier = base64url(crypto.getRandomValues(new Uint8Array(32)));
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier));
  return { verifier, challenge: base64url(new Uint8Array(digest)) };
}

/** The provider or Portcullis sent the browser back with `?error=…` instead of a code. */
export class SocialSignInError extends Error {
  override readonly name = 'SocialSignInError';

  /**
   * `access_denied` (the user cancelled at the provider, or the account is not allowed), `invalid_request` (the
   * flow expired or a check failed: start again), `server_error` (the provider could not be reached),
   * `identity_conflict` (an account has that email but the provider does not vouch for it: sign in to it and link;
   * for a link, that provider account is already linked to another user).
   */
  constructor(readonly code: string) {
    super(`Social sign-in failed: ${code}`);
  }
}

/**
 * What the redirect URI was opened with: `{ code }`, or a SocialSignInError for `?error=…`; null when the URL has
 * neither (the page was opened some other way).
 */
export function readRedirect(url: string | URL): { code: string } | SocialSignInError | null {
  const params = new URL(url).searchParams;
  const error = params.get('error');
  if (error !== null) return new SocialSignInError(error);
  const code = params.get('code');
  return code === null ? null : { code };
}

/** Takes the kept verifier out of `storage` (it is good for one attempt only); throws when there is none. */
export function takeVerifier(storage: VerifierStorage): string {
  const verifier = storage.getItem(VERIFIER_KEY);
  storage.removeItem(VERIFIER_KEY);
  if (verifier === null) {
    throw new Error(
      'No social sign-in was started here: no PKCE verifier is kept (call startSocialSignIn or startSocialLink with ' +
        'the same storage, in the same browser tab)',
    );
  }
  return verifier;
}
