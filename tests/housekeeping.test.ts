// Housekeeping removes what no rule reads any more, in batches, and is safe to run on several instances.
import { signUp } from './helpers/flows';
import { startTestApp, type TestApp } from './helpers/test-server';

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp({ env: { RETENTION_DAYS: '7' } });
});
afterAll(async () => {
  await app.stop();
});

const DAY = 86_400_000;
const HOUR = 3_600_000;
const ago = (ms: number): Date => new Date(app.clock.now().getTime() - ms);

async function seed(userId: string, tag: string): Promise<void> {
  const code = (email: string, created: Date, expires: Date, consumed: Date | null) =>
    app.sql(
      `insert into otp_codes (id, email, purpose, user_id, code_hash, attempts, created_at, expires_at, consumed_at)
       values (gen_random_uuid(), ?, 'LOGIN', null, 'h', 0, ?, ?, ?)`,
      [email, created, expires, consumed],
    );
  await code('old-expired@hk.test', ago(9 * DAY), ago(9 * DAY - 600_000), null);
  await code('old-consumed@hk.test', ago(8 * DAY), ago(8 * DAY - 600_000), ago(8 * DAY));
  await code('recent-consumed@hk.test', ago(DAY), ago(DAY - 600_000), ago(DAY));
  await code('live@hk.test', ago(60_000), ago(-540_000), null);

  for (const at of [ago(25 * 3_600_000), ago(23 * 3_600_000)]) {
    // the strangers' pool looks back 24 h
    await app.sql('insert into otp_failures (email, failed_at) values (?, ?)', ['fail@hk.test', at]);
  }

  const session = async (hash: string, expires: Date, revoked: Date | null) => {
    const [row] = await app.sql<{ id: string }>(
      `insert into sessions (id, user_id, current_token_hash, created_at, auth_time, last_used_at, expires_at, revoked_at)
       values (gen_random_uuid(), ?, ?, ?, ?, ?, ?, ?) returning id`,
      [userId, `${hash}${tag}`, ago(20 * DAY), ago(20 * DAY), ago(20 * DAY), expires, revoked],
    );
    await app.sql('insert into retired_refresh_tokens (token_hash, session_id, retired_at) values (?, ?, ?)', [
      `retired-${hash}${tag}`,
      row!.id,
      ago(20 * DAY),
    ]);
  };
  await session('expired-long-ago', ago(10 * DAY), null);
  await session('revoked-long-ago', ago(-DAY), ago(8 * DAY));
  await session('revoked-yesterday', ago(-DAY), ago(DAY));

  const mail = (recipient: string, sent: Date | null) =>
    app.sql(
      `insert into mail_outbox (recipient, kind, payload, attempts, created_at, next_attempt_at, sent_at)
       values (?, 'login-code', null, 1, ?, ?, ?)`,
      [recipient, ago(9 * DAY), ago(-DAY), sent],
    );
  await mail('sent-long-ago@hk.test', ago(9 * DAY));
  await mail('sent-yesterday@hk.test', ago(DAY));

  // Social sign-in flows go an hour after their state expired; remembered ID tokens once they expired.
  const flow = (state: string, expires: Date) =>
    app.sql(
      `insert into oauth_flows (id, state_hash, provider, purpose, nonce, provider_verifier, app_challenge,
         redirect_uri, created_at, expires_at)
       values (gen_random_uuid(), ?, 'acme', 'SIGN_IN', 'n', 'v', 'c', 'https://app.example/cb', ?, ?)`,
      [`${state}${tag}`, ago(DAY), expires],
    );
  await flow('flow-expired-2h-ago', ago(2 * HOUR));
  await flow('flow-expired-30min-ago', ago(HOUR / 2));
  await flow('flow-live', ago(-HOUR / 12));
  const idToken = (hash: string, expires: Date) =>
    app.sql('insert into used_id_tokens (hash, expires_at) values (?, ?)', [`${hash}${tag}`, expires]);
  await idToken('id-token-expired', ago(60_000));
  await idToken('id-token-live', ago(-600_000));

  // MFA tickets and WebAuthn ceremonies go an hour after they expired.
  const ticket = (hash: string, expires: Date) =>
    app.sql(
      `insert into mfa_tickets (id, ticket_hash, user_id, amr, method, attempts, created_at, expires_at)
       values (gen_random_uuid(), ?, ?, '{pwd}', 'PASSWORD', 0, ?, ?)`,
      [`${hash}${tag}`, userId, ago(DAY), expires],
    );
  await ticket('ticket-expired-2h-ago', ago(2 * HOUR));
  await ticket('ticket-live', ago(-HOUR / 12));
  const ceremony = (challenge: string, expires: Date) =>
    app.sql(
      `insert into webauthn_challenges (id, purpose, user_id, challenge, created_at, expires_at)
       values (gen_random_uuid(), 'SIGN_IN', null, ?, ?, ?)`,
      [`${challenge}${tag}`, ago(DAY), expires],
    );
  await ceremony('challenge-expired-2h-ago', ago(2 * HOUR));
  await ceremony('challenge-expired-30min-ago', ago(HOUR / 2));

  // A signing key goes once it retired longer ago than the retention (and 2 days); API keys revoked or expired too.
  const signingKey = (kid: string, retired: Date) =>
    app.sql(
      `insert into signing_keys (kid, algorithm, public_jwk, private_key, created_at, activated_at, retired_at)
       values (?, 'ES256', '{}', 'x', ?, ?, ?)`,
      [`${kid}${tag}`, ago(40 * DAY), ago(40 * DAY), retired],
    );
  await signingKey('key-retired-10-days-ago', ago(10 * DAY));
  await signingKey('key-retired-yesterday', ago(DAY));
  const apiKey = (hash: string, revoked: Date | null, expires: Date | null) =>
    app.sql(
      `insert into api_keys (id, user_id, name, prefix, secret_hash, scopes, created_at, expires_at, revoked_at)
       values (gen_random_uuid(), ?, 'k', 'pcl_x', ?, '{self:read}', ?, ?, ?)`,
      [userId, `${hash}${tag}`, ago(30 * DAY), expires, revoked],
    );
  await apiKey('api-key-revoked-long-ago', ago(8 * DAY), null);
  await apiKey('api-key-expired-long-ago', null, ago(8 * DAY));
  await apiKey('api-key-revoked-yesterday', ago(DAY), null);
  await apiKey('api-key-live', null, null);

  // Webhook deliveries go once delivered or dead longer ago than the retention; pending ones stay however old.
  const webhook = (id: string, delivered: Date | null, dead: Date | null) =>
    app.sql(
      `insert into webhook_deliveries (message_id, endpoint, type, payload, created_at, next_attempt_at, delivered_at,
         dead_at) values (?, 'https://hooks.example/in', 'user.created', '{}', ?, ?, ?, ?)`,
      [`${id}${tag}`, ago(20 * DAY), ago(-DAY), delivered, dead],
    );
  await webhook('msg_delivered-long-ago', ago(8 * DAY), null);
  await webhook('msg_dead-long-ago', null, ago(8 * DAY));
  await webhook('msg_delivered-yesterday', ago(DAY), null);
  await webhook('msg_dead-yesterday', null, ago(DAY));
  await webhook('msg_pending-old', null, null);

  // Networks and devices go once unseen for 90 days (the sign-up's own, seen now, stay).
  await app.sql('insert into known_networks (user_id, network, last_seen_at) values (?, ?, ?)', [
    userId,
    `198.51.100.7${tag}`,
    ago(91 * DAY),
  ]);
  const device = (browser: string, lastSeen: Date) =>
    app.sql(
      `insert into known_devices (user_id, browser, os, network, first_seen_at, last_seen_at)
       values (?, ?, 'Linux', '198.51.100.0/24', ?, ?)`,
      [userId, `${browser}${tag}`, ago(200 * DAY), lastSeen],
    );
  await device('device-unseen-91-days', ago(91 * DAY));
  await device('device-seen-89-days-ago', ago(89 * DAY));
}

