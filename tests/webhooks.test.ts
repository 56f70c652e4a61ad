// Webhooks through the real server (docs/webhooks.md): two real HTTP endpoints in this process receive every event,
// and each request's Standard Webhooks signature is checked with the standardwebhooks package as a receiver would.
// The events come from real operations over GraphQL; retries move on the app's fake clock (WEBHOOK_MAX_ATTEMPTS=3,
// one second between tries), never on a sleep.
import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { silentLogger } from '../src/common/logger';
import { loadConfig } from '../src/config/config';
import { ConfigError } from '../src/config/config-helpers';
import { loadWebhooks } from '../src/config/webhooks';
import { createServer } from '../src/server/create-server';
import {
  CHANGE_CODE_SUBJECT,
  confirmEmailChange,
  deleteAccount,
  deleteUser,
  mfaAdmin,
  requestEmailChange,
} from './helpers/account';
import { graphqlClient, sessionIdOf } from './helpers/client';
import { eventually } from './helpers/eventually';
import { createUser, signIn, type TestUser } from './helpers/factories';
import { login, PASSWORD, refresh, requestOtp, resetPassword, signUp, uniqueEmail, type Tokens } from './helpers/flows';
import { standsIn } from './helpers/leaks';
import { enableTotp, nextTotpCode } from './helpers/mfa';
import { serverEnv, TEST_DATA_KEYS, TEST_JWT_SECRET } from './helpers/server-env';
import { errorCode, ok, startTestApp, type TestApp } from './helpers/test-server';
import { WebhookReceiver, type ReceivedWebhook } from './helpers/webhook-receiver';

const SECRET = `whsec_${randomBytes(32).toString('base64')}`;
const main = new WebhookReceiver(SECRET, '/hooks/main');
/** A second endpoint; its query string stands for a receiver's own key, which admins must not be shown. */
const second = new WebhookReceiver(SECRET, '/hooks/second?key=receiver-key');
/** What the tests' requests look like: a client IP (through the trusted proxy) and a user agent. */
const CLIENT = { 'x-forwarded-for': '203.0.113.77', 'user-agent': 'WebhookTest/9.9' };
const STRONG = ['Violet-Lantern-Orbit-42', 'Quartz-Meadow-Signal-77'];

let app: TestApp;
let admin: TestUser;
/** Every password, code, token and secret the tests saw: no payload may hold any of them. */
const secrets = new Set<string>([PASSWORD, ...STRONG, SECRET]);

const DELIVERY_FIELDS =
  'id messageId type endpoint status attempts lastStatus lastError payload createdAt nextAttemptAt deliveredAt deadAt';
const DELIVERIES = `query($s: WebhookDeliveryStatus, $f: Int, $a: String) {
  webhookDeliveries(status: $s, first: $f, after: $a) { totalCount pageInfo { hasNextPage endCursor } edges { node { ${DELIVERY_FIELDS} } } } }`;
const REDELIVER = `mutation($id: ID!) { redeliverWebhook(id: $id) { ${DELIVERY_FIELDS} } }`;

interface DeliveryView {
  id: string;
  messageId: string;
  type: string;
  endpoint: string;
  status: string;
  attempts: number;
  lastStatus: number | null;
  lastError: string | null;
  payload: { type: string; timestamp: string; data: Record<string, unknown> };
  deliveredAt: string | null;
  deadAt: string | null;
  nextAttemptAt: string | null;
}

interface DeliveryRow {
  id: string;
  message_id: string;
  endpoint: string;
  type: string;
  payload: string;
  attempts: number;
  delivered_at: Date | null;
  dead_at: Date | null;
  last_error: string | null;
  last_status: number | null;
}

/** The queued deliveries about `userId`, oldest first. */
function rowsOf(userId: string): Promise<DeliveryRow[]> {
  return app.sql<DeliveryRow>(
    `select id, message_id, endpoint, type, payload, attempts, delivered_at, dead_at, last_error, last_status
       from webhook_deliveries where (payload::jsonb -> 'data' ->> 'userId') = ? order by id`,
    [userId],
  );
}

/** Polls `probe` until `until` holds, moving the app's clock one second before each look (the retry delay). */
function withClockMoving<T>(probe: () => Promise<T>, until: (value: T) => boolean): Promise<T> {
  return eventually(async () => {
    app.clock.advance(1);
    return probe();
  }, until);
}

