// One log line per GraphQL request: request id, operation, duration, outcome, user id when known, client
// IP. Slow operations (over 2 s) are logged as warnings. Variables are never logged: they carry secrets.
import type { ApolloServerPlugin } from '@apollo/server';
import type { Logger } from '../common/logger';
import type { GraphQLContext } from '../common/request-context';

export const SLOW_REQUEST_MS = 2000;

export function requestLog(logger: Logger): ApolloServerPlugin<GraphQLContext> {
  return {
    async requestDidStart({ contextValue }) {
      const started = process.hrtime.bigint();
      return {
        async willSendResponse({ response, errors, operationName, operation }) {
          const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
          const codes = [
            ...new Set(
              (errors ?? []).map((e) =>
                typeof e.extensions?.code === 'string' ? e.extensions.code : 'INTERNAL_SERVER_ERROR',
              ),
            ),
          ];
          const fields = {
            requestId: contextValue.requestId,
            operation: operationName ?? operation?.operation ?? null,
            durationMs: Math.round(durationMs * 10) / 10,
            status: response.http.status ?? 200,
            errors: codes.length > 0 ? codes : undefined,
            userId: contextValue.userId(),
            ip: contextValue.client.ip,
          };
          if (durationMs > SLOW_REQUEST_MS) logger.warn('slow graphql request', fields);
          else logger.info('graphql request', fields);
        },
      };
    },
  };
}
