// Where the example client keeps the signed-in session's tokens. Swap in your own store (sessionStorage,
// secure storage on mobile) by implementing `TokenStore`.
import type { AuthTokensFragment } from './generated/graphql';

export interface Tokens {
  readonly accessToken: string;
  /** Null in cookie mode: the refresh token is then in an HttpOnly cookie, out of the script's reach. */
  readonly refreshToken: string | null;
}

export interface TokenStore {
  /** The current tokens, or null when signed out. */
  read(): Tokens | null;
  /** Replaces the tokens; null signs out. */
  write(tokens: Tokens | null): void;
}

export function memoryTokenStore(initial: Tokens | null = null): TokenStore {
  let tokens = initial;
  return {
    read: () => tokens,
    write: (next) => {
      tokens = next;
    },
  };
}

/** The tokens of a sign-in or refresh answer; `cookieMode` says where the refresh token must be. */
export function tokensFrom(payload: AuthTokensFragment, cookieMode = false): Tokens {
  // The server leaves `refreshToken` null exactly when REFRESH_TOKEN_COOKIE=true sets it as a cookie instead.
  if (cookieMode && payload.refreshToken !== null) {
    throw new Error(
      'The answer holds a refresh token, so the server set no cookie: start it with REFRESH_TOKEN_COOKIE=true, ' +
        'or create the client without refreshTokenCookie',
    );
  }
  if (!cookieMode && payload.refreshToken === null) {
    throw new Error(
      'The answer holds no refresh token: the server is in cookie mode (REFRESH_TOKEN_COOKIE=true); ' +
        'create the client with refreshTokenCookie: true',
    );
  }
  return { accessToken: payload.accessToken, refreshToken: payload.refreshToken };
}

/**
 * The held tokens with the new access token of a reauthenticate (step-up) answer. Its `refreshToken` is null: the
 * session stays the same, so the held refresh token stays too (and refreshing it now carries the new assurance).
 */
export function withAccessToken(held: Tokens, payload: AuthTokensFragment): Tokens {
  return { accessToken: payload.accessToken, refreshToken: payload.refreshToken ?? held.refreshToken };
}
