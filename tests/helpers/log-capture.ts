// A pino destination for tests that read what the server logged.
import { Writable } from 'node:stream';

/** A pino destination that keeps every line. */
export function capture(): { stream: Writable; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  return { stream, lines };
}
