// Assembles schema + shield + Apollo + Express and the background mail sender. Does not listen by itself.
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { expressMiddleware } from '@as-integrations/express5';
import type { MikroORM } from '@mikro-orm/postgresql';
import cors from 'cors';
import helmet from 'helmet';
import express, { type ErrorRequestHandler, type Express } from 'express';
import { applyMiddleware } from 'graphql-middleware';
import { randomUUID } from 'node:crypto';
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from '../config/config';
import { systemClock, type Clock } from '../common/clock';
import { canonicalIp } from '../common/ip';
import { deriveKeys } from '../common/keys';
import { createLogger, errorFields, type Logger } from '../common/logger';
import { ChangeFeed } from '../database/change-feed';
import { openDatabase, type Database } from '../database/database';
import { ENTITIES } from '../modules/entities';
import { DEFAULT_HOUSEKEEPING, Housekeeping } from '../database/housekeeping';
import { AuthResolver } from '../modules/auth/auth.resolver';
import { SessionResolver } from '../modules/sessions/session.resolver';
import { LogMailer, SmtpMailer, type Mailer } from '../modules/mail/mailer';
import { DEFAULT_OUTBOX_SETTINGS, OutboxSender, type OutboxSenderSettings } from '../modules/mail/outbox-sender';
import { AuditResolver } from '../modules/audit/audit.resolver';
import { UserAdminResolver } from '../modules/admin/user-admin.resolver';
import { UserResolver } from '../modules/users/user.resolver';
import { permissions } from '../permissions/shield';
import { ipRequestLimit } from '../rate-limit/ip-limit';
import { operationLimitRules } from '../rate-limit/operation-limits';
import { createLimitStore, type LimitStore } from '../rate-limit/store';
import { DOCUMENT_LIMITS, documentLimits } from './graphql-limits';
import { playground, playgroundRedirect } from './playground';
import { readiness } from './readiness';
import { Metrics } from './metrics';
import { requestLog } from './request-log';
import { RequestContext } from './context';
import { corsOptions } from './cors';
import { formatError, internalErrors } from './format-error';
import { refreshCookie, refreshCookieParser } from './refresh-cookie';
import { buildTypeSchema } from './schema';
import { createServices } from './services';
import type { GraphQLContext } from '../common/request-context';

export interface ServerOptions {
  /** Fixed or movable time for tests; the system clock otherwise. */
  readonly clock?: Clock;
  readonly logger?: Logger;
  readonly outbox?: Partial<OutboxSenderSettings>;
}

export interface PortcullisServer {
  readonly app: Express;
  readonly httpServer: Server;
  readonly orm: MikroORM;
  readonly housekeeping: Housekeeping;
  /** The request limits' counters (Redis or memory). */
  readonly limits: LimitStore;
  /** Starts listening (on `host`, default HOST); resolves with the bound port (pass 0 for any free port). */
  listen(port?: number, host?: string): Promise<number>;
  /** Stops accepting, finishes in-flight requests and the mail being sent, closes the database. */
  stop(): Promise<void>;
}

const BODY_LIMIT = '100kb';

function bearerToken(header: string | undefined): string | null {
  if (header === undefined) return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match ? match[1]! : ''; // present but malformed: authentication will fail, not be skipped
}