/** A new user signed up through the API from CLIENT; its tokens and password are remembered as secrets. */
async function newUser(): Promise<Tokens> {
  const tokens = await signUp(app, uniqueEmail('hook'), PASSWORD, CLIENT);
  remember(tokens);
  return tokens;
}

function remember(tokens: { accessToken: string; refreshToken?: string | null }): void {
  secrets.add(tokens.accessToken);
  if (tokens.refreshToken) secrets.add(tokens.refreshToken);
}

async function signedIn(email: string, password = PASSWORD): Promise<Tokens> {
  const res = await login(app, email, password, CLIENT);
  remember(ok(res).login);
  return res.data!.login;
}

beforeAll(async () => {
  await main.start();
  await second.start();
  app = await startTestApp({
    env: {
      WEBHOOK_URLS: `${main.url}, ${second.url}`,
      WEBHOOK_SECRET: SECRET,
      WEBHOOK_MAX_ATTEMPTS: '3',
      TRUST_PROXY: 'loopback',
    },
    webhooks: { retryBaseMs: 1000, retryMaxMs: 1000 },
  });
  admin = await createUser(app, { roles: ['ADMIN'] });
});
afterAll(async () => {
  await app?.stop();
  await main.stop();
  await second.stop();
});

describe('signatures', () => {
  let received: ReceivedWebhook;
  let user: Tokens;
  beforeAll(async () => {
    user = await newUser();
    received = await main.waitFor('user.created', user.user.id);
  });

  it('every request carries the Standard Webhooks headers and verifies with the secret', () => {
    expect(main.requests.length).toBeGreaterThan(0);
    expect(main.requests.filter((r) => !r.verified)).toEqual([]);
    expect(received.headers['content-type']).toBe('application/json');
    expect(received.id).toMatch(/^msg_[A-Za-z0-9_-]{22}$/);
    expect(received.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+={0,2}$/);
    // Signed at real time (the receiver's clock is real), not the app's fake clock.
    const sentAt = Number(received.headers['webhook-timestamp']);
    expect(Math.abs(sentAt - Date.now() / 1000)).toBeLessThan(60);
    expect(new Webhook(SECRET).verify(received.body, received.headers)).toEqual(received.payload);
  });

  it('covers the body, the id and the time: a tampered body, a forged id or another secret is refused', () => {
    const verify = (body: string, headers: Record<string, string>, secret = SECRET) =>
      new Webhook(secret).verify(body, headers);
    const tampered = received.body.replace(user.user.id, '00000000-0000-4000-8000-000000000000');
    expect(tampered).not.toBe(received.body);
    expect(() => verify(tampered, received.headers)).toThrow(/signature/i);
    expect(() => verify(received.body, { ...received.headers, 'webhook-id': 'msg_forged' })).toThrow(/signature/i);
    const later = String(Number(received.headers['webhook-timestamp']) + 1);
    expect(() => verify(received.body, { ...received.headers, 'webhook-timestamp': later })).toThrow(/signature/i);
    const otherSecret = `whsec_${randomBytes(32).toString('base64')}`;
    expect(() => verify(received.body, received.headers, otherSecret)).toThrow(/signature/i);
    const forged = new Webhook(otherSecret).sign(received.id, new Date(), received.body);
    expect(() => verify(received.body, { ...received.headers, 'webhook-signature': forged })).toThrow(/signature/i);
  });

  it('goes to every endpoint once, each with its own webhook-id and the same body', async () => {
    const other = await second.waitFor('user.created', user.user.id);
    expect(other.verified).toBe(true);
    expect(other.body).toBe(received.body);
    expect(other.id).not.toBe(received.id);
    expect(main.about(user.user.id).filter((r) => r.payload.type === 'user.created')).toHaveLength(1);
    expect(second.about(user.user.id).filter((r) => r.payload.type === 'user.created')).toHaveLength(1);
  });
});

