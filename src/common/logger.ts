// A minimal structured logger (JSON lines on stdout/stderr); tests may pass a silent or capturing one.
export interface Logger {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

function line(level: string, msg: string, fields?: Record<string, unknown>): string {
  return JSON.stringify({ level, time: new Date().toISOString(), msg, ...fields });
}

export const consoleLogger: Logger = {
  info: (msg, fields) => process.stdout.write(line('info', msg, fields) + '\n'),
  warn: (msg, fields) => process.stderr.write(line('warn', msg, fields) + '\n'),
  error: (msg, fields) => process.stderr.write(line('error', msg, fields) + '\n'),
};

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
