// The scripts' command lines, read by node:util's parseArgs: an unknown flag, a missing value or a stray argument
// is refused with the script's usage and exit code 2 (a usage error, as for most command-line tools).
import { parseArgs, type ParseArgsConfig } from 'node:util';

export function refuseUsage(problem: string, usage: string): never {
  console.error(`${problem}\nusage: ${usage}`);
  process.exit(2);
}

/** parseArgs (strict: unknown flags are errors) over this process's arguments. */
export function parseFlags<T extends ParseArgsConfig>(config: T, usage: string): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_')) refuseUsage((err as Error).message, usage);
    throw err;
  }
}
