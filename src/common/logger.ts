// Structured logging: pino JSON lines, one place that knows the log format. Secrets are redacted by key
// wherever they appear in a logged object, as a second line of defence: code never logs them on purpose.
// A person at a terminal in development gets the same entries pretty-printed (pino-pretty) instead.
import pino, { type DestinationStream, type Level } from 'pino';

export interface Logger {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export const LOG_LEVELS: readonly Level[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'];

/** Keys whose values never reach the log, at the top level or one object deep. */
const SECRET_KEYS = [
  'password',
  'currentPassword',
  'newPassword',
  'code',
  'token',
  'accessToken',
  'refreshToken',
  'authorization',
  'cookie',
  'set-cookie',
];
const REDACT_PATHS = [...SECRET_KEYS, ...SECRET_KEYS.map((k) => `*.${k}`), ...SECRET_KEYS.map((k) => `*.headers.${k}`)];

export interface LoggerOptions {
  /** Human-readable lines (pino-pretty) instead of JSON; see `prettyLogs` for when. */
  readonly pretty?: boolean;
}

/** Pretty output only for a person watching: outside production, and stdout is a terminal (not a pipe or file). */
export function prettyLogs(nodeEnv: string | undefined, stdout: { isTTY?: boolean } = process.stdout): boolean {
  return nodeEnv !== 'production' && stdout.isTTY === true;
}

/**
 * pino-pretty as a plain stream, synchronous so nothing is lost on process.exit. It is a development
 * dependency: where it is not installed (a production install), the lines stay JSON.
 */
function prettyStream(destination: DestinationStream | undefined): DestinationStream | undefined {
  let pretty: typeof import('pino-pretty');
  try {
    pretty = require('pino-pretty') as typeof import('pino-pretty'); // loaded only when asked for
  } catch {
    return destination;
  }
  return pretty({
    destination: destination ?? 1,
    sync: true,
    translateTime: 'SYS:HH:MM:ss.l',
    ...(destination === undefined ? {} : { colorize: false }), // colours (when supported) only on stdout
  });
}

export function createLogger(level: Level = 'info', destination?: DestinationStream, options: LoggerOptions = {}): Logger {
  const log = pino(
    {
      level,
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    },
    options.pretty ? prettyStream(destination) : destination,
  );
  return {
    info: (msg, fields) => log.info(fields ?? {}, msg),
    warn: (msg, fields) => log.warn(fields ?? {}, msg),
    error: (msg, fields) => log.error(fields ?? {}, msg),
  };
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {} };

/** knex begins a failed query's error message with its SQL, values inlined (emails, hashes, IPs). */
const SQL_FIRST = /^\s*(select|insert|update|delete|with|begin|commit|rollback|savepoint|release|set|lock|truncate|create|alter|drop)\s/i;

/** SQL with its string literals blanked: the statement's shape is enough to find the query. */
function withoutSqlValues(text: unknown): unknown {
  return typeof text === 'string' ? text.replace(/'(?:[^']|'')*'/g, "'?'") : text;
}

/** An error's name, message and stack for a log line. */
export function errorFields(err: unknown): Record<string, unknown> {
  // Not `instanceof Error`: errors from another realm (a VM context, a worker) fail that check.
  if (typeof err === 'object' && err !== null && 'message' in err) {
    const e = err as { name?: unknown; message?: unknown; stack?: unknown };
    if (typeof e.message === 'string' && SQL_FIRST.test(e.message)) {
      return { err: { name: e.name, message: withoutSqlValues(e.message), stack: withoutSqlValues(e.stack) } };
    }
    return { err: { name: e.name, message: e.message, stack: e.stack } };
  }
  return { err: String(err) };
}
