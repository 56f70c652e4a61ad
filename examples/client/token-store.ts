// Where the example client keeps the signed-in session's tokens. Swap in your own store (sessionStorage,
// secure storage on mobile) by implementing `TokenStore`.
import type { AuthTokensFragment } from './generated/graphql';

export interface Tokens {
  readonly accessToken: string;
  readonly refreshToken: string;
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

/** The tokens of a sign-in or refresh answer. */
export function tokensFrom(payload: AuthTokensFragment): Tokens {
  // The server leaves `refreshToken` null only when it sets it as an httpOnly cookie instead.
  if (payload.refreshToken === null) {
    throw new Error('The answer holds no refresh token (is the server in cookie mode?)');
  }
  return { accessToken: payload.accessToken, refreshToken: payload.refreshToken };
}
