// myData (issue #17) through HTTP: one JSON document with everything Portcullis holds about the signed-in user —
// the account, its sessions (ended ones too, the caller's marked current), provider identities, second factors,
// recovery codes left, API keys, known devices and audit events — and never a secret: no password or code hash,
// no refresh or access token, no TOTP secret, no recovery code, no API key secret, no sealed value. Nor anything of
// another user.
import { linkIdentity, myData, newApiKey, requestEmailChange } from './helpers/account';
import { createUser, signIn } from './helpers/factories';
import { AUTH_FIELDS, login, me, PASSWORD, signUp, uniqueEmail, type Tokens } from './helpers/flows';
import { enableTotp, mfaTicketOf } from './helpers/mfa';
import { startTestProvider, type TestProvider } from './helpers/oidc-provider';
import { acmeEnv, fixtureClient } from './helpers/social';
import { errorCode, startTestApp, type TestApp } from './helpers/test-server';

const CHROME_LINUX = {
  'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36',
  'x-forwarded-for': '203.0.113.7',
};
const FIREFOX_WINDOWS = {
  'user-agent': 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0',
  'x-forwarded-for': '198.51.100.9',
};

const ISO = expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);

let provider: TestProvider;
let app: TestApp;

beforeAll(async () => {
  provider = await startTestProvider([fixtureClient('acme')]);
  app = await startTestApp({
    env: { TRUST_PROXY: 'loopback', ...acmeEnv(provider) },
  });
});
afterAll(async () => {
  await app?.stop();
  await provider?.stop();
});

const loginFrom = async (email: string, headers: Record<string, string>): Promise<Tokens> =>
  (await login(app, email, PASSWORD, headers)).data!.login;

const sessionsSeen = async (token: string): Promise<Array<{ id: string; current: boolean }>> =>
  (await app.gql<{ sessions: Array<{ id: string; current: boolean }> }>('{ sessions { id current } }', {}, { token }))
    .data!.sessions;

const sessionIdOf = async (token: string): Promise<string> => (await sessionsSeen(token)).find((s) => s.current)!.id;

/** Every 6-digit run in the mail sent to `addresses`: the codes the user was emailed. */
const codesMailedTo = (...addresses: string[]): string[] =>
  app.smtp.messages
    .filter((m) => addresses.map((a) => a.toLowerCase()).includes(m.to))
    .flatMap((m) => m.text.match(/\d{6}/g) ?? []);

/**
 * An account with a bit of everything, made through the API: sessions from two devices (one ended), a linked
 * provider account, TOTP with one recovery code spent, a live and a revoked API key, a pending email change. Returns
 * what a leak would show: every token, secret and code the user was given, and the session the export is read from.
 */
async function fullAccount() {
  const email = uniqueEmail('export');
  const first = await signUp(app, email, PASSWORD, CHROME_LINUX);
  const fromWindows = await loginFrom(email, FIREFOX_WINDOWS);
  const ended = await loginFrom(email, CHROME_LINUX);
  const endedId = await sessionIdOf(ended.accessToken);
  const logout = await app.gql('mutation($t: String) { logout(refreshToken: $t) }', { t: ended.refreshToken });
  expect(logout.body).toEqual({ data: { logout: true } });
  const linked = await linkIdentity(app, provider, 'acme', email);
  expect(linked.res.data?.signInWithIdToken.user.id).toBe(first.user.id);

  const live = await newApiKey(app, first.accessToken, ['self:read'], 'backup script');
  const revoked = await newApiKey(app, first.accessToken, ['self:read', 'self:write'], 'old laptop');
  const revoke = await app.gql(
    'mutation($id: ID!) { revokeApiKey(id: $id) }',
    { id: revoked.apiKey.id },
    {
      token: first.accessToken,
    },
  );
  expect(revoke.body).toEqual({ data: { revokeApiKey: true } });
  const pending = uniqueEmail('export-pending');
  const before = app.smtp.messages.length;
  expect((await requestEmailChange(app, first.accessToken, pending)).errors).toBeUndefined();
  await app.smtp.codeFor(pending, /Confirm your new email address/, before);

  const totp = await enableTotp(app, first, 'Phone');
  const spent = totp.recoveryCodes[0]!;
  const unused = totp.recoveryCodes.slice(1);
  const ticket = mfaTicketOf(await login(app, email, PASSWORD, FIREFOX_WINDOWS));
  const verified = await app.gql<{ verifyMfa: Tokens }>(
    `mutation($t: String!, $r: String) { verifyMfa(ticket: $t, recoveryCode: $r) { ${AUTH_FIELDS} } }`,
    { t: ticket, r: spent },
    { headers: FIREFOX_WINDOWS },
  );
  const current = verified.data!.verifyMfa;
  const codes = codesMailedTo(email, pending);
  return {
    email,
    userId: first.user.id,
    first,
    fromWindows,
    ended,
    endedId,
    linked,
    live,
    revoked,
    totp,
    spent,
    unused,
    current,
    codes,
  };
}

