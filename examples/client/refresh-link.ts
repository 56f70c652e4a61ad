// On UNAUTHENTICATED: renew the tokens (one refresh shared by every request failing at the same time),
// then retry the request once with the new access token. A retry that fails again signs out, never loops.
import { CombinedGraphQLErrors, type ApolloLink } from '@apollo/client';
import { ErrorLink } from '@apollo/client/link/error';
import { from, of, switchMap, tap, throwError, type Observable } from 'rxjs';
import { accessTokenSentWith } from './auth-link';

export interface RefreshLinkOptions {
  /** The access token held now, or null when signed out. */
  currentAccessToken(): string | null;
  /** Renews the tokens, single-flight; false when they could not be renewed. */
  refresh(): Promise<boolean>;
  /** Ends the local session: the server refused even a freshly refreshed token. */
  signOut(): void;
}

export function createRefreshLink(options: RefreshLinkOptions): ApolloLink {
  return new ErrorLink(({ error, result, operation, forward }) => {
    if (!hasCode(error, 'UNAUTHENTICATED')) return undefined;
    const sentWith = accessTokenSentWith(operation);
    if (sentWith === null) return undefined; // sent signed out: there is nothing to refresh
    // What the caller would have got without this link: the server's answer, or the network error.
    const original: Observable<ApolloLink.Result> = result ? of(result) : throwError(() => error);
    return from(renewedSince(sentWith, options)).pipe(
      switchMap((renewed) => {
        if (!renewed) return original;
        // Back through the auth link, which sends the new token. ErrorLink hands the retry's answer
        // straight to the caller, never to this handler again, so a second refusal cannot loop.
        return forward(operation).pipe(
          tap((retried) => {
            if ('errors' in retried && retried.errors?.some((e) => e.extensions?.code === 'UNAUTHENTICATED')) {
              options.signOut(); // refused even with fresh tokens: the session is over
            }
          }),
        );
      }),
    );
  });
}

/** True once the tokens differ from those the request was sent with (refreshing only if needed). */
async function renewedSince(sentWith: string, options: RefreshLinkOptions): Promise<boolean> {
  const current = options.currentAccessToken();
  // Another request already refreshed while this one was on its way: just retry with the new token.
  if (current !== sentWith) return current !== null;
  return options.refresh();
}

/** Whether a GraphQL error in `error` carries `extensions.code === code`. */
export function hasCode(error: unknown, code: string): boolean {
  return CombinedGraphQLErrors.is(error) && error.errors.some((e) => e.extensions?.code === code);
}
