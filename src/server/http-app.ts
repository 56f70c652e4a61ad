// The HTTP application on Express for everything but POST /graphql (graphql-http.ts answers that without it):
// security headers, health, readiness and metrics, CORS and preflights, the playground, and GET queries (the
// per-IP limit, the body parser and a request id, then the GraphQL server).
import { expressMiddleware } from '@as-integrations/express5';
import cors from 'cors';
import express, { type ErrorRequestHandler, type Express } from 'express';
import helmet from 'helmet';
import { randomUUID } from 'node:crypto';
import { canonicalIp } from '../common/ip';
import { errorFields } from '../common/logger';
import type { GraphQLContext } from '../common/request-context';
import { ipRequestLimit } from '../rate-limit/ip-limit';
import { corsOptions } from './cors';
import { playground, playgroundRedirect } from './playground';
import { readiness } from './readiness';
import { oauthCallback } from './oauth-callback';
import { wellKnown } from './well-known';
import { introspection } from './introspection';
import type { KeyRing } from '../modules/signing-keys/key-ring';
import type { ApiKeyService } from '../modules/api-keys/api-key.service';
import { BODY_LIMIT_BYTES, helmetOptions, httpErrorBody, requestContext, type GraphQLHttpParts } from './graphql-http';

export type HttpAppParts = GraphQLHttpParts & {
  readonly keyRing: KeyRing;
  readonly apiKeys: ApiKeyService;
};

export function createHttpApp(parts: HttpAppParts): Express {
  const { config, apollo, orm, limitStore, metrics, logger, social } = parts;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false); // GraphQL answers are POST responses: an ETag would only cost a hash per response
  app.set('trust proxy', config.trustProxy);
  app.use(helmet(helmetOptions(config)));
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', readiness(orm, limitStore));
  app.get('/metrics', metrics.handler(config.metricsToken, config.isProduction)); // production: only with a token
  const ipLimit = ipRequestLimit(limitStore.ipStore, config.rateLimitPerMinute, () =>
    metrics.rateLimited.inc({ limit: 'ip-per-minute' }),
  );
  app.use(oauthCallback(social, () => orm.em.fork(), ipLimit, logger));
  app.use(wellKnown(config, parts.keyRing));
  app.use(
    introspection({
      authenticator: parts.authenticator,
      apiKeys: parts.apiKeys,
      audience: config.jwtAudience,
      em: () => orm.em.fork(),
      logger,
    }),
  );
  // CORS first: it answers every preflight, which the playground's GET route would otherwise answer itself.
  app.use('/graphql', cors(corsOptions(config.corsOrigins)));
  if (config.playground) app.use('/graphql', playground()); // a browser's GET; everything else falls through
  if (config.playground) app.get('/', playgroundRedirect('/graphql')); // a browser opening the bare host
  app.use(
    '/graphql',
    ipLimit,
    express.json({ limit: BODY_LIMIT_BYTES }),
    (req, res, next) => {
      const requestId = randomUUID();
      res.setHeader('X-Request-Id', requestId);
      res.locals.requestId = requestId;
      next();
    },
    expressMiddleware(apollo, {
      context: async ({ req, res }): Promise<GraphQLContext> =>
        requestContext(parts, req, res, res.locals.requestId as string, canonicalIp(req.ip)),
    }),
  );
  const onError: ErrorRequestHandler = (err: { status?: number; type?: string }, _req, res, _next) => {
    const status = typeof err.status === 'number' && err.status >= 400 && err.status < 500 ? err.status : 500;
    if (status === 500) logger.error('unexpected HTTP error', errorFields(err));
    res.status(status).json(httpErrorBody(status));
  };
  app.use(onError);
  return app;
}
