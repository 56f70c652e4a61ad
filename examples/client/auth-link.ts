// Sends the current access token as `Authorization: Bearer …`, and notes which token each request
// carried so the refresh link can tell a stale failure from a fresh one.
import type { ApolloLink } from '@apollo/client';
import { SetContextLink } from '@apollo/client/link/context';
import type { TokenStore } from './token-store';

const SENT_WITH = 'portcullisAccessToken';

export function createAuthLink(tokens: TokenStore): ApolloLink {
  // Runs again on every retry, so a request retried after a refresh carries the new token.
  return new SetContextLink((prevContext) => {
    const accessToken = tokens.read()?.accessToken ?? null;
    const { authorization: _previous, ...headers } = (prevContext.headers ?? {}) as Record<string, string>;
    if (accessToken !== null) headers.authorization = `Bearer ${accessToken}`;
    return { headers, [SENT_WITH]: accessToken };
  });
}

/** The access token the auth link put on this operation's last attempt (null: sent signed out). */
export function accessTokenSentWith(operation: ApolloLink.Operation): string | null {
  const token: unknown = operation.getContext()[SENT_WITH];
  return typeof token === 'string' ? token : null;
}
