// The tests' SMTP server (helpers/smtp.ts): a real smtp-server that greets a new connection at once.
import { connect } from 'node:net';
import { TestSmtp } from './helpers/smtp';

/** The first line the server sends on a new connection. */
function greeting(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    socket.setEncoding('utf8');
    socket.once('data', (line: string) => {
      socket.destroy();
      resolve(line);
    });
    socket.once('error', reject);
  });
}

it("greets without smtp-server's 100 ms wait for early talkers: no timer has to fire first", async () => {
  const smtp = new TestSmtp();
  await smtp.start();
  // smtp-server greets from a 100 ms setTimeout; with timers frozen it would never greet, and this test would time out.
  jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask', 'performance', 'Date'] });
  try {
    expect(await greeting(smtp.port)).toMatch(/^220 /);
  } finally {
    jest.useRealTimers();
    await smtp.stop();
  }
}, 5000);
