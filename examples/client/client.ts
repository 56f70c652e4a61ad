// An example Portcullis client: Apollo Client 4 that sends the bearer token, refreshes it transparently
// when the server answers UNAUTHENTICATED, and signs out when the session is over.
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache } from '@apollo/client';
import { createAuthLink } from './auth-link';
import {
  LoginDocument,
  LogoutAllDocument,
  LogoutDocument,
  RefreshDocument,
  VerifyOtpDocument,
  type AuthTokensFragment,
  type LoginMutationVariables,
  type VerifyOtpMutationVariables,
} from './generated/graphql';
import { createRefreshLink, hasCode } from './refresh-link';
import { singleFlight } from './single-flight';
import { memoryTokenStore, tokensFrom, type TokenStore } from './token-store';

export interface PortcullisClientOptions {
  /** The GraphQL endpoint, e.g. `https://auth.example.com/graphql`. */
  uri: string;
  /** The fetch to use (default: the global one). */
  fetch?: typeof fetch;
  /** Where tokens live (default: in memory). */
  tokens?: TokenStore;
  /** Called once when the server ends the session (revoked, logged out elsewhere, expired, disabled). */
  onSignedOut?: () => void;
}

export interface PortcullisClient {
  /** Use it with the generated documents: `apollo.query({ query: MeDocument })`. */
  readonly apollo: ApolloClient;
  readonly tokens: TokenStore;
  /** Password sign-in; keeps the tokens and returns the payload. */
  login(variables: LoginMutationVariables): Promise<AuthTokensFragment>;
  /** Code sign-in (LOGIN or VERIFY_EMAIL); keeps the tokens and returns the payload. */
  verifyOtp(variables: VerifyOtpMutationVariables): Promise<AuthTokensFragment>;
  /** Ends this session on the server, forgets the tokens and clears the cache. */
  logout(): Promise<void>;
  /** Ends every session of the user, then forgets the tokens and clears the cache. */
  logoutAll(): Promise<void>;
}

/** For requests that carry their own credentials: no auth or refresh link, and no tokens in the cache. */
const DIRECT = { context: { portcullisDirect: true }, fetchPolicy: 'no-cache', errorPolicy: 'none' } as const;

export function createPortcullisClient(options: PortcullisClientOptions): PortcullisClient {
  const tokens = options.tokens ?? memoryTokenStore();
  const http = new HttpLink({ uri: options.uri, fetch: options.fetch });

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
        variables: { refreshToken: used.refreshToken },
        ...DIRECT,
      });
      // Signed out (or in again) while the refresh was under way: keep what is there now.
      if (tokens.read() !== used) return tokens.read() !== null;
      tokens.write(tokensFrom(data.refresh));
      return true;
    } catch (error) {
      // The server refused the refresh token: the session is over. A network failure or RATE_LIMITED
      // keeps the tokens, and the request fails with its own error.
      const ended = hasCode(error, 'UNAUTHENTICATED') || hasCode(error, 'ACCOUNT_DISABLED');
      if (ended && tokens.read() === used) signOut();
      return false;
    }
  });

  const signedIn = ApolloLink.from([
    createRefreshLink({ currentAccessToken: () => tokens.read()?.accessToken ?? null, refresh, signOut }),
    createAuthLink(tokens),
    http,
  ]);
  const apollo: ApolloClient = new ApolloClient({
    link: ApolloLink.split((operation) => operation.getContext().portcullisDirect === true, http, signedIn),
    cache: new InMemoryCache(),
  });

  const keep = (payload: AuthTokensFragment): AuthTokensFragment => {
    tokens.write(tokensFrom(payload));
    return payload;
  };

  return {
    apollo,
    tokens,
    async login(variables) {
      const { data } = await apollo.mutate({ mutation: LoginDocument, variables, ...DIRECT });
      return keep(data.login);
    },
    async verifyOtp(variables) {
      const { data } = await apollo.mutate({ mutation: VerifyOtpDocument, variables, ...DIRECT });
      return keep(data.verifyOtp);
    },
    async logout() {
      const current = tokens.read();
      tokens.write(null); // forget first, so no request goes out with tokens being revoked
      try {
        if (current !== null) {
          const variables = { refreshToken: current.refreshToken };
          await apollo.mutate({ mutation: LogoutDocument, variables, ...DIRECT });
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