describe('events', () => {
  it('sign-up: user.created with the email, queued with the change; then session.created (CODE)', async () => {
    const email = uniqueEmail('hook-signup');
    const tokens = await signUp(app, email, PASSWORD, CLIENT);
    remember(tokens);
    const userId = tokens.user.id;

    const created = await main.waitFor('user.created', userId);
    expect(created.payload).toEqual({
      type: 'user.created',
      timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      data: { userId, actorId: null, email },
    });
    const session = await main.waitFor('session.created', userId);
    expect(session.payload.data).toEqual({
      userId,
      actorId: userId,
      sessionId: sessionIdOf(tokens.accessToken),
      method: 'CODE',
    });

    // Registering the taken address again notices its owner by email: no second user.created is queued.
    app.clock.advance(61); // past the resend interval of the sign-up's code
    const before = (await rowsOf(userId)).length;
    const again = await app.gql('mutation($i: RegisterInput!) { register(input: $i) { expiresIn } }', {
      i: { email, password: PASSWORD },
    });
    expect(again.errors).toBeUndefined();
    const rows = await rowsOf(userId);
    expect(rows).toHaveLength(before);
    expect(rows.filter((r) => r.type === 'user.created')).toHaveLength(2); // one per endpoint
  });

  it('login, logout, revokeSession, refresh-token reuse and logoutAll: session.created and session.revoked', async () => {
    const first = await newUser();
    const { id: userId, email } = first.user;

    const other = await signedIn(email);
    expect(
      (
        await main.waitFor(
          'session.created',
          userId,
          (r) => r.payload.data.sessionId === sessionIdOf(other.accessToken),
        )
      ).payload.data,
    ).toEqual({ userId, actorId: userId, sessionId: sessionIdOf(other.accessToken), method: 'PASSWORD' });

    ok(await app.gql('mutation($t: String) { logout(refreshToken: $t) }', { t: other.refreshToken }));
    const loggedOut = await main.waitFor('session.revoked', userId, (r) => r.payload.data.reason === 'logout');
    expect(loggedOut.payload.data).toEqual({
      userId,
      actorId: userId,
      sessionId: sessionIdOf(other.accessToken),
      reason: 'logout',
    });

    const third = await signedIn(email);
    ok(
      await app.gql(
        'mutation($id: ID!) { revokeSession(id: $id) }',
        { id: sessionIdOf(third.accessToken) },
        { token: first.accessToken },
      ),
    );
    const revoked = await main.waitFor('session.revoked', userId, (r) => r.payload.data.reason === 'revoked');
    expect(revoked.payload.data).toEqual({
      userId,
      actorId: userId,
      sessionId: sessionIdOf(third.accessToken),
      reason: 'revoked',
    });

    const fourth = await signedIn(email);
    remember(ok(await refresh(app, fourth.refreshToken)).refresh);
    app.clock.advance(11); // past the 10 s grace window: replaying the rotated token is reuse
    expect(errorCode(await refresh(app, fourth.refreshToken))).toBe('UNAUTHENTICATED');
    const reuse = await main.waitFor('session.revoked', userId, (r) => r.payload.data.reason === 'refresh_token_reuse');
    expect(reuse.payload.data).toEqual({
      userId,
      actorId: null,
      sessionId: sessionIdOf(fourth.accessToken),
      reason: 'refresh_token_reuse',
    });

    ok(await app.gql('mutation { logoutAll }', {}, { token: first.accessToken, headers: CLIENT }));
    const all = await main.waitFor('session.revoked', userId, (r) => r.payload.data.reason === 'logout_all');
    expect(all.payload.data).toEqual({ userId, actorId: userId, sessionId: null, reason: 'logout_all' });
  });

  it('changePassword and resetPassword: user.updated with changes ["password"]', async () => {
    const tokens = await newUser();
    const { id: userId, email } = tokens.user;

    ok(
      await app.gql(
        'mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }',
        { c: PASSWORD, n: STRONG[0] },
        { token: tokens.accessToken, headers: CLIENT },
      ),
    );
    const changed = await main.waitFor('user.updated', userId);
    expect(changed.payload.data).toEqual({ userId, actorId: userId, email, changes: ['password'] });

    const before = app.smtp.messages.length;
    ok(await requestOtp(app, email, 'RESET_PASSWORD', CLIENT));
    const code = await app.smtp.codeFor(email, /Reset your password/, before);
    ok(await resetPassword(app, email, code, STRONG[1]!, CLIENT));
    await eventually(
      () => main.about(userId).filter((r) => r.payload.type === 'user.updated'),
      (updates) => updates.length === 2,
    );
    expect(main.about(userId).filter((r) => r.payload.type === 'user.updated')[1]!.payload.data).toEqual({
      userId,
      actorId: userId,
      email,
      changes: ['password'],
    });
  });

  it("an admin's setUserRoles and setUserActive: user.updated with the change, the admin as actor", async () => {
    const { user } = await newUser();
    const adminTokens = await signIn(app, admin);
    remember(adminTokens);

    ok(
      await app.gql(
        'mutation($id: ID!) { setUserRoles(userId: $id, roles: [USER, SUPPORT]) { id } }',
        { id: user.id },
        { token: adminTokens.accessToken },
      ),
    );
    const roles = await main.waitFor('user.updated', user.id, (r) => String(r.payload.data.changes) === 'roles');
    expect(roles.payload.data).toEqual({ userId: user.id, actorId: admin.id, email: user.email, changes: ['roles'] });

    ok(
      await app.gql(
        'mutation($id: ID!) { setUserActive(userId: $id, active: false) { id } }',
        { id: user.id },
        { token: adminTokens.accessToken },
      ),
    );
    const active = await main.waitFor('user.updated', user.id, (r) => String(r.payload.data.changes) === 'active');
    expect(active.payload.data).toEqual({ userId: user.id, actorId: admin.id, email: user.email, changes: ['active'] });
  });

  it('TOTP: mfa.enabled when the first factor turns MFA on, mfa.disabled when the last one goes; none between', async () => {
    const tokens = await newUser();
    const userId = tokens.user.id;

    const first = await enableTotp(app, tokens);
    const enabled = await main.waitFor('mfa.enabled', userId);
    expect(enabled.payload.data).toEqual({ userId, actorId: userId });
    const extra = await enableTotp(app, tokens, 'spare');
    for (const totp of [first, extra]) [totp.secret, ...totp.recoveryCodes].forEach((s) => secrets.add(s));

    const code = nextTotpCode(app, first.secret);
    secrets.add(code);
    const stepped = ok(
      await app.gql<{ reauthenticate: Tokens }>(
        'mutation($c: String!) { reauthenticate(code: $c) { accessToken } }',
        { c: code },
        { token: tokens.accessToken },
      ),
    ).reauthenticate;
    remember(stepped);
    const remove = (id: string) =>
      app.gql('mutation($id: ID!) { removeMfaFactor(id: $id) }', { id }, { token: stepped.accessToken });
    expect(ok(await remove(extra.factorId))).toEqual({ removeMfaFactor: true });
    expect(ok(await remove(first.factorId))).toEqual({ removeMfaFactor: true });

    const disabled = await main.waitFor('mfa.disabled', userId);
    expect(disabled.payload.data).toEqual({ userId, actorId: userId });
    // The second factor added and the first removed while MFA stayed on made no event.
    const mfaRows = (await rowsOf(userId)).filter((r) => r.type.startsWith('mfa.'));
    expect(mfaRows.map((r) => r.type).sort()).toEqual(['mfa.disabled', 'mfa.disabled', 'mfa.enabled', 'mfa.enabled']);
  });

  it('a change that fails to commit sends nothing: its deliveries are written in its own transaction', async () => {
    const tokens = await newUser();
    const userId = tokens.user.id;
    // The database refuses this user's PASSWORD_CHANGED audit row, so changePassword's transaction rolls back.
    await app.sql(
      "create function webhook_test_refuse() returns trigger language plpgsql as $$ begin raise exception 'refused'; end $$",
    );
    await app.sql(
      `create trigger webhook_test_refuse before insert on audit_events for each row
       when (new.type = 'PASSWORD_CHANGED' and new.subject_user_id = '${userId}') execute function webhook_test_refuse()`,
    );
    try {
      const res = await app.gql(
        'mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }',
        { c: PASSWORD, n: STRONG[0] },
        { token: tokens.accessToken },
      );
      expect(res.data?.changePassword).toBeFalsy();
      expect(res.errors).toBeDefined();
    } finally {
      await app.sql('drop trigger webhook_test_refuse on audit_events');
      await app.sql('drop function webhook_test_refuse()');
    }
    expect((await signedIn(tokens.user.email, PASSWORD)).user.id).toBe(userId); // the password did not change
    await main.waitFor('session.created', userId, (r) => r.payload.data.method === 'PASSWORD');
    expect((await rowsOf(userId)).filter((r) => r.type === 'user.updated')).toEqual([]);
  });

  it('confirmEmailChange: user.updated with changes ["email"] and the new address', async () => {
    const tokens = await newUser();
    const userId = tokens.user.id;
    const newEmail = uniqueEmail('hook-moved');
    const before = app.smtp.messages.length;
    ok(await requestEmailChange(app, tokens.accessToken, newEmail));
    const code = await app.smtp.codeFor(newEmail, CHANGE_CODE_SUBJECT, before);
    expect(ok(await confirmEmailChange(app, tokens.accessToken, code)).confirmEmailChange.email).toBe(newEmail);

    const moved = await main.waitFor('user.updated', userId);
    expect(moved.payload.data).toEqual({ userId, actorId: userId, email: newEmail, changes: ['email'] });
  });

  it("deleteAccount and an admin's deleteUser: user.deleted with the address, and no event for the sessions ended", async () => {
    const own = await newUser();
    ok(await deleteAccount(app, own.accessToken));
    const gone = await main.waitFor('user.deleted', own.user.id);
    expect(gone.payload.data).toEqual({ userId: own.user.id, actorId: own.user.id, email: own.user.email });

    const admin2 = await mfaAdmin(app);
    remember(admin2.tokens);
    const other = await newUser();
    await signedIn(other.user.email); // a second live session, ended with the account
    // Deliveries about the account that went out before it was deleted are deleted with it (they name its address);
    // one still on its way when it is deleted goes out and stays until the retention, like the user.deleted one.
    const deliveredAbout = async (id: string) =>
      app.sql<{ id: string; type: string }>(
        `select id, type from webhook_deliveries where delivered_at is not null
          and payload::jsonb -> 'data' ->> 'userId' = ?`,
        [id],
      );
    const delivered = await eventually(
      () => deliveredAbout(other.user.id),
      (rows) => rows.some((r) => r.type === 'session.created'),
    );
    ok(await deleteUser(app, admin2.tokens.accessToken, other.user.id));
    const ids = delivered.map((r) => r.id);
    expect(
      await app.sql(`select id from webhook_deliveries where id in (${ids.map(() => '?').join(', ')})`, ids),
    ).toEqual([]);
    const removed = await main.waitFor('user.deleted', other.user.id);
    expect(removed.payload.data).toEqual({ userId: other.user.id, actorId: admin2.user.id, email: other.user.email });
    const types = (await rowsOf(other.user.id)).map((r) => r.type);
    expect(types.filter((t) => t === 'session.revoked')).toEqual([]);
    expect(types.filter((t) => t === 'user.deleted')).toHaveLength(2); // one per endpoint
  });

  it('no payload holds a password, a code, a token, a secret, an IP address or a user agent', async () => {
    for (const mail of app.smtp.messages) for (const code of mail.text.match(/\b\d{6}\b/g) ?? []) secrets.add(code);
    // The requests' IP and user agent are in the audit trail, so they were there to leak.
    const audited = await app.sql<{ ip: string; user_agent: string }>(
      "select ip, user_agent from audit_events where ip = '203.0.113.77' limit 1",
    );
    expect(audited).toEqual([{ ip: '203.0.113.77', user_agent: 'WebhookTest/9.9' }]);

    const stored = (await app.sql<{ payload: string }>('select payload from webhook_deliveries')).map((r) => r.payload);
    const bodies = [...main.requests, ...second.requests].map((r) => r.body);
    expect(bodies.length).toBeGreaterThan(20);
    const leaks = [...stored, ...bodies].flatMap((body) => {
      const found = [...secrets].filter((s) => standsIn(body, s));
      if (
        /\b\d{1,3}(\.\d{1,3}){3}\b|::1|WebhookTest|\$2[aby]\$|"(password|code|token|secret|ip|userAgent)":/.test(body)
      )
        found.push(body);
      return found;
    });
    expect(leaks).toEqual([]);
  });
});

