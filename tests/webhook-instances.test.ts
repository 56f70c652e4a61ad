// Two instances on one real PostgreSQL, as behind a load balancer, both sending webhooks from the same table: each
// delivery reaches the endpoint exactly once (claims with SKIP LOCKED and a lease), and both instances take part.
import { randomBytes } from 'node:crypto';
import { silentLogger } from '../src/common/logger';
import { loadConfig } from '../src/config/config';
import { createServer, type PortcullisServer } from '../src/server/create-server';
import { graphqlClient } from './helpers/client';
import { eventually } from './helpers/eventually';
import { FakeClock } from './helpers/fake-clock';
import { signUp, uniqueEmail, type WithMail } from './helpers/flows';
import { realPostgresUrl } from './helpers/real-postgres';
import { serverEnv } from './helpers/server-env';
import { startTestApp, type TestApp } from './helpers/test-server';
import { WebhookReceiver } from './helpers/webhook-receiver';

const pgUrl = realPostgresUrl('tests/webhook-instances.test.ts');
const SECRET = `whsec_${randomBytes(32).toString('base64')}`;
const SENDER = { pollMs: 20, batchSize: 2 };

/** The webhooks an instance delivered, from its own /metrics. */
async function deliveredBy(graphqlUrl: string): Promise<number> {
  const text = await (await fetch(new URL('/metrics', graphqlUrl))).text();
  const line = text.split('\n').find((l) => l.startsWith('portcullis_webhook_deliveries_total{outcome="delivered"}'));
  return line === undefined ? 0 : Number(line.split(' ').pop());
}

(pgUrl ? describe : describe.skip)('webhooks from two instances on one PostgreSQL', () => {
  const receiver = new WebhookReceiver(SECRET);
  let a: TestApp;
  let b: PortcullisServer;
  let bClient: WithMail;

  beforeAll(async () => {
    await receiver.start();
    receiver.delayMs = 15; // each try takes a while, so both instances' claims overlap
    const env = { WEBHOOK_URLS: receiver.url, WEBHOOK_SECRET: SECRET };
    a = await startTestApp({ postgres: pgUrl, env, webhooks: SENDER });
    const config = loadConfig(serverEnv(a.db, { NODE_ENV: 'test', SMTP_URL: a.smtp.url, ...env }));
    b = await createServer(config, { clock: new FakeClock(a.clock.now()), logger: silentLogger, webhooks: SENDER });
    const url = `http://127.0.0.1:${await b.listen(0, '127.0.0.1')}/graphql`;
    bClient = { ...graphqlClient(url), smtp: a.smtp };
  });
  afterAll(async () => {
    await b?.stop();
    await a?.stop();
    await receiver.stop();
  });

  it('deliver each event exactly once, sharing the work', async () => {
    // Sign-ups on both instances at once: each queues user.created and session.created and kicks its own sender.
    const users = await Promise.all(
      Array.from({ length: 12 }, (_, i) => signUp(i % 2 === 0 ? a : bClient, uniqueEmail('instances'))),
    );
    const queued = await a.sql<{ message_id: string }>('select message_id from webhook_deliveries');
    expect(queued).toHaveLength(users.length * 2);

    await eventually(
      () => a.sql<{ n: number }>('select count(*)::int as n from webhook_deliveries where delivered_at is null'),
      (rows) => rows[0]?.n === 0,
    );

    const ids = receiver.requests.map((r) => r.id);
    expect(receiver.requests.every((r) => r.verified && r.status === 204)).toBe(true);
    expect(ids.length).toBe(new Set(ids).size); // no message twice
    expect(ids.sort()).toEqual(queued.map((r) => r.message_id).sort());
    for (const { user } of users) {
      expect(
        receiver
          .about(user.id)
          .map((r) => r.payload.type)
          .sort(),
      ).toEqual(['session.created', 'user.created']);
    }
    const [byA, byB] = await Promise.all([deliveredBy(a.url), deliveredBy(bClient.url)]);
    expect(byA + byB).toBe(queued.length);
    expect(Math.min(byA, byB)).toBeGreaterThan(0);
  });
});
