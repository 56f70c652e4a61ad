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
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- a development dependency, loaded only when asked for
    pretty = require('pino-pretty') as typeof import('pino-pretty');
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

export function createLogger(
  level: Level = 'info',
  destination?: DestinationStream,
  options: LoggerOptions = {},
): Logger {
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

/** A statement keyword: text holding one may hold a statement with its values (knex prefixes errors with it). */
const SQL_STATEMENT =
  /\b(select|insert|update|delete|with|begin|commit|rollback|savepoint|release|set|lock|truncate|create|alter|drop)\s/i;

/**
 * A database error's text without the values it carries: every string literal of the statement becomes '?'
 * (MikroORM inlines the values: emails, hashes, IPs), and so does the value PostgreSQL quotes in its own message
 * (`invalid input syntax for type uuid: "…"`, `value "…" is out of range`). The statement's shape is kept.
 */
export function withoutSqlValues(text: string): string {
  return text
    .replace(/'(?:[^']|'')*'/g, "'?'")
    .replace(/(: )"[^\n]*"(?=\n|$)/gm, '$1"?"')
    .replace(/\bvalue "[^"\n]*"/g, 'value "?"');
}

/**
 * Strips values from a failed query's error in place, before anything can log it: its message and stack, and
 * PostgreSQL's `detail` (`Key (email)=(…) already exists.`). Called by the database client on every failed query.
 */
export function scrubDatabaseError(err: unknown): void {
  if (typeof err !== 'object' || err === null) return;
  const e = err as { message?: unknown; stack?: unknown; detail?: unknown };
  if (typeof e.message === 'string') e.message = withoutSqlValues(e.message);
  if (typeof e.stack === 'string') e.stack = withoutSqlValues(e.stack);
  if (typeof e.detail === 'string') e.detail = e.detail.replace(/=\(.*\)/s, '=(?)');
}

/** An error's name, message and stack for a log line; any SQL in them without its values (a second line of defence). */
export function errorFields(err: unknown): Record<string, unknown> {
  // Not `instanceof Error`: errors from another realm (a VM context, a worker) fail that check.
  if (typeof err === 'object' && err !== null && 'message' in err) {
    const e = err as { name?: unknown; message?: unknown; stack?: unknown };
    const clean = (text: unknown): unknown =>
      typeof text === 'string' && typeof e.message === 'string' && SQL_STATEMENT.test(e.message)
        ? withoutSqlValues(text)
        : text;
    return { err: { name: e.name, message: clean(e.message), stack: clean(e.stack) } };
  }
  return { err: String(err) };
}
