// Process entry: load config, create the server, listen, shut down cleanly on SIGTERM/SIGINT.
import 'reflect-metadata';
import { ConfigError } from './config/config-helpers';
import { loadConfig } from './config/config';
import { createLogger, errorFields } from './common/logger';
import { createServer } from './server/create-server';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
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
    logger.info(`${signal} received, shutting down`);
    server.stop().then(
      () => process.exit(0),
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
    createLogger('error').error('start-up failed', errorFields(err));
  }
  process.exit(1);
});
