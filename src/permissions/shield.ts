// The permission layer: graphql-shield, deny by default. Each rule checks one thing.
import { allow, rule, shield } from 'graphql-shield';
import type { IMiddlewareGenerator } from 'graphql-middleware';
import { ForbiddenError } from '../common/errors';
import type { GraphQLContext } from '../server/context';

/** A valid access token of a live session. Returns (not throws) the error so shield passes it on. */
export const isAuthenticated = rule({ cache: 'contextual' })(async (_parent, _args, ctx: GraphQLContext) => {
  try {
    await ctx.auth();
    return true;
  } catch (err) {
    return err as Error;
  }
});

/** Operations anyone may call. */
export const PUBLIC_MUTATIONS = ['register', 'login', 'requestOtp', 'verifyOtp', 'resetPassword', 'refresh', 'logout'] as const;

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- graphql-shield's generator is typed loosely
export function permissions(): IMiddlewareGenerator<any, GraphQLContext, any> {
  return shield(
    {
      Query: {
        me: isAuthenticated,
        sessions: isAuthenticated,
      },
      Mutation: {
        ...Object.fromEntries(PUBLIC_MUTATIONS.map((name) => [name, allow])),
        logoutAll: isAuthenticated,
        changePassword: isAuthenticated,
        revokeSession: isAuthenticated,
      },
      User: allow,
      AuthPayload: allow,
      CodeSent: allow,
      Session: allow,
    },
    {
      fallbackRule: rule()(() => false),
      allowExternalErrors: true,
      fallbackError: new ForbiddenError([]),
    },
  );
}
