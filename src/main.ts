// Process entry: load config, create the server, listen, shut down cleanly on SIGTERM/SIGINT.
import 'reflect-metadata';
import { ConfigError } from './config/config-helpers';
import { loadConfig } from './config/config';
import { createLogger, errorFields, prettyLogs } from './common/logger';
import { createServer } from './server/create-server';

/** Past SHUTDOWN_TIMEOUT, the time closing Redis and the database may take before the process gives up. */
const CLOSE_MARGIN_MS = 5000;

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel, undefined, { pretty: prettyLogs(config.nodeEnv) });
  const server = await createServer(config, { logger });
  const port = await server.listen(config.port);
  logger.info(`Portcullis listening on http://localhost:${port}/graphql`, {
    database: config.databaseUrl ? 'postgresql' : `embedded (${config.dataDir})`,
    mail: config.smtpUrl ? 'smtp' : 'log',
  });
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info(`${signal} received, shutting down`, { timeoutSeconds: config.shutdownTimeoutMs / 1000 });
    // stop() is bounded by SHUTDOWN_TIMEOUT; this only catches a close that hangs (a database gone silent).
    setTimeout(() => {
      logger.error('shutdown did not finish in time; exiting');
      process.exit(1);
    }, config.shutdownTimeoutMs + CLOSE_MARGIN_MS).unref();
    server.stop().then(
      () => {
        logger.info('stopped');
        process.exit(0);
      },
      (err: unknown) => {
        logger.error('shutdown failed', errorFields(err));
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) {
    process.stderr.write(`${err.message}\n`);
  } else {
    createLogger('error', undefined, { pretty: prettyLogs(process.env.NODE_ENV) }).error('start-up failed', errorFields(err));
  }
  process.exit(1);
});