describe('housekeeping', () => {
  it('removes old used or expired codes, failures past the hour, long-ended sessions, old sent mail, dead sign-in flows, expired ID tokens, MFA tickets, WebAuthn ceremonies, long-retired signing keys and ended API keys, and keeps the rest', async () => {
    const user = await signUp(app);
    await seed(user.user.id, '');

    const removed = await app.server.housekeeping.runOnce();

    const emails = (await app.sql<{ email: string }>("select email from otp_codes where email like '%@hk.test'")).map(
      (r) => r.email,
    );
    expect(emails.sort()).toEqual(['live@hk.test', 'recent-consumed@hk.test']);
    expect(await app.sql("select 1 from otp_failures where email = 'fail@hk.test'")).toHaveLength(1);
    const hashes = (await app.sql<{ h: string }>('select current_token_hash as h from sessions')).map((r) => r.h);
    expect(hashes).toEqual(expect.arrayContaining(['revoked-yesterday']));
    expect(hashes).not.toEqual(expect.arrayContaining(['expired-long-ago']));
    expect(hashes).not.toEqual(expect.arrayContaining(['revoked-long-ago']));
    // Retired tokens go with their session.
    const retired = (await app.sql<{ h: string }>('select token_hash as h from retired_refresh_tokens')).map(
      (r) => r.h,
    );
    expect(retired.sort()).toEqual(['retired-revoked-yesterday']);
    const recipients = (
      await app.sql<{ r: string }>("select recipient as r from mail_outbox where recipient like '%@hk.test'")
    ).map((r) => r.r);
    expect(recipients).toEqual(['sent-yesterday@hk.test']);
    const flows = (await app.sql<{ s: string }>('select state_hash as s from oauth_flows')).map((r) => r.s);
    expect(flows.sort()).toEqual(['flow-expired-30min-ago', 'flow-live']);
    const idTokens = (await app.sql<{ h: string }>('select hash as h from used_id_tokens')).map((r) => r.h);
    expect(idTokens).toEqual(['id-token-live']);
    const tickets = (await app.sql<{ h: string }>('select ticket_hash as h from mfa_tickets')).map((r) => r.h);
    expect(tickets).toEqual(['ticket-live']);
    const challenges = (await app.sql<{ c: string }>('select challenge as c from webauthn_challenges')).map((r) => r.c);
    expect(challenges).toEqual(['challenge-expired-30min-ago']);
    const kids = (await app.sql<{ k: string }>("select kid as k from signing_keys where kid like 'key-%'")).map(
      (r) => r.k,
    );
    expect(kids).toEqual(['key-retired-yesterday']);
    const apiKeys = (await app.sql<{ h: string }>('select secret_hash as h from api_keys')).map((r) => r.h);
    expect(apiKeys.sort()).toEqual(['api-key-live', 'api-key-revoked-yesterday']);
    const webhooks = (
      await app.sql<{ m: string }>("select message_id as m from webhook_deliveries where endpoint like '%.example/%'")
    ).map((r) => r.m);
    expect(webhooks.sort()).toEqual(['msg_dead-yesterday', 'msg_delivered-yesterday', 'msg_pending-old']);
    const devices = (
      await app.sql<{ b: string }>("select browser as b from known_devices where browser like 'device-%'")
    ).map((r) => r.b);
    expect(devices).toEqual(['device-seen-89-days-ago']);
    expect(await app.sql('select network from known_networks where user_id = ?', [user.user.id])).toHaveLength(1);
    expect(removed).toEqual({
      otp_codes: 2,
      otp_failures: 1,
      sessions: 2,
      mail_outbox: 1,
      oauth_flows: 1,
      used_id_tokens: 1,
      mfa_tickets: 1,
      webauthn_challenges: 1,
      signing_keys: 1,
      api_keys: 2,
      known_networks: 1,
      known_devices: 1,
      webhook_deliveries: 2,
    });

    // The user who signed up just now still works: nothing live was touched.
    const me = await app.gql('{ me { id } }', {}, { token: user.accessToken });
    expect(me.data?.me).toEqual({ id: user.user.id });
  });

  it('runs on several instances at once without errors or double counting', async () => {
    const user = await signUp(app);
    await seed(user.user.id, '-2');
    const results = await Promise.all([1, 2, 3].map(() => app.server.housekeeping.runOnce()));
    const total = (table: string) => results.reduce((n, r) => n + (r[table] ?? 0), 0);
    expect(total('otp_codes')).toBe(2);
    expect(total('sessions')).toBe(2);
    expect(total('mail_outbox')).toBe(1);
    expect(total('oauth_flows')).toBe(1);
    expect(total('used_id_tokens')).toBe(1);
    expect(total('webhook_deliveries')).toBe(2);
  });
});
