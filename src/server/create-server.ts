// Composes one Portcullis instance from a Config: the database, the services, the GraphQL server, the HTTP app
// and the background workers; owns their start and orderly stop. Does not listen by itself.
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Express } from 'express';
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from '../config/config';
import { systemClock, type Clock } from '../common/clock';
import { deriveKeys } from '../common/keys';
import { createLogger, errorFields, type Logger } from '../common/logger';
import { AfterCommit } from '../database/after-commit';
import { openDatabase } from '../database/database';
import type { Housekeeping } from '../database/housekeeping';
import { ENTITIES } from '../modules/entities';
import type { OutboxSenderSettings } from '../modules/mail/outbox-sender';
import type { WebhookSenderSettings } from '../modules/webhooks/webhook-sender';
import { createLimitStore, type LimitStore } from '../rate-limit/store';
import { createGraphQLServer } from './graphql-server';
import { createHttpApp } from './http-app';
import { graphqlHttpHandler, isGraphQLPost } from './graphql-http';
import { Metrics } from './metrics';
import { createServices } from './services';
import { createWorkers } from './workers';
import type { KeyRing } from '../modules/signing-keys/key-ring';

export interface ServerOptions {
  /** Fixed or movable time for tests; the system clock otherwise. */
  readonly clock?: Clock;
  readonly logger?: Logger;
  readonly outbox?: Partial<OutboxSenderSettings>;
  /** The webhook sender's timing (tests: a short poll and retries). */
  readonly webhooks?: Partial<WebhookSenderSettings>;
}

export interface PortcullisServer {
  readonly app: Express;
  readonly httpServer: Server;
  readonly orm: MikroORM;
  readonly housekeeping: Housekeeping;
  /** The request limits' counters (Redis or memory). */
  readonly limits: LimitStore;
  /** The access tokens' signing keys (maintenance runs every minute; tests may run it at once). */
  readonly keyRing: KeyRing;
  /** Starts listening (on `host`, default HOST); resolves with the bound port (pass 0 for any free port). */
  listen(port?: number, host?: string): Promise<number>;
  /** Stops accepting, finishes in-flight requests and the mail being sent, closes the database. */
  stop(): Promise<void>;
}

export async function createServer(config: Config, options: ServerOptions = {}): Promise<PortcullisServer> {
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? createLogger(config.logLevel);
  const keys = deriveKeys(config.jwtSecret, config.dataKeys);
  const db = await openDatabase(config, ENTITIES, logger);
  const { orm } = db;
  const metrics = new Metrics(orm);
  const limitStore = await createLimitStore(config.redisUrl, logger, {
    commandTimeoutMs: config.redisCommandTimeoutMs,
  });
  const afterCommit = AfterCommit.attach(orm, (err) => logger.error('after-commit task failed', errorFields(err)));
  const services = createServices(config, keys, clock, logger, {
    afterCommit,
    onSocialOutcome: (provider, outcome) => metrics.socialSignIns.inc({ provider, outcome }),
    onAudit: (entry) => metrics.onAudit(entry),
    onUnlock: (email) => limitStore.resetEmail(email), // unlockUser clears the request limits' counters of the account too
  });
  metrics.watchSessionCache(services.sessionCache);
  await services.keyRing.start(orm.em.fork());

  // A client gets REQUEST_TIMEOUT to send its whole request (slow-loris bodies are cut off with 408).
  const httpServer = createHttpServer({
    requestTimeout: config.requestTimeoutMs,
    connectionsCheckingInterval: Math.min(1000, config.requestTimeoutMs),
  });
  const apollo = await createGraphQLServer({ config, services, limitStore, metrics, logger, httpServer });
  const http = {
    config,
    apollo,
    orm,
    authenticator: services.authenticator,
    limitStore,
    metrics,
    logger,
    social: services.social,
  };
  const app = createHttpApp({ ...http, keyRing: services.keyRing, apiKeys: services.apiKeys });
  const graphqlPost = graphqlHttpHandler(http);
  httpServer.on('request', (req, res) => {
    if (isGraphQLPost(req)) graphqlPost(req, res);
    else void app(req, res);
  });
  const workers = createWorkers({
    config,
    db,
    services,
    keys,
    clock,
    metrics,
    logger,
    outbox: options.outbox,
    webhooks: options.webhooks,
  });
  workers.start();

  return {
    app,
    httpServer,
    orm,
    housekeeping: workers.housekeeping,
    limits: limitStore,
    keyRing: services.keyRing,
    listen(port = config.port, host = config.host) {
      return new Promise((resolve, reject) => {
        httpServer.once('error', reject);
        httpServer.listen(port, host, () => resolve((httpServer.address() as AddressInfo).port));
      });
    },
    async stop() {
      const deadline = Date.now() + config.shutdownTimeoutMs;
      // The workers stop taking new work now and finish what they are doing (the email being sent) meanwhile.
      const background = workers.drain();
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
      await workers.close();
      await services.close();
      await limitStore.close();
      await db.close();
    },
  };
}
