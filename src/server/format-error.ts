// What leaves the server when something fails: contract codes as thrown, Apollo's own request errors as
// they are, and for anything else a generic INTERNAL_SERVER_ERROR carrying the request id of the log line.
import { unwrapResolverError } from '@apollo/server/errors';
import type { GraphQLFormattedError } from 'graphql';
import { ErrorCode, PortcullisError } from '../common/errors';
import { errorFields, type Logger } from '../common/logger';
import { currentRequestId } from '../common/request-context';

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

export function createFormatError(logger: Logger) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const original = unwrapResolverError(error);
    const { locations, path } = formatted;
    if (original instanceof PortcullisError) {
      return { message: original.message, locations, path, extensions: { ...original.extensions } };
    }
    const code = formatted.extensions?.code;
    // Request-level errors have no path; a field error that is not ours is unexpected.
    if (path === undefined && typeof code === 'string' && REQUEST_ERROR_CODES.has(code)) {
      const { stacktrace: _omit, ...extensions } = formatted.extensions ?? {};
      return { ...formatted, extensions };
    }
    const requestId = currentRequestId();
    logger.error('unexpected error', { requestId, path, ...errorFields(original) });
    return {
      message: 'Internal server error',
      locations,
      path,
      extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR, requestId },
    };
  };
}