describe('myData', () => {
  it('holds the account, every session (ended ones too, this one current), identities, factors, recovery codes left, API keys, devices and audit events', async () => {
    const a = await fullAccount();
    const res = await myData(app, a.current.accessToken);
    expect(res.errors).toBeUndefined();
    const data = res.data!.myData;

    expect(data.format).toBe('portcullis.export.v1');
    expect(data.exportedAt).toBe(app.clock.now().toISOString());
    expect(data.user).toEqual({
      id: a.userId,
      email: a.email.toLowerCase(),
      fullName: null,
      emailVerified: true,
      active: true,
      roles: ['USER'],
      scopes: ['self:read', 'self:write'],
      hasPassword: true,
      createdAt: ISO,
      updatedAt: ISO,
    });

    const seen = await sessionsSeen(a.current.accessToken);
    const sessions = data.sessions as Array<Record<string, unknown>>;
    const stored = await app.sql<{ id: string }>('select id::text as id from sessions where user_id = ?', [a.userId]);
    expect(sessions.map((s) => s.id).sort()).toEqual(stored.map((r) => r.id).sort());
    expect(sessions.map((s) => s.id)).toEqual(expect.arrayContaining([...seen.map((s) => s.id), a.endedId]));
    for (const s of seen) expect(sessions.find((e) => e.id === s.id)).toMatchObject({ revokedAt: null });
    for (const s of sessions) {
      expect(s).toMatchObject({ id: expect.any(String), createdAt: ISO, lastUsedAt: ISO, expiresAt: ISO });
    }
    const currentId = seen.find((s) => s.current)!.id;
    expect(sessions.filter((s) => s.current === true).map((s) => s.id)).toEqual([currentId]);
    expect(sessions.find((s) => s.id === currentId)).toMatchObject({
      ip: '198.51.100.9',
      userAgent: FIREFOX_WINDOWS['user-agent'],
      revokedAt: null,
    });
    expect(sessions.find((s) => s.id === a.endedId)).toMatchObject({ revokedAt: ISO, current: false });
    expect(sessions.map((s) => s.userAgent)).toEqual(expect.arrayContaining([CHROME_LINUX['user-agent']]));
    expect(sessions.map((s) => s.ip)).toEqual(expect.arrayContaining(['203.0.113.7', '198.51.100.9']));

    expect(data.identities).toEqual([
      expect.objectContaining({ provider: 'acme', email: a.email.toLowerCase(), createdAt: ISO }),
    ]);
    expect(Object.keys(data.identities[0]).sort()).toEqual(['createdAt', 'email', 'lastUsedAt', 'provider']);
    expect(data.mfaFactors).toEqual([
      expect.objectContaining({ id: a.totp.factorId, type: 'TOTP', name: 'Phone', createdAt: ISO }),
    ]);
    expect(Object.keys(data.mfaFactors[0]).sort()).toEqual(['createdAt', 'id', 'lastUsedAt', 'name', 'type']);
    expect(data.recoveryCodes).toEqual({ remaining: 9 });

    const keys = data.apiKeys as Array<Record<string, unknown>>;
    expect(keys).toHaveLength(2);
    expect(keys.find((k) => k.id === a.live.apiKey.id)).toEqual({
      id: a.live.apiKey.id,
      name: 'backup script',
      prefix: a.live.apiKey.prefix,
      scopes: ['self:read'],
      createdAt: ISO,
      expiresAt: null,
      lastUsedAt: null,
      revokedAt: null,
    });
    expect(keys.find((k) => k.id === a.revoked.apiKey.id)).toMatchObject({ name: 'old laptop', revokedAt: ISO });

    expect(data.knownDevices).toEqual(
      expect.arrayContaining([
        { browser: 'Chrome', os: 'Linux', network: '203.0.113.0/24', firstSeenAt: ISO, lastSeenAt: ISO },
        { browser: 'Firefox', os: 'Windows', network: '198.51.100.0/24', firstSeenAt: ISO, lastSeenAt: ISO },
      ]),
    );

    const events = data.auditEvents as Array<Record<string, unknown>>;
    expect(events.map((e) => e.type)).toEqual(
      expect.arrayContaining([
        'REGISTER',
        'LOGIN_SUCCEEDED',
        'LOGOUT',
        'IDENTITY_LINKED',
        'API_KEY_CREATED',
        'API_KEY_REVOKED',
        'MFA_FACTOR_ADDED',
        'MFA_CHALLENGE_PASSED',
      ]),
    );
    for (const e of events) {
      expect(Object.keys(e).sort()).toEqual(['createdAt', 'detail', 'ip', 'method', 'type', 'userAgent']);
    }
    expect(events.find((e) => e.type === 'LOGIN_SUCCEEDED' && e.ip === '198.51.100.9')).toMatchObject({
      userAgent: FIREFOX_WINDOWS['user-agent'],
      method: 'PASSWORD',
    });
  });

  it('holds no secret: no hash, token, code, TOTP secret, API key secret or sealed value, whatever the database holds', async () => {
    const a = await fullAccount();
    const text = JSON.stringify((await myData(app, a.current.accessToken)).data!.myData);

    const column = async (sql: string): Promise<string[]> =>
      (await app.sql<{ v: string | null }>(sql, [a.userId]))
        .map((r) => r.v)
        .filter((v): v is string => v !== null && v !== '');
    const stored = [
      ...(await column('select password_hash as v from users where id = ?')),
      ...(await column('select current_token_hash as v from sessions where user_id = ?')),
      ...(await column('select previous_token_hash as v from sessions where user_id = ?')),
      ...(await column(
        'select r.token_hash as v from retired_refresh_tokens r join sessions s on s.id = r.session_id where s.user_id = ?',
      )),
      ...(await column('select code_hash as v from otp_codes where user_id = ?')),
      ...(await column('select code_hash as v from recovery_codes where user_id = ?')),
      ...(await column('select secret as v from mfa_factors where user_id = ?')),
      ...(await column('select ticket_hash as v from mfa_tickets where user_id = ?')),
      ...(await column('select secret_hash as v from api_keys where user_id = ?')),
    ];
    const passwordHash = stored[0]!;
    expect(passwordHash).toMatch(/^\$2[aby]\$/);
    expect(stored.length).toBeGreaterThan(15); // the rows above exist: the scan below means something
    const given = [
      PASSWORD,
      a.totp.secret,
      a.spent,
      ...a.unused,
      a.live.secret,
      a.revoked.secret,
      ...[a.first, a.fromWindows, a.ended, a.current].flatMap((t) => [t.accessToken, t.refreshToken]),
      a.linked.res.data!.signInWithIdToken.accessToken,
      a.linked.res.data!.signInWithIdToken.refreshToken,
    ];
    const leaked = [...stored, ...given].filter((secret) => text.includes(secret));
    expect(leaked).toEqual([]);
    // The parts an API key secret shows nowhere else (its prefix is listed, on purpose).
    for (const key of [a.live, a.revoked]) expect(text).not.toContain(key.secret.slice(key.apiKey.prefix.length));
    expect(text).not.toMatch(/\$2[aby]\$/);
    expect(a.codes.length).toBeGreaterThanOrEqual(2); // the sign-up code and the pending email change's
    expect(a.codes.filter((code) => new RegExp(`(?<![0-9A-Za-z])${code}(?![0-9A-Za-z])`).test(text))).toEqual([]);

    const keys = new Set<string>();
    JSON.parse(text, (key, value: unknown) => {
      keys.add(key);
      return value;
    });
    expect([...keys].filter((k) => /hash|secret|token|password|sealed|nonce|private|code(?!s$)/i.test(k))).toEqual([
      'hasPassword',
    ]);
  });

  it('holds only the caller’s data: nothing of another user who was active at the same time', async () => {
    const mine = await createUser(app, { email: uniqueEmail('mine') });
    const myTokens = await signIn(app, mine);
    const other = await createUser(app, { email: uniqueEmail('other') });
    const theirs = await signIn(app, other);
    const theirKey = await newApiKey(app, theirs.accessToken, ['self:read']);
    const theirSessions = (await sessionsSeen(theirs.accessToken)).map((s) => s.id);

    const text = JSON.stringify((await myData(app, myTokens.accessToken)).data!.myData);
    expect(text).toContain(mine.id);
    for (const needle of [
      other.id,
      other.email.toLowerCase(),
      theirKey.apiKey.id,
      theirKey.apiKey.prefix,
      ...theirSessions,
    ]) {
      expect(text).not.toContain(needle);
    }
  });

  it('needs a signed-in caller with self:read', async () => {
    expect(errorCode(await app.gql('{ myData }'))).toBe('UNAUTHENTICATED');
    const user = await createUser(app);
    const tokens = await signIn(app, user);
    const writeOnly = await newApiKey(app, tokens.accessToken, ['self:write']);
    expect(errorCode(await myData(app, writeOnly.secret))).toBe('FORBIDDEN');
    expect((await me(app, tokens.accessToken)).data?.me.id).toBe(user.id);
  });
});
