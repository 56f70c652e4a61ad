// The GraphQL server: the schema with its resolvers, the shield and the per-operation limits around it, and Apollo
// with the document limits, request log, metrics and error handling. No HTTP of its own (http-app.ts mounts it).
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { applyMiddleware } from 'graphql-middleware';
import type { Server } from 'node:http';
import type { Config } from '../config/config';
import type { Logger } from '../common/logger';
import type { GraphQLContext } from '../common/request-context';
import { permissions } from '../permissions/shield';
import { operationLimitRules } from '../rate-limit/operation-limits';
import type { LimitStore } from '../rate-limit/store';
import { formatError, internalErrors } from './format-error';
import { DOCUMENT_LIMITS, documentLimits } from './graphql-limits';
import type { Metrics } from './metrics';
import { requestLog } from './request-log';
import { buildTypeSchema } from './schema';
import type { Services } from './services';

export interface GraphQLServerParts {
  readonly config: Config;
  readonly services: Services;
  readonly limitStore: LimitStore;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** Drained on stop: the listener closes at once, in-flight requests get SHUTDOWN_TIMEOUT. */
  readonly httpServer: Server;
}

/** A started Apollo server. */
export async function createGraphQLServer(parts: GraphQLServerParts): Promise<ApolloServer<GraphQLContext>> {
  const { config, services, limitStore, metrics, logger, httpServer } = parts;
  const typeSchema = await buildTypeSchema(services);
  const schema = applyMiddleware(
    typeSchema,
    permissions(
      typeSchema,
      operationLimitRules(config.limits, limitStore, (limit) => metrics.rateLimited.inc({ limit })),
      {
        maxAge: config.mfa.stepUpMaxAge,
        nowMs: () => services.clock.now().getTime(),
        mfaEnabled: (ctx, userId) => services.mfa.isEnabled(ctx.em, userId),
      },
    ),
  );
  const armor = documentLimits(config.isProduction);
  const apollo = new ApolloServer<GraphQLContext>({
    schema,
    formatError,
    includeStacktraceInErrorResponses: false,
    allowBatchedHttpRequests: false,
    csrfPrevention: true,
    introspection: config.introspection,
    hideSchemaDetailsFromClientErrors: config.isProduction, // no "Did you mean …" in production
    stopOnTerminationSignals: false, // main.ts owns shutdown
    validationRules: armor.validationRules,
    parseOptions: { maxTokens: DOCUMENT_LIMITS.maxTokens },
    plugins: [
      ...armor.plugins,
      requestLog(logger),
      metrics.requestPlugin(), // request durations by root field: a fixed label set
      internalErrors(logger),
      // On stop: the listener closes at once; in-flight requests get SHUTDOWN_TIMEOUT, then their sockets are cut.
      ApolloServerPluginDrainHttpServer({ httpServer, stopGracePeriodMillis: config.shutdownTimeoutMs }),
      ApolloServerPluginLandingPageDisabled(), // its pages load from a CDN; ours is src/server/playground.ts
    ],
  });
  await apollo.start();
  return apollo;
}
