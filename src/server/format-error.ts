// What leaves the server when something fails: contract codes as thrown, Apollo's own request errors as
// they are, and for anything else a generic INTERNAL_SERVER_ERROR carrying the request id of the log line.
// formatError cannot see the request, so the plugin below logs unexpected errors and adds the request id.
import type { ApolloServerPlugin } from '@apollo/server';
import { ApolloServerErrorCode, unwrapResolverError } from '@apollo/server/errors';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { ErrorCode, PortcullisError } from '../common/errors';
import { errorFields, type Logger } from '../common/logger';
import type { GraphQLContext } from '../common/request-context';

// Apollo's codes for problems with the request itself; their messages carry no server internals.
const REQUEST_ERROR_CODES = new Set([
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_USER_INPUT',
  'BAD_REQUEST',
  'OPERATION_RESOLUTION_FAILURE',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
]);

/** Request-level errors have no path; a field error that is not ours is unexpected. */
function isRequestError(path: unknown, code: unknown): boolean {
  return path === undefined && typeof code === 'string' && REQUEST_ERROR_CODES.has(code);
}

/**
 * Apollo's own refusals of a malformed request that carry an HTTP 4xx but no code (an unsupported persisted-query
 * version, a hash that does not match the query): the client's mistake, so BAD_REQUEST.
 */
function isUncodedBadRequest(error: unknown): error is GraphQLError {
  if (!(error instanceof GraphQLError) || error.path !== undefined || error.extensions.code !== undefined) return false;
  const status = (error.extensions.http as { status?: unknown } | undefined)?.status;
  return typeof status === 'number' && status >= 400 && status < 500;
}

export function formatError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  const original = unwrapResolverError(error);
  const { locations, path } = formatted;
  if (original instanceof PortcullisError) {
    return { message: original.message, locations, path, extensions: { ...original.extensions } };
  }
  if (isUncodedBadRequest(original)) {
    return { message: original.message, extensions: { code: ApolloServerErrorCode.BAD_REQUEST } };
  }
  if (isRequestError(path, formatted.extensions?.code)) {
    const { stacktrace: _omit, ...extensions } = formatted.extensions ?? {};
    return { ...formatted, extensions };
  }
  return { message: 'Internal server error', locations, path, extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR } };
}

/** Logs each unexpected error with its cause under the request id, and puts that id in the answer. */
export function internalErrors(logger: Logger): ApolloServerPlugin<GraphQLContext> {
  const unexpected = (e: GraphQLError): boolean =>
    !(unwrapResolverError(e) instanceof PortcullisError) &&
    !isRequestError(e.path, e.extensions?.code) &&
    !isUncodedBadRequest(e);
  return {
    async requestDidStart({ contextValue }) {
      return {
        async didEncounterErrors({ errors }) {
          for (const e of errors.filter(unexpected)) {
            logger.error('unexpected error', {
              requestId: contextValue.requestId,
              path: e.path,
              ...errorFields(unwrapResolverError(e)),
            });
          }
        },
        async willSendResponse({ response }) {
          if (response.body.kind !== 'single') return;
          for (const e of response.body.singleResult.errors ?? []) {
            if (e.extensions?.code === ErrorCode.INTERNAL_SERVER_ERROR) {
              (e.extensions as Record<string, unknown>).requestId = contextValue.requestId;
            }
          }
        },
      };
    },
  };
}
