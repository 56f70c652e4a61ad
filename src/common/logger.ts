// Structured logging: pino JSON lines, one place that knows the log format. Secrets are redacted by key
// wherever they appear in a logged object, as a second line of defence: code never logs them on purpose.
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

export function createLogger(level: Level = 'info', destination?: DestinationStream): Logger {
  const log = pino(
    {
      level,
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    },
    destination,
  );
  return {
    info: (msg, fields) => log.info(fields ?? {}, msg),
    warn: (msg, fields) => log.warn(fields ?? {}, msg),
    error: (msg, fields) => log.error(fields ?? {}, msg),
  };
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {} };

/** An error's name, message and stack for a log line. */
export function errorFields(err: unknown): Record<string, unknown> {
  // Not `instanceof Error`: errors from another realm (a VM context, a worker) fail that check.
  if (typeof err === 'object' && err !== null && 'message' in err) {
    const e = err as { name?: unknown; message?: unknown; stack?: unknown };
    return { err: { name: e.name, message: e.message, stack: e.stack } };
  }
  return { err: String(err) };
}
