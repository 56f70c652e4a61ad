// Process entry: load config, create the server, listen, shut down cleanly on SIGTERM/SIGINT.
import 'reflect-metadata';
import './config/env-file'; // loads .env before anything reads process.env
import type { AddressInfo } from 'node:net';
import { OperatorError } from './config/config-helpers';
import { loadConfig } from './config/config';
import { createLogger, errorFields, prettyLogs } from './common/logger';

/** Past SHUTDOWN_TIMEOUT, the time closing Redis and the database may take before the process gives up. */
const CLOSE_MARGIN_MS = 5000;

/** The URL of the address actually bound (not "localhost"): what a reader can check against HOST. */
function listeningOn({ address, family, port }: AddressInfo): string {
  const host = family === 'IPv6' ? `[${address}]` : address;
  const all = address === '0.0.0.0' || address === '::' ? ' (all interfaces)' : '';
  return `http://${host}:${port}/graphql${all}`;
}

/** The address is taken or not this machine's: one line for the operator, not a stack. */
function listenRefusal(err: unknown, host: string, port: number): OperatorError | undefined {
  switch ((err as NodeJS.ErrnoException | null)?.code) {
    case 'EADDRINUSE':
      return new OperatorError(`${host}:${port} is already in use by another process; stop it or set another PORT`);
    case 'EADDRNOTAVAIL':
      return new OperatorError(`HOST ${host} is not an address of this machine`);
    default:
      return undefined;
  }
}

/**
 * The server's modules, loaded once the settings are known to be good: they take about a second of CPU to load, and a
 * refusal of a bad setting need not wait for them (passkeys.service.ts loads @simplewebauthn/server the same way).
 */
function serverModule(): typeof import('./server/create-server') {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded after loadConfig, see above
  return require('./server/create-server') as typeof import('./server/create-server');
}

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel, undefined, { pretty: prettyLogs(config.nodeEnv) });
  for (const warning of config.warnings) logger.warn(warning);
  const { createServer } = serverModule();
  const server = await createServer(config, { logger });
  try {
    await server.listen(config.port, config.host);
  } catch (err) {
    throw listenRefusal(err, config.host, config.port) ?? err;
  }
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
  // Only once the handlers are in place: whoever reads this line may send SIGTERM at once.
  logger.info(`Portcullis listening on ${listeningOn(server.httpServer.address() as AddressInfo)}`, {
    database: config.databaseUrl ? 'postgresql' : `embedded (${config.dataDir})`,
    mail: config.smtpUrl ? 'smtp' : 'log',
  });
}

main().catch((err: unknown) => {
  // Something the operator fixes (a bad value, DATA_DIR in use, no such database): one line, no stack.
  if (err instanceof OperatorError) {
    process.stderr.write(`${err.message}\n`);
  } else {
    createLogger('error', undefined, { pretty: prettyLogs(process.env.NODE_ENV) }).error(
      'start-up failed',
      errorFields(err),
    );
  }
  process.exit(1);
});