export async function createServer(config: Config, options: ServerOptions = {}): Promise<PortcullisServer> {
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? createLogger(config.logLevel);
  const keys = deriveKeys(config.jwtSecret);
  const db: Database = await openDatabase(config, ENTITIES, logger);
  const { orm } = db;
  const metrics = new Metrics(orm);
  const limitStore = await createLimitStore(config.redisUrl, logger);
  const services = createServices(
    config,
    keys,
    clock,
    (entry) => metrics.onAudit(entry),
    (email) => limitStore.resetEmail(email), // unlockUser clears the request limits' counters of the account too
  );
  // Sessions are cached only where every change reaches this instance: on a real PostgreSQL, through
  // NOTIFY. On PGlite (one process's database) the cache stays off.
  const { sessionCache } = services;
  metrics.watchSessionCache(sessionCache);
  const changeFeed = !db.notifications
    ? null
    : new ChangeFeed(
        db.url,
        async (channel, payload) => {
          await orm.em.getConnection().execute('select pg_notify(?, ?)', [channel, payload]);
        },
        {
          session: (id) => sessionCache.evictSession(id),
          user: (id) => sessionCache.evictUser(id),
          up: () => sessionCache.enable(),
          down: () => sessionCache.disable(),
        },
        logger,
      );

  const resolvers = new Map<unknown, unknown>([
    [AuthResolver, new AuthResolver(services.auth)],
    [SessionResolver, new SessionResolver(services.sessions)],
    [UserResolver, new UserResolver()],
    [UserAdminResolver, new UserAdminResolver(services.userAdmin)],
    [AuditResolver, new AuditResolver(services.audit)],
  ]);
  const typeSchema = await buildTypeSchema({ get: (cls: unknown) => resolvers.get(cls) });
  const schema = applyMiddleware(
    typeSchema,
    permissions(
      typeSchema,
      operationLimitRules(config.limits, limitStore, (limit) => metrics.rateLimited.inc({ limit })),
    ),
  );

  const app = express();
  // A client gets REQUEST_TIMEOUT to send its whole request (slow-loris bodies are cut off with 408).
  const httpServer = createHttpServer(
    { requestTimeout: config.requestTimeoutMs, connectionsCheckingInterval: Math.min(1000, config.requestTimeoutMs) },
    app,
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

  const mailer: Mailer = config.smtpUrl ? new SmtpMailer(config.smtpUrl, config.mailFrom) : new LogMailer(logger);
  const sender = new OutboxSender(
    orm,
    mailer,
    keys.outbox,
    logger,
    { ...DEFAULT_OUTBOX_SETTINGS, ...options.outbox },
    metrics.outboxHooks,
  );
  services.outbox.onCommitted(() => sender.kick());
  const housekeeping = new Housekeeping(orm, clock, logger, {
    ...DEFAULT_HOUSEKEEPING,
    retentionSeconds: config.retentionDays * 86_400,
  });

  app.disable('x-powered-by');
  app.set('etag', false); // GraphQL answers are POST responses: an ETag would only cost a hash per response
  app.set('trust proxy', config.trustProxy);
  app.use(
    helmet({
      // helmet's default CSP everywhere; the playground page sets a stricter one of its own.
      crossOriginEmbedderPolicy: false,
      strictTransportSecurity: config.isProduction,
    }),
  );
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', readiness(orm, limitStore));
  app.get('/metrics', metrics.handler(config.metricsToken, config.isProduction)); // production: only with a token
  // CORS first: it answers every preflight, which the playground's GET route would otherwise answer itself.
  app.use('/graphql', cors(corsOptions(config.corsOrigins)));
  if (config.playground) app.use('/graphql', playground()); // a browser's GET; everything else falls through
  if (config.playground) app.get('/', playgroundRedirect('/graphql')); // a browser opening the bare host
  app.use(
    '/graphql',
    ipRequestLimit(limitStore.ipStore, config.rateLimitPerMinute, () =>
      metrics.rateLimited.inc({ limit: 'ip-per-minute' }),
    ),
    express.json({ limit: BODY_LIMIT }),
    refreshCookieParser(config.refreshTokenCookie),
    (req, res, next) => {
      const requestId = randomUUID();
      res.setHeader('X-Request-Id', requestId);
      res.locals.requestId = requestId;
      next();
    },
    expressMiddleware(apollo, {
      context: async ({ req, res }): Promise<GraphQLContext> =>
        new RequestContext(
          res.locals.requestId as string,
          { ip: canonicalIp(req.ip), userAgent: req.get('user-agent')?.slice(0, 512) ?? null },
          config.refreshTokenCookie ? refreshCookie(req, res, config.refreshTokenTtl) : null,
          orm,
          services.authenticator,
          bearerToken(req.headers.authorization),
        ),
    }),
  );
  const onError: ErrorRequestHandler = (err: { status?: number; type?: string }, _req, res, _next) => {
    const status = typeof err.status === 'number' && err.status >= 400 && err.status < 500 ? err.status : 500;
    if (status === 500) logger.error('unexpected HTTP error', errorFields(err));
    const message =
      status === 413 ? 'Request body is larger than 100 kB' : status === 500 ? 'Internal server error' : 'Bad request';
    res
      .status(status)
      .json({ errors: [{ message, extensions: { code: status === 500 ? 'INTERNAL_SERVER_ERROR' : 'BAD_REQUEST' } }] });
  };
  app.use(onError);

  sender.start();
  housekeeping.start();
  changeFeed?.start();

  return {
    app,
    httpServer,
    orm,
    housekeeping,
    limits: limitStore,
    listen(port = config.port, host = config.host) {
      return new Promise((resolve, reject) => {
        httpServer.once('error', reject);
        httpServer.listen(port, host, () => resolve((httpServer.address() as AddressInfo).port));
      });
    },
    async stop() {
      const deadline = Date.now() + config.shutdownTimeoutMs;
      // Both stop taking new work now and finish what they are doing (the email being sent) meanwhile.
      const background = Promise.all([sender.stop(), housekeeping.stop()]);
      await apollo.stop(); // closes the listener first, then waits for in-flight requests (drain plugin)
      let timer: NodeJS.Timeout | undefined;
      const late = await Promise.race([
        background.then(() => false),
        new Promise<boolean>(
          (resolve) => (timer = setTimeout(() => resolve(true), Math.max(0, deadline - Date.now()))),
        ),
      ]);
      clearTimeout(timer);
      if (late) logger.warn('shutdown timeout: not waiting any longer for the email being sent (it stays queued)');
      mailer.close();
      await services.close();
      await limitStore.close();
      await changeFeed?.stop();
      await db.close();
    },
  };
}