describe('delivery', () => {
  it('the receiver down, then back: every delivery arrives, each exactly once', async () => {
    await main.stop();
    const tokens = await newUser();
    const userId = tokens.user.id;
    await signedIn(tokens.user.email);
    // The first try of each failed (nothing listens); the clock has not moved, so no retry is due yet.
    const failed = await eventually(
      async () => (await rowsOf(userId)).filter((r) => r.endpoint.includes('/hooks/main')),
      (rows) => rows.length === 3 && rows.every((r) => r.attempts === 1),
    );
    expect(failed.map((r) => [r.delivered_at, r.last_status])).toEqual([
      [null, null],
      [null, null],
      [null, null],
    ]);
    expect(failed[0]!.last_error).toMatch(/ECONNREFUSED/);

    await main.start();
    const rows = await withClockMoving(
      async () => (await rowsOf(userId)).filter((r) => r.endpoint.includes('/hooks/main')),
      (all) => all.every((r) => r.delivered_at !== null),
    );

    expect(rows.map((r) => r.attempts)).toEqual([2, 2, 2]);
    const received = main.requests.filter((r) => r.payload.data.userId === userId);
    expect(received.map((r) => r.id).sort()).toEqual(rows.map((r) => r.message_id).sort()); // once each
    expect(received.map((r) => r.payload.type).sort()).toEqual(['session.created', 'session.created', 'user.created']);
    expect(received.every((r) => r.verified && r.status === 204)).toBe(true);
  });

  it('a receiver that always fails: dead after WEBHOOK_MAX_ATTEMPTS, listed for admins, audited, redelivered', async () => {
    second.status = 500;
    second.errorBody = `${'E'.repeat(300)} the answer body goes on`;
    let userId: string;
    let dead: DeliveryRow[];
    try {
      userId = (await newUser()).user.id;
      dead = await withClockMoving(
        async () => (await rowsOf(userId)).filter((r) => r.endpoint.includes('/hooks/second')),
        (rows) => rows.length === 2 && rows.every((r) => r.dead_at !== null),
      );
    } finally {
      second.status = 204;
    }
    // Three tries each, every one signed and verified, and then no more.
    for (const row of dead) {
      const tries = second.requests.filter((r) => r.id === row.message_id);
      expect(tries.map((r) => [r.verified, r.status])).toEqual([
        [true, 500],
        [true, 500],
        [true, 500],
      ]);
      expect(row).toMatchObject({ attempts: 3, delivered_at: null, last_status: 500 });
    }
    // The same events reached the working endpoint.
    expect(
      main
        .about(userId)
        .map((r) => r.payload.type)
        .sort(),
    ).toEqual(['session.created', 'user.created']);

    const adminTokens = await signIn(app, admin);
    remember(adminTokens);
    const token = adminTokens.accessToken;
    const listed = ok(
      await app.gql<{ webhookDeliveries: { edges: { node: DeliveryView }[] } }>(DELIVERIES, { f: 100 }, { token }),
    )
      .webhookDeliveries.edges.map((e) => e.node)
      .filter((n) => n.payload.data.userId === userId);
    expect(listed.map((n) => n.messageId).sort()).toEqual(dead.map((r) => r.message_id).sort());
    const view = listed.find((n) => n.type === 'user.created')!;
    expect(view).toMatchObject({
      status: 'DEAD',
      attempts: 3,
      lastStatus: 500,
      endpoint: second.url.replace(/\?.*$/, ''), // the receiver's key in the query string is not shown
      deliveredAt: null,
      nextAttemptAt: null,
      payload: { type: 'user.created', data: { userId } },
    });
    expect(view.deadAt).not.toBeNull();
    expect(view.lastError).toBe(`HTTP 500: ${'E'.repeat(200)}`);
    expect(JSON.stringify(listed)).not.toContain(SECRET.slice('whsec_'.length, 20));
    expect(JSON.stringify(listed)).not.toContain('receiver-key');

    const audit = ok(
      await app.gql<{ auditEvents: { edges: { node: { type: string; detail: string } }[] } }>(
        'query($u: ID) { auditEvents(userId: $u, type: WEBHOOK_DELIVERY_FAILED) { edges { node { type detail } } } }',
        { u: userId },
        { token },
      ),
    ).auditEvents.edges.map((e) => e.node);
    expect(audit).toHaveLength(2);
    expect(audit.map((e) => e.detail).join()).toContain(view.messageId);
    expect(audit.map((e) => e.detail).join()).not.toContain('receiver-key');

    const redelivered = ok(
      await app.gql<{ redeliverWebhook: DeliveryView }>(REDELIVER, { id: view.id }, { token }),
    ).redeliverWebhook;
    expect(redelivered).toMatchObject({ id: view.id, messageId: view.messageId, status: 'PENDING', attempts: 0 });
    const arrived = await second.waitFor('user.created', userId);
    expect(arrived).toMatchObject({ id: view.messageId, verified: true, status: 204 });
    expect(arrived.body).toBe(second.requests.find((r) => r.id === view.messageId)!.body); // the very same body

    const delivered = ok(
      await app.gql<{ webhookDeliveries: { edges: { node: DeliveryView }[] } }>(
        DELIVERIES,
        { s: 'DELIVERED', f: 100 },
        { token },
      ),
    ).webhookDeliveries.edges.map((e) => e.node);
    expect(delivered.find((n) => n.id === view.id)).toMatchObject({
      status: 'DELIVERED',
      attempts: 1,
      lastStatus: 204,
    });
    // The other dead delivery was not touched.
    const stillDead = ok(
      await app.gql<{ webhookDeliveries: { edges: { node: DeliveryView }[] } }>(DELIVERIES, { f: 100 }, { token }),
    )
      .webhookDeliveries.edges.map((e) => e.node)
      .filter((n) => n.payload.data.userId === userId);
    expect(stillDead.map((n) => n.type)).toEqual(['session.created']);
  });

  it('redeliverWebhook: an id no delivery has, or no id at all, is BAD_USER_INPUT', async () => {
    const { accessToken: token } = await signIn(app, admin);
    for (const id of ['999999999', 'abc', '-1', '1'.repeat(30)]) {
      const res = await app.gql(REDELIVER, { id }, { token });
      expect({ id, code: errorCode(res), field: res.errors?.[0]?.extensions?.field }).toEqual({
        id,
        code: 'BAD_USER_INPUT',
        field: 'id',
      });
    }
  });

  it('pages through deliveries newest first with a cursor', async () => {
    const { accessToken: token } = await signIn(app, admin);
    // Once the sign-in's own deliveries are out, the DELIVERED list holds still while it is paged.
    await eventually(
      async () =>
        app.sql<{ n: number }>(
          'select count(*)::int as n from webhook_deliveries where delivered_at is null and dead_at is null',
        ),
      (rows) => rows[0]?.n === 0,
    );
    type Page = {
      webhookDeliveries: {
        totalCount: number;
        pageInfo: { hasNextPage: boolean; endCursor: string };
        edges: { node: DeliveryView }[];
      };
    };
    const one = ok(await app.gql<Page>(DELIVERIES, { s: 'DELIVERED', f: 2 }, { token })).webhookDeliveries;
    expect(one.edges).toHaveLength(2);
    expect(one.pageInfo.hasNextPage).toBe(true);
    const two = ok(
      await app.gql<Page>(DELIVERIES, { s: 'DELIVERED', f: 2, a: one.pageInfo.endCursor }, { token }),
    ).webhookDeliveries;
    const ids = [...one.edges, ...two.edges].map((e) => Number(e.node.id));
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
    expect(new Set(ids).size).toBe(4);
    expect(one.totalCount).toBe(two.totalCount);
    expect(errorCode(await app.gql(DELIVERIES, { a: 'not-a-cursor' }, { token }))).toBe('BAD_USER_INPUT');
  });
});

