// An example Portcullis client: Apollo Client 4 that sends the bearer token, refreshes it transparently
// when the server answers UNAUTHENTICATED, and signs out when the session is over. In cookie mode the refresh
// token stays in the server's HttpOnly cookie and the client keeps only the access token. Second factors: a sign-in
// answering MFA_REQUIRED asks the app for one (onMfaRequired), an operation answering STEP_UP_REQUIRED asks the app to
// prove the user again (onStepUp) and is retried once.
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache } from '@apollo/client';
import { createAuthLink } from './auth-link';
import {
  CompleteSocialLinkDocument,
  CompleteSocialSignInDocument,
  FinishPasskeySignInDocument,
  LoginDocument,
  LogoutAllDocument,
  LogoutDocument,
  ReauthenticateDocument,
  RefreshDocument,
  SignInWithIdTokenDocument,
  StartPasskeyReauthenticationDocument,
  StartPasskeySignInDocument,
  StartSocialLinkDocument,
  StartSocialSignInDocument,
  VerifyMfaDocument,
  VerifyOtpDocument,
  type AuthTokensFragment,
  type CompleteSocialLinkMutation,
  type LoginMutationVariables,
  type SignInWithIdTokenMutationVariables,
  type VerifyOtpMutationVariables,
} from './generated/graphql';
import { proofVariables, withSecondFactor, type OnMfaRequired } from './mfa';
import { createRefreshLink, hasCode } from './refresh-link';
import { singleFlight } from './single-flight';
import { createStepUpLink, SKIP_STEP_UP, type OnStepUp, type StepUpRequired } from './step-up-link';
import {
  createPkcePair,
  defaultVerifierStorage,
  readRedirect,
  SocialSignInError,
  takeVerifier,
  VERIFIER_KEY,
  type VerifierStorage,
} from './social-sign-in';
import { memoryTokenStore, tokensFrom, withAccessToken, type Tokens, type TokenStore } from './token-store';

export interface PortcullisClientOptions {
  /** The GraphQL endpoint, e.g. `https://auth.example.com/graphql`. */
  uri: string;
  /** The fetch to use (default: the global one). */
  fetch?: typeof fetch;
  /**
   * Cookie mode, for browser apps against a server started with REFRESH_TOKEN_COOKIE=true (default false): every
   * request goes with `credentials: 'include'`, `refresh` and `logout` send no refresh token (the browser sends the
   * HttpOnly `portcullis_refresh` cookie), and the client holds only the access token. The page's origin must be in
   * the server's CORS_ORIGINS, on the same site as the API.
   */
  refreshTokenCookie?: boolean;
  /** Where tokens live (default: in memory). */
  tokens?: TokenStore;
  /** Called once when the server ends the session (revoked, logged out elsewhere, expired, disabled). */
  onSignedOut?: () => void;
  /**
   * Where social sign-in keeps its PKCE verifier while the browser is at the provider (default: `sessionStorage` in a
   * browser, else memory).
   */
  verifierStorage?: VerifierStorage;
  /**
   * A sign-in answered MFA_REQUIRED: ask the user for a second factor among `factors` and resolve to `{ code }`,
   * `{ recoveryCode }` or `{ passkey }` (run `passkeyChallenge.options` through @simplewebauthn/browser's
   * `startAuthentication`), or null to give up. Asked again, with `attempt` + 1, after a wrong one. Without it, sign-ins
   * of users with MFA on reject with MFA_REQUIRED.
   */
  onMfaRequired?: OnMfaRequired;
  /**
   * An operation answered STEP_UP_REQUIRED: prove the user again (`{ password }` for level 1, or a second factor;
   * `startPasskey()` begins a passkey ceremony), or null to decline. The operation is then retried once. Without it,
   * STEP_UP_REQUIRED reaches the caller.
   */
  onStepUp?: OnStepUp;
}

/** A passkey sign-in: `authenticate` runs the ceremony, e.g. `(options) => startAuthentication({ optionsJSON: options })`. */
export interface PasskeySignInOptions {
  /** Narrows the sign-in to this account's passkeys; omit for discoverable credentials (the browser offers them). */
  email?: string;
  authenticate: (options: unknown) => Promise<unknown>;
}

export interface StartSocialSignInOptions {
  /** An `identityProviders` id: `google`, or a configured OIDC_<NAME>_ISSUER's name in lower case. */
  provider: string;
  /** Where the browser comes back with `?code=…`: exactly one of the server's OAUTH_REDIRECT_URIS. */
  redirectUri: string;
  /** Overrides the client's `verifierStorage` for this sign-in (pass the same to completeSocialSignIn). */
  storage?: VerifierStorage;
}

