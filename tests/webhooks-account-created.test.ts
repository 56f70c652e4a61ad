// `user.created` for the ways an account is made besides sign-up (webhooks.test.ts has that one): the first sign-in
// with an OpenID provider, through the real server and a real provider, and `npm run admin:create` on the command
// line, whose delivery rows the running server sends. A second sign-in with the provider, and promoting an existing
// account from the command line, make no second `user.created` (the promotion is a `user.updated`, roles).
import { randomBytes } from 'node:crypto';
import { login, PASSWORD, signUp, uniqueEmail } from './helpers/flows';
import { startTestProvider, type TestProvider } from './helpers/oidc-provider';
import { runDist } from './helpers/run-dist';
import { serverEnv } from './helpers/server-env';
import { acmeEnv, fixtureClient, socialSignIn } from './helpers/social';
import { ok, startTestApp, type TestApp } from './helpers/test-server';
import { WebhookReceiver } from './helpers/webhook-receiver';
import { sessionIdOf } from './helpers/client';

const SECRET = `whsec_${randomBytes(32).toString('base64')}`;
const receiver = new WebhookReceiver(SECRET);
/** The webhook settings of the server and of the command line (the receiver's port is known once it listens). */
const webhooks = () => ({ WEBHOOK_URLS: receiver.url, WEBHOOK_SECRET: SECRET });

let provider: TestProvider;
let app: TestApp;

beforeAll(async () => {
  await receiver.start();
  provider = await startTestProvider([fixtureClient('acme')]);
  app = await startTestApp({
    env: {
      ...acmeEnv(provider),
      ...webhooks(),
    },
  });
});
afterAll(async () => {
  await app?.stop();
  await provider?.stop();
  await receiver.stop();
});

it('the first sign-in with a provider: user.created with the address the provider vouched for, then session.created (PROVIDER)', async () => {
  const email = uniqueEmail('hook-social');
  const sub = `hook-${Date.now()}`;
  await provider.setAccount({ sub, email, email_verified: true });

  const first = await socialSignIn(app, provider, 'acme', sub);
  const userId = first.user.id;
  const created = await receiver.waitFor('user.created', userId);
  expect(created.verified).toBe(true);
  expect(created.payload.data).toEqual({ userId, actorId: null, email });
  const session = await receiver.waitFor('session.created', userId);
  expect(session.payload.data).toEqual({
    userId,
    actorId: userId,
    sessionId: sessionIdOf(first.accessToken),
    method: 'PROVIDER',
  });

  // The same person again: a session, not a second account.
  const again = await socialSignIn(app, provider, 'acme', sub);
  expect(again.user.id).toBe(userId);
  await receiver.waitFor('session.created', userId, (r) => r.payload.data.sessionId === sessionIdOf(again.accessToken));
  expect(receiver.about(userId).filter((r) => r.payload.type === 'user.created')).toHaveLength(1);
});

describe('npm run admin:create', () => {
  /** Runs the command with the server's webhook settings. Its delivery is due at real time, the command line's clock;
   *  the server's is this file's fake one, stopped at its start: moved a minute on, the delivery is due there too. */
  const adminCreate = async (email: string) => {
    const run = await runDist('scripts/admin-create', ['--email', email], serverEnv(app.db, webhooks()), {
      stdin: `${PASSWORD}\n`,
    });
    app.clock.advance(60);
    return run;
  };

  it('a new ADMIN: user.created (no actor: the command line), delivered by the running server', async () => {
    const email = uniqueEmail('hook-cli');
    const run = await adminCreate(email);
    expect({ code: run.code, stdout: run.stdout }).toEqual({ code: 0, stdout: expect.stringMatching(/created/) });
    const userId = ok(await login(app, email, PASSWORD)).login.user.id;

    const created = await receiver.waitFor('user.created', userId);
    expect(created.verified).toBe(true);
    expect(created.payload.data).toEqual({ userId, actorId: null, email });
  });

  it('promoting an account that exists: user.updated (roles), not user.created', async () => {
    const email = uniqueEmail('hook-promote');
    const userId = (await signUp(app, email, PASSWORD)).user.id;
    await receiver.waitFor('user.created', userId);

    const run = await adminCreate(email);
    expect(run.code).toBe(0);
    const updated = await receiver.waitFor('user.updated', userId);
    expect(updated.payload.data).toEqual({ userId, actorId: null, email, changes: ['roles'] });
    expect(receiver.about(userId).filter((r) => r.payload.type === 'user.created')).toHaveLength(1);
  });
});