describe('who may', () => {
  it('USER and SUPPORT get FORBIDDEN for both operations', async () => {
    for (const roles of [['USER'], ['SUPPORT']] as const) {
      const { accessToken: token } = await signIn(app, await createUser(app, { roles: [...roles] }));
      expect(errorCode(await app.gql(DELIVERIES, {}, { token }))).toBe('FORBIDDEN');
      expect(errorCode(await app.gql(REDELIVER, { id: '1' }, { token }))).toBe('FORBIDDEN');
    }
    expect(errorCode(await app.gql(DELIVERIES))).toBe('UNAUTHENTICATED');
  });

  it('redeliverWebhook needs a recent sign-in (STEP_UP_MAX_AGE); listing does not', async () => {
    const { accessToken: token } = await signIn(app, admin);
    app.clock.advance(301);
    expect(errorCode(await app.gql(REDELIVER, { id: '1' }, { token }))).toBe('STEP_UP_REQUIRED');
    expect((await app.gql(DELIVERIES, {}, { token })).errors).toBeUndefined();
  });
});

describe('without WEBHOOK_URLS', () => {
  it('nothing is queued: a second server on the same database, with webhooks off, signs a user up', async () => {
    const config = loadConfig(serverEnv(app.db, { NODE_ENV: 'test', SMTP_URL: app.smtp.url }));
    expect(config.webhooks).toEqual({ urls: [], secret: undefined, maxAttempts: 8, timeoutMs: 10_000 });
    const off = await createServer(config, { clock: app.clock, logger: silentLogger });
    try {
      const client = {
        ...graphqlClient(`http://127.0.0.1:${await off.listen(0, '127.0.0.1')}/graphql`),
        smtp: app.smtp,
      };
      const { user } = await signUp(client);
      const audited = await app.sql('select 1 from audit_events where subject_user_id = ?', [user.id]);
      expect(audited.length).toBeGreaterThan(0);
      expect(await rowsOf(user.id)).toEqual([]);
    } finally {
      await off.stop();
    }
  });
});

