// A front door (like a load balancer) that passes every TCP connection on to the app: its port, and so PUBLIC_URL,
// is known before the app starts (which must be configured with it) and before a provider or a page needs it. Its
// target is set once the app listens.
import { connect, createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';

export interface FrontDoor {
  /** `http://<host>:<port>`: the origin browsers and providers use. */
  readonly origin: string;
  /** Set `port` once the app listens. */
  readonly target: { port: number };
  close(): Promise<void>;
}

/** `host`: how the origin names this machine (`localhost` for WebAuthn's secure context, or `127.0.0.1`). */
export async function startFrontDoor(host: 'localhost' | '127.0.0.1'): Promise<FrontDoor> {
  const target = { port: 0 };
  const sockets = new Set<Socket>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };
  const server = createTcpServer((client) => {
    const upstream = connect(target.port, '127.0.0.1');
    track(client);
    track(upstream);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end);
    upstream.on('error', end);
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    origin: `http://${host}:${(server.address() as AddressInfo).port}`,
    target,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