/** The redirect URI as the browser opened it (`location.href`), or the `code` already read from it. */
export type CompleteSocialSignInOptions = ({ url: string | URL } | { code: string }) & { storage?: VerifierStorage };

/** The provider's account now linked to the signed-in user. */
export type LinkedIdentity = CompleteSocialLinkMutation['completeSocialLink'];

export interface PortcullisClient {
  /** Use it with the generated documents: `apollo.query({ query: MeDocument })`. */
  readonly apollo: ApolloClient;
  readonly tokens: TokenStore;
  /** Password sign-in; keeps the tokens and returns the payload. */
  login(variables: LoginMutationVariables): Promise<AuthTokensFragment>;
  /** Code sign-in (LOGIN or VERIFY_EMAIL); keeps the tokens and returns the payload. */
  verifyOtp(variables: VerifyOtpMutationVariables): Promise<AuthTokensFragment>;
  /** Native apps: sign-in with an ID token from the provider's SDK; keeps the tokens and returns the payload. */
  signInWithIdToken(variables: SignInWithIdTokenMutationVariables): Promise<AuthTokensFragment>;
  /** Passkey sign-in (startPasskeySignIn, the ceremony, finishPasskeySignIn); keeps the tokens, returns the payload. */
  signInWithPasskey(options: PasskeySignInOptions): Promise<AuthTokensFragment>;
  /**
   * What every sign-in helper goes through: runs `send` (a sign-in mutation answering an AuthPayload), finishes an
   * MFA_REQUIRED answer with `onMfaRequired` and verifyMfa, and keeps the tokens. For sign-in mutations of your own.
   */
  signIn(send: () => Promise<AuthTokensFragment>): Promise<AuthTokensFragment>;
  /**
   * Social sign-in, step 1: makes a PKCE pair, keeps the verifier, and answers the provider's authorization URL.
   * Send the browser there (`location.assign(url)`); it comes back to `redirectUri?code=…` (or `?error=…`).
   */
  startSocialSignIn(options: StartSocialSignInOptions): Promise<string>;
  /**
   * Step 2, on the redirect URI: takes the kept verifier (one attempt), exchanges the code (single use, 60 s), keeps
   * the tokens and returns the payload. `?error=…` rejects with a SocialSignInError carrying the error's code.
   */
  completeSocialSignIn(options: CompleteSocialSignInOptions): Promise<AuthTokensFragment>;
  /**
   * Linking, for a signed-in user: like startSocialSignIn, sent with the access token; the provider's account will be
   * linked to this user's.
   */
  startSocialLink(options: StartSocialSignInOptions): Promise<string>;
  /**
   * Step 2 of a link, like completeSocialSignIn: answers the linked identity and leaves the tokens as they are.
   * `?error=identity_conflict`: that provider account is already linked to another user.
   */
  completeSocialLink(options: CompleteSocialSignInOptions): Promise<LinkedIdentity>;
  /**
   * Cookie mode: signs back in from the refresh cookie (call it once on page load, where memory starts empty).
   * True when signed in; false when there is no cookie or its session is over.
   */
  resume(): Promise<boolean>;
  /**
   * Ends this session on the server (in cookie mode the cookie's, even when not signed in here), forgets the
   * tokens and clears the cache.
   */
  logout(): Promise<void>;
  /** Ends every session of the user, then forgets the tokens and clears the cache. */
  logoutAll(): Promise<void>;
}

/** For requests that carry their own credentials: no auth or refresh link, and no tokens in the cache. */
const DIRECT = { context: { portcullisDirect: true }, fetchPolicy: 'no-cache', errorPolicy: 'none' } as const;

/** The server refused the refresh token for good (not a network failure or RATE_LIMITED). */
function sessionEnded(error: unknown): boolean {
  return hasCode(error, 'UNAUTHENTICATED') || hasCode(error, 'ACCOUNT_DISABLED');
}