describe('configuration', () => {
  const HOOK_URL = 'https://hooks.example.com/portcullis';
  /** The variable a ConfigError names and its message, or 'accepted'. */
  function refusal(env: Record<string, string>, isProduction = false): { variable: string; message: string } | string {
    try {
      loadWebhooks(env, isProduction);
      return 'accepted';
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return { variable: (err as ConfigError).variable, message: (err as ConfigError).message };
    }
  }

  it('reads the URLs, the secret and the defaults (8 tries, 10 s)', () => {
    expect(
      loadWebhooks({ WEBHOOK_URLS: ` ${HOOK_URL} , http://localhost:9000/in `, WEBHOOK_SECRET: SECRET }, true),
    ).toEqual({
      urls: [HOOK_URL, 'http://localhost:9000/in'],
      secret: SECRET,
      maxAttempts: 8,
      timeoutMs: 10_000,
    });
    expect(loadWebhooks({}, true)).toEqual({ urls: [], secret: undefined, maxAttempts: 8, timeoutMs: 10_000 });
  });

  it.each([
    ['a URL that is not one', { WEBHOOK_URLS: 'hooks.example.com', WEBHOOK_SECRET: SECRET }, 'WEBHOOK_URLS'],
    ['another scheme', { WEBHOOK_URLS: 'ftp://hooks.example.com/', WEBHOOK_SECRET: SECRET }, 'WEBHOOK_URLS'],
    [
      'credentials in the URL',
      { WEBHOOK_URLS: 'https://u:p@hooks.example.com/', WEBHOOK_SECRET: SECRET },
      'WEBHOOK_URLS',
    ],
    ['URLs without a secret', { WEBHOOK_URLS: HOOK_URL }, 'WEBHOOK_SECRET'],
    ['a secret without URLs', { WEBHOOK_SECRET: SECRET }, 'WEBHOOK_SECRET'],
    ['a secret without whsec_', { WEBHOOK_URLS: HOOK_URL, WEBHOOK_SECRET: SECRET.slice(6) }, 'WEBHOOK_SECRET'],
    ['a short secret', { WEBHOOK_URLS: HOOK_URL, WEBHOOK_SECRET: 'whsec_c2hvcnQ=' }, 'WEBHOOK_SECRET'],
    [
      'a secret that is not base64',
      { WEBHOOK_URLS: HOOK_URL, WEBHOOK_SECRET: `whsec_${'!'.repeat(40)}` },
      'WEBHOOK_SECRET',
    ],
    ['no tries', { WEBHOOK_MAX_ATTEMPTS: '0' }, 'WEBHOOK_MAX_ATTEMPTS'],
    ['a timeout that is no number', { WEBHOOK_TIMEOUT_MS: '10s' }, 'WEBHOOK_TIMEOUT_MS'],
  ])('refuses %s, naming the variable', (_why, env, variable) => {
    expect(refusal(env)).toMatchObject({ variable, message: expect.stringContaining(variable) });
  });

  it('refuses http:// in production except to this machine; loadConfig reads it all', () => {
    const plain = { WEBHOOK_URLS: 'http://hooks.example.com/in', WEBHOOK_SECRET: SECRET };
    expect(refusal(plain)).toBe('accepted');
    expect(refusal(plain, true)).toMatchObject({ variable: 'WEBHOOK_URLS' });
    expect(refusal({ ...plain, WEBHOOK_URLS: 'http://127.0.0.1:9000/in' }, true)).toBe('accepted');
    const production = {
      NODE_ENV: 'production',
      DATABASE_URL: 'postgres://portcullis@db.example.com:5432/portcullis',
      SMTP_URL: 'smtp://mail.example.com:587',
      JWT_SECRET: TEST_JWT_SECRET,
      DATA_ENCRYPTION_KEYS: TEST_DATA_KEYS,
    };
    expect(() => loadConfig({ ...production, ...plain })).toThrow(
      'Invalid configuration: WEBHOOK_URLS "http://hooks.example.com/in" must be https:// when NODE_ENV=production',
    );
    expect(loadConfig({ ...production, WEBHOOK_URLS: HOOK_URL, WEBHOOK_SECRET: SECRET }).webhooks.urls).toEqual([
      HOOK_URL,
    ]);
  });
});