export function createPortcullisClient(options: PortcullisClientOptions): PortcullisClient {
  const cookieMode = options.refreshTokenCookie === true;
  const tokens = options.tokens ?? memoryTokenStore();
  const verifiers = options.verifierStorage ?? defaultVerifierStorage();
  // 'include': the browser stores the refresh cookie from, and sends it to, an API on another origin.
  const credentials = cookieMode ? { credentials: 'include' } : {};
  const http = new HttpLink({ uri: options.uri, fetch: options.fetch, ...credentials });
  /** Refresh and logout send the held refresh token; in cookie mode none, so the server reads the cookie. */
  const refreshTokenOf = (held: Tokens) => (cookieMode ? {} : { refreshToken: held.refreshToken });

  const signOut = (): void => {
    if (tokens.read() === null) return; // already signed out: notify once
    tokens.write(null);
    options.onSignedOut?.();
  };

  const refresh = singleFlight(async (): Promise<boolean> => {
    const used = tokens.read();
    if (used === null) return false;
    try {
      const { data } = await apollo.mutate({
        mutation: RefreshDocument,
        variables: refreshTokenOf(used),
        ...DIRECT,
      });
      // Signed out (or in again) while the refresh was under way: keep what is there now.
      if (tokens.read() !== used) return tokens.read() !== null;
      tokens.write(tokensFrom(data.refresh, cookieMode));
      return true;
    } catch (error) {
      // The server refused the refresh token: the session is over. A network failure or RATE_LIMITED
      // keeps the tokens, and the request fails with its own error.
      if (sessionEnded(error) && tokens.read() === used) signOut();
      return false;
    }
  });

  // After a page load only the cookie is left: one refresh without an argument gets an access token again.
  const resume = singleFlight(async (): Promise<boolean> => {
    if (!cookieMode) {
      throw new Error('resume() is for cookie mode (refreshTokenCookie: true); in token mode the TokenStore keeps it');
    }
    if (tokens.read() !== null) return true;
    try {
      const { data } = await apollo.mutate({ mutation: RefreshDocument, variables: {}, ...DIRECT });
      if (tokens.read() === null) tokens.write(tokensFrom(data.refresh, true)); // else signed in meanwhile
      return true;
    } catch (error) {
      if (sessionEnded(error)) return false; // no cookie, or its session is over (and the server cleared it)
      throw error; // a network failure or RATE_LIMITED says nothing about the session
    }
  });

  /** Signed-in requests that need no step-up link: the step-up's own (reauthenticate, its passkey ceremony). */
  const STEP_UP_OWN = { context: { [SKIP_STEP_UP]: true }, fetchPolicy: 'no-cache', errorPolicy: 'none' } as const;

  // Asks the app, reauthenticates and keeps the new access token (the refresh token stays). One at a time: requests
  // refused while a step-up is under way wait for it and retry, instead of asking the user again.
  const stepUp = singleFlight(async ({ level, maxAge }: StepUpRequired): Promise<boolean> => {
    if (options.onStepUp === undefined) return false;
    const startPasskey = async () => {
      const { data } = await apollo.mutate({ mutation: StartPasskeyReauthenticationDocument, ...STEP_UP_OWN });
      return data.startPasskeyReauthentication;
    };
    const proof = await options.onStepUp({ level, maxAge, startPasskey });
    if (proof === null) return false;
    const { data } = await apollo.mutate({
      mutation: ReauthenticateDocument,
      variables: proofVariables(proof),
      ...STEP_UP_OWN,
    });
    const held = tokens.read();
    if (held === null) return false; // signed out meanwhile
    tokens.write(withAccessToken(held, data.reauthenticate)); // refreshToken null in the answer: keep the held one
    return true;
  });

  const signedIn = ApolloLink.from([
    // Outside the refresh link: a step-up retry whose access token expired meanwhile is refreshed there.
    createStepUpLink({ stepUp }),
    createRefreshLink({ currentAccessToken: () => tokens.read()?.accessToken ?? null, refresh, signOut }),
    createAuthLink(tokens),
    http,
  ]);
  const apollo: ApolloClient = new ApolloClient({
    link: ApolloLink.split((operation) => operation.getContext().portcullisDirect === true, http, signedIn),
    cache: new InMemoryCache(),
  });

  const keep = (payload: AuthTokensFragment): AuthTokensFragment => {
    tokens.write(tokensFrom(payload, cookieMode));
    return payload;
  };

  /** Every sign-in: a user with MFA on gets MFA_REQUIRED first, finished by verifyMfa with the app's second factor. */
  const signIn = async (send: () => Promise<AuthTokensFragment>): Promise<AuthTokensFragment> =>
    keep(
      await withSecondFactor(send, options.onMfaRequired, async (ticket, proof) => {
        const variables = { ticket, ...proofVariables(proof) };
        const { data } = await apollo.mutate({ mutation: VerifyMfaDocument, variables, ...DIRECT });
        return data.verifyMfa;
      }),
    );

  /** Step 1 of a redirect flow (sign-in or link): a fresh PKCE pair; `send` starts it with the challenge. */
  const startFlow = async (storage: VerifierStorage, send: (codeChallenge: string) => Promise<string>) => {
    const { verifier, challenge } = await createPkcePair();
    const authorizationUrl = await send(challenge);
    storage.setItem(VERIFIER_KEY, verifier); // replaces the verifier of a flow started before and not finished
    return authorizationUrl;
  };

  /** Step 2's inputs: the code (a SocialSignInError for `?error=…`) and the kept verifier, taken out (one attempt). */
  const codeAndVerifier = (from: CompleteSocialSignInOptions): { code: string; codeVerifier: string } => {
    const storage = from.storage ?? verifiers;
    let code: string;
    if ('code' in from) {
      code = from.code;
    } else {
      const answer = readRedirect(from.url);
      if (answer instanceof SocialSignInError) {
        storage.removeItem(VERIFIER_KEY); // this flow is over
        throw answer;
      }
      if (answer === null) throw new Error(`${String(from.url)} has no code or error: not a social sign-in's return`);
      code = answer.code;
    }
    return { code, codeVerifier: takeVerifier(storage) };
  };

  return {
    apollo,
    tokens,
    login: (variables) =>
      signIn(async () => {
        const { data } = await apollo.mutate({ mutation: LoginDocument, variables, ...DIRECT });
        return data.login;
      }),
    verifyOtp: (variables) =>
      signIn(async () => {
        const { data } = await apollo.mutate({ mutation: VerifyOtpDocument, variables, ...DIRECT });
        return data.verifyOtp;
      }),
    signInWithIdToken: (variables) =>
      signIn(async () => {
        const { data } = await apollo.mutate({ mutation: SignInWithIdTokenDocument, variables, ...DIRECT });
        return data.signInWithIdToken;
      }),
    signInWithPasskey: ({ email, authenticate }) =>
      signIn(async () => {
        const started = await apollo.mutate({ mutation: StartPasskeySignInDocument, variables: { email }, ...DIRECT });
        const { challengeId, options: passkeyOptions } = started.data.startPasskeySignIn;
        const response = await authenticate(passkeyOptions);
        const { data } = await apollo.mutate({
          mutation: FinishPasskeySignInDocument,
          variables: { challengeId, response },
          ...DIRECT,
        });
        return data.finishPasskeySignIn;
      }),
    signIn,
    startSocialSignIn: ({ provider, redirectUri, storage = verifiers }) =>
      startFlow(storage, async (codeChallenge) => {
        const { data } = await apollo.mutate({
          mutation: StartSocialSignInDocument,
          variables: { provider, redirectUri, codeChallenge },
          ...DIRECT,
        });
        return data.startSocialSignIn.authorizationUrl;
      }),
    completeSocialSignIn: (from) =>
      signIn(async () => {
        const { data } = await apollo.mutate({
          mutation: CompleteSocialSignInDocument,
          variables: codeAndVerifier(from),
          ...DIRECT,
        });
        return data.completeSocialSignIn;
      }),
    // Through the auth and refresh links, like any signed-in request.
    startSocialLink: ({ provider, redirectUri, storage = verifiers }) =>
      startFlow(storage, async (codeChallenge) => {
        const { data } = await apollo.mutate({
          mutation: StartSocialLinkDocument,
          variables: { provider, redirectUri, codeChallenge },
          errorPolicy: 'none',
        });
        return data.startSocialLink.authorizationUrl;
      }),
    async completeSocialLink(from) {
      const { data } = await apollo.mutate({
        mutation: CompleteSocialLinkDocument,
        variables: codeAndVerifier(from),
        errorPolicy: 'none',
      });
      return data.completeSocialLink;
    },
    resume,
    async logout() {
      const current = tokens.read();
      tokens.write(null); // forget first, so no request goes out with tokens being revoked
      try {
        if (cookieMode) {
          // Sent even when signed out here: the cookie outlives a page load, and only the server can clear it.
          await apollo.mutate({ mutation: LogoutDocument, variables: {}, ...DIRECT }).catch((error: unknown) => {
            if (!hasCode(error, 'UNAUTHENTICATED')) throw error; // else the cookie held no live session: done
          });
        } else if (current !== null) {
          await apollo.mutate({ mutation: LogoutDocument, variables: refreshTokenOf(current), ...DIRECT });
        }
      } finally {
        await apollo.clearStore();
      }
    },
    async logoutAll() {
      await apollo.mutate({ mutation: LogoutAllDocument });
      tokens.write(null);
      await apollo.clearStore();
    },
  };
}
