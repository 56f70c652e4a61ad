// Deleting an account (issue #17) through HTTP: deleteAccount (the user, recently signed in) and deleteUser (an
// ADMIN at level 2) delete the users row and everything tied to it at once — sessions, refresh tokens, codes,
// factors, recovery codes, identities, API keys, devices, queued mail — keep the audit trail with its personal
// columns emptied, email the address a notice, and leave the address free to register again. And what an attacker
// would try: a stale session, an API key, a password-only session of an MFA admin, racing requests, deleting the
// last active ADMIN.
import {
  auditRowsOf,
  deleteAccount,
  deleteUser,
  DELETED_SUBJECT,
  linkIdentity,
  mfaAdmin,
  newApiKey,
  outboxKinds,
  reauthenticate,
  requestEmailChange,
  rowsNaming,
} from './helpers/account';
import { createUser, signIn } from './helpers/factories';
import { login, me, PASSWORD, refresh, requestOtp, signUp, uniqueEmail, type Tokens } from './helpers/flows';
import { enableTotp, mfaTicketOf, nextTotpCode, totpCode, verifyMfa } from './helpers/mfa';
import { startTestProvider, type TestProvider } from './helpers/oidc-provider';
import { acmeEnv, fixtureClient } from './helpers/social';
import { errorCode, startTestApp, type GraphQLResponse, type TestApp } from './helpers/test-server';

let provider: TestProvider;
let app: TestApp;
let smtpDown = false;

beforeAll(async () => {
  provider = await startTestProvider([fixtureClient('acme')]);
  app = await startTestApp({
    env: { ...acmeEnv(provider) },
  });
});
afterAll(async () => {
  await app?.stop();
  await provider?.stop();
});
afterEach(async () => {
  if (smtpDown) await startSmtp(); // a failed test must not leave the mail server down for the next
});

async function stopSmtp(): Promise<void> {
  await app.smtp.stop();
  smtpDown = true;
}
async function startSmtp(): Promise<void> {
  await app.smtp.start();
  smtpDown = false;
}

const userExists = async (id: string): Promise<boolean> =>
  (await app.sql('select 1 from users where id = ?', [id])).length === 1;

const sessionIdsOf = async (userId: string): Promise<string[]> =>
  (await app.sql<{ id: string }>('select id::text as id from sessions where user_id = ?', [userId])).map((r) => r.id);

const activeAdmins = async (): Promise<string[]> =>
  (
    await app.sql<{ id: string }>(
      "select id::text as id from users where active and 'ADMIN' = any(roles) order by created_at",
    )
  ).map((r) => r.id);

/** The ADMINs of earlier tests step down (in the database, as factories.ts promotes): the next ones are alone. */
async function noOtherAdmins(): Promise<void> {
  await app.sql("update users set roles = array['USER'] where 'ADMIN' = any(roles)");
}

function expectRefused(res: GraphQLResponse<unknown>, code: string): void {
  expect(errorCode(res)).toBe(code);
  expect(res.data ?? null).toBeNull();
}

/** Every credential of a user: two sessions' tokens (one rotated twice, so a token is retired), an API key. */
async function credentialsOf(email: string) {
  const first = await signUp(app, email);
  const once = (await refresh(app, first.refreshToken)).data!.refresh;
  const rotated = (await refresh(app, once.refreshToken)).data!.refresh;
  const tokens = (await login(app, email)).data!.login;
  const key = await newApiKey(app, tokens.accessToken, ['self:read', 'self:write']);
  return { userId: first.user.id, rotated, tokens, key };
}

async function expectCredentialsDead(c: { rotated: Tokens; tokens: Tokens; key: { secret: string } }): Promise<void> {
  for (const t of [c.rotated, c.tokens]) {
    expect(errorCode(await me(app, t.accessToken))).toBe('UNAUTHENTICATED');
    expect(errorCode(await refresh(app, t.refreshToken))).toBe('UNAUTHENTICATED');
  }
  expect(errorCode(await me(app, c.key.secret))).toBe('UNAUTHENTICATED');
}

describe('deleteAccount', () => {
  it('deletes the account and every row tied to it, unsent mail to it included; its tokens and API key fail at once; then the address gets a notice', async () => {
    const email = uniqueEmail('doomed');
    const c = await credentialsOf(email);
    const linked = await linkIdentity(app, provider, 'acme', email);
    expect(linked.res.data?.signInWithIdToken.user.id).toBe(c.userId);
    const totp = await enableTotp(app, c.tokens);
    expect((await requestEmailChange(app, c.tokens.accessToken, uniqueEmail('pending'))).errors).toBeUndefined();
    const ticket = mfaTicketOf(await login(app, email)); // a live MFA ticket
    const sessions = await sessionIdsOf(c.userId);
    expect(sessions.length).toBeGreaterThanOrEqual(3);
    const retired = await app.sql(
      "select 1 from retired_refresh_tokens where session_id::text = any(string_to_array(?, ','))",
      [sessions.join(',')],
    );
    expect(retired).not.toEqual([]);
    // With the mail server down, a sign-in code for the address stays queued.
    await stopSmtp();
    expect((await requestOtp(app, email, 'LOGIN')).errors).toBeUndefined();
    expect(await outboxKinds(app, email, true)).toContain('login-code');

    const res = await deleteAccount(app, c.tokens.accessToken);
    expect(res.body).toEqual({ data: { deleteAccount: true } });

    await expectCredentialsDead(c);
    expectRefused(await verifyMfa(app, ticket, { code: nextTotpCode(app, totp.secret) }), 'UNAUTHENTICATED');
    expect(await userExists(c.userId)).toBe(false);
    // No row anywhere names the user, one of its sessions or its address (the audit trail aside, and the notice).
    expect(await rowsNaming(app, c.userId)).toEqual([]);
    for (const id of sessions) expect(await rowsNaming(app, id)).toEqual([]);
    expect(await rowsNaming(app, email, ['mail_outbox'])).toEqual([]);
    expect(await outboxKinds(app, email, true)).toEqual(['account-deleted']);

    await startSmtp();
    const notice = await app.smtp.waitFor(email, (m) => DELETED_SUBJECT.test(m.subject));
    expect(notice.text).not.toMatch(/\d{6}/);
    expect(errorCode(await login(app, email))).toBe('INVALID_CREDENTIALS');
  });

  it('keeps the audit trail of and by the user with email, ip and user agent emptied, and adds ACCOUNT_DELETED by the user', async () => {
    const user = await createUser(app, { email: uniqueEmail('audited') });
    expect(errorCode(await login(app, user.email, 'Wrong-Password-1'))).toBe('INVALID_CREDENTIALS');
    const tokens = await signIn(app, user);
    await newApiKey(app, tokens.accessToken, ['self:read']);
    const before = await auditRowsOf(app, user.id);
    expect(before.filter((r) => r.email !== null || r.ip !== null || r.user_agent !== null)).not.toEqual([]);

    expect((await deleteAccount(app, tokens.accessToken)).body).toEqual({ data: { deleteAccount: true } });

    const after = await auditRowsOf(app, user.id);
    expect(after.map((r) => r.type)).toEqual([...before.map((r) => r.type), 'ACCOUNT_DELETED']);
    expect(after.map(({ email, ip, user_agent }) => ({ email, ip, user_agent }))).toEqual(
      after.map(() => ({ email: null, ip: null, user_agent: null })),
    );
    expect(after.at(-1)).toMatchObject({ actor: user.id, subject: user.id });
    expect(await app.sql('select id from audit_events where lower(email) = lower(?)', [user.email])).toEqual([]);

    // An admin reading the trail through the API sees the same.
    const admin = await signIn(app, await createUser(app, { roles: ['ADMIN'] }));
    const seen = await app.gql<{ auditEvents: { edges: Array<{ node: Record<string, string | null> }> } }>(
      'query($u: ID!) { auditEvents(userId: $u, first: 100) { edges { node { type userId email ip userAgent } } } }',
      { u: user.id },
      { token: admin.accessToken },
    );
    const nodes = seen.data!.auditEvents.edges.map((e) => e.node);
    expect(nodes.map((n) => n.type).sort()).toEqual(
      after
        .filter((r) => r.subject === user.id)
        .map((r) => r.type)
        .sort(),
    );
    for (const n of nodes) expect(n).toMatchObject({ userId: user.id, email: null, ip: null, userAgent: null });
  });

  it('frees the address: it registers again as a fresh account, with a new id and nothing of the old one', async () => {
    const email = uniqueEmail('again');
    const c = await credentialsOf(email);
    await enableTotp(app, c.tokens);
    expect((await deleteAccount(app, c.tokens.accessToken)).errors).toBeUndefined();

    const fresh = await signUp(app, email, 'Second-Life-77');
    expect(fresh.user.id).not.toBe(c.userId);
    const view = await app.gql<{ me: Record<string, unknown>; apiKeys: unknown[]; sessions: unknown[] }>(
      '{ me { email roles mfaEnabled mfaFactors { id } identities { id } recoveryCodesLeft } apiKeys { id } sessions { id } }',
      {},
      { token: fresh.accessToken },
    );
    expect(view.body).toEqual({
      data: {
        me: {
          email: email.toLowerCase(),
          roles: ['USER'],
          mfaEnabled: false,
          mfaFactors: [],
          identities: [],
          recoveryCodesLeft: 0,
        },
        apiKeys: [],
        sessions: [expect.anything()],
      },
    });
    expect(errorCode(await login(app, email, PASSWORD))).toBe('INVALID_CREDENTIALS');
    expect((await login(app, email, 'Second-Life-77')).data?.login.user.id).toBe(fresh.user.id); // no MFA asked
    expect(await me(app, c.key.secret).then(errorCode)).toBe('UNAUTHENTICATED');
  });

  it('unlinks provider identities: the same provider account then signs in to a new account', async () => {
    const user = await createUser(app, { email: uniqueEmail('fed') });
    const tokens = await signIn(app, user);
    const linked = await linkIdentity(app, provider, 'acme', user.email);
    expect(linked.res.data?.signInWithIdToken.user.id).toBe(user.id);
    expect((await deleteAccount(app, tokens.accessToken)).errors).toBeUndefined();

    const back = await linkIdentity(app, provider, 'acme', user.email, linked.sub);
    const newId = back.res.data?.signInWithIdToken.user.id;
    expect(newId).toEqual(expect.any(String));
    expect(newId).not.toBe(user.id);
    expect(await app.sql('select id from users where email = ?', [user.email.toLowerCase()])).toEqual([{ id: newId }]);
  });

  it('needs a recent sign-in: 301 s after it, STEP_UP_REQUIRED and the account stays; after reauthenticate it is deleted', async () => {
    const user = await createUser(app);
    const tokens = await signIn(app, user);
    app.clock.advance(301);
    expectRefused(await deleteAccount(app, tokens.accessToken), 'STEP_UP_REQUIRED');
    expect(await userExists(user.id)).toBe(true);
    expect((await me(app, tokens.accessToken)).data?.me.id).toBe(user.id);

    const again = (await reauthenticate(app, tokens.accessToken, { password: PASSWORD })).data!.reauthenticate;
    expect((await deleteAccount(app, again.accessToken)).body).toEqual({ data: { deleteAccount: true } });
    expect(await userExists(user.id)).toBe(false);
  });

  it('an API key, even with self:write and right after its creation, cannot delete its owner: STEP_UP_REQUIRED', async () => {
    const user = await createUser(app);
    const tokens = await signIn(app, user);
    const { secret } = await newApiKey(app, tokens.accessToken, ['self:read', 'self:write']);
    expectRefused(await deleteAccount(app, secret), 'STEP_UP_REQUIRED');
    expect(await userExists(user.id)).toBe(true);
    expect((await me(app, secret)).data?.me.id).toBe(user.id);
  });

  it('sent three times at once with one token: one true, one ACCOUNT_DELETED, one notice, no server error', async () => {
    const user = await createUser(app);
    const tokens = await signIn(app, user);
    const answers = await Promise.all([1, 2, 3].map(() => deleteAccount(app, tokens.accessToken)));
    const outcomes = answers.map((a) => (a.data?.deleteAccount === true ? 'deleted' : (errorCode(a) ?? 'false')));
    expect(outcomes.filter((o) => o === 'deleted')).toHaveLength(1);
    expect(outcomes).not.toContain('INTERNAL_SERVER_ERROR');
    expect(await userExists(user.id)).toBe(false);
    expect((await auditRowsOf(app, user.id)).filter((r) => r.type === 'ACCOUNT_DELETED')).toHaveLength(1);
    expect((await outboxKinds(app, user.email)).filter((k) => k === 'account-deleted')).toHaveLength(1);
  });

  it('without a token: UNAUTHENTICATED', async () => {
    expectRefused(await app.gql('mutation { deleteAccount }'), 'UNAUTHENTICATED');
  });
});

describe('deleteUser', () => {
  it('an ADMIN with MFA, at level 2 just now, deletes another user: their tokens and key fail at once; ACCOUNT_DELETED is by the admin; they get the notice', async () => {
    const admin = await mfaAdmin(app);
    const email = uniqueEmail('deleted-by-admin');
    const c = await credentialsOf(email);

    const res = await deleteUser(app, admin.tokens.accessToken, c.userId);
    expect(res.body).toEqual({ data: { deleteUser: true } });
    await expectCredentialsDead(c);
    expect(await userExists(c.userId)).toBe(false);
    expect(await rowsNaming(app, c.userId)).toEqual([]);
    // The user's own events lose their personal columns; ACCOUNT_DELETED keeps the admin's address, not theirs.
    const trail = await auditRowsOf(app, c.userId);
    expect(trail.filter((r) => r.type === 'ACCOUNT_DELETED')).toEqual([
      expect.objectContaining({ actor: admin.user.id, subject: c.userId, email: null }),
    ]);
    const theirs = trail.filter((r) => r.type !== 'ACCOUNT_DELETED');
    expect(theirs.length).toBeGreaterThan(0);
    for (const r of theirs) expect(r).toMatchObject({ email: null, ip: null, user_agent: null });
    await app.smtp.waitFor(email, (m) => DELETED_SUBJECT.test(m.subject));
    // The admin's own account is untouched.
    expect((await me(app, admin.tokens.accessToken)).data?.me.id).toBe(admin.user.id);
  });

  it('is refused with STEP_UP_REQUIRED level 2 to an MFA admin signed in by password only, and to an aal2 session 301 s old', async () => {
    const admin = await mfaAdmin(app);
    const target = await createUser(app);

    const passwordOnly = (await reauthenticate(app, admin.tokens.accessToken, { password: PASSWORD })).data!
      .reauthenticate;
    const low = await deleteUser(app, passwordOnly.accessToken, target.id);
    expectRefused(low, 'STEP_UP_REQUIRED');
    expect(low.errors![0]!.extensions).toMatchObject({ level: 2 });

    const other = await mfaAdmin(app);
    app.clock.advance(301);
    const stale = await deleteUser(app, other.tokens.accessToken, target.id);
    expectRefused(stale, 'STEP_UP_REQUIRED');
    expect(stale.errors![0]!.extensions).toMatchObject({ level: 2 });
    expect(await userExists(target.id)).toBe(true);

    // A second factor proven now makes it allowed.
    const code = totpCode(admin.totp.secret, app.clock.now().getTime());
    const stepped = (await reauthenticate(app, passwordOnly.accessToken, { code })).data!.reauthenticate;
    expect((await deleteUser(app, stepped.accessToken, target.id)).body).toEqual({ data: { deleteUser: true } });
    expect(await userExists(target.id)).toBe(false);
  });

  it('a USER, a SUPPORT, or an ADMIN’s API key cannot delete anyone', async () => {
    const target = await createUser(app);
    for (const roles of [['USER'], ['USER', 'SUPPORT']] as const) {
      const caller = await signIn(app, await createUser(app, { roles: [...roles] }));
      expectRefused(await deleteUser(app, caller.accessToken, target.id), 'FORBIDDEN');
    }
    const admin = await mfaAdmin(app);
    const { secret } = await newApiKey(app, admin.tokens.accessToken, ['users:read', 'users:write']);
    expectRefused(await deleteUser(app, secret, target.id), 'STEP_UP_REQUIRED'); // a key is never recent
    expect(await userExists(target.id)).toBe(true);
  });

  it('an unknown or malformed userId: BAD_USER_INPUT on userId', async () => {
    const admin = await mfaAdmin(app);
    for (const id of ['00000000-0000-4000-8000-000000000000', 'not-a-uuid']) {
      const res = await deleteUser(app, admin.tokens.accessToken, id);
      expectRefused(res, 'BAD_USER_INPUT');
      expect(res.errors![0]!.extensions?.field).toBe('userId');
    }
  });
});

describe('the last active ADMIN', () => {
  it('can delete itself neither by deleteAccount nor by deleteUser (an inactive ADMIN does not count); with a second active ADMIN it can', async () => {
    await noOtherAdmins();
    const sole = await mfaAdmin(app);
    await createUser(app, { roles: ['ADMIN'], active: false });
    expect(await activeAdmins()).toEqual([sole.user.id]);

    for (const res of [
      await deleteAccount(app, sole.tokens.accessToken),
      await deleteUser(app, sole.tokens.accessToken, sole.user.id),
    ]) {
      expectRefused(res, 'BAD_USER_INPUT');
    }
    expect((await me(app, sole.tokens.accessToken)).data?.me.id).toBe(sole.user.id);

    const second = await mfaAdmin(app);
    expect((await deleteAccount(app, sole.tokens.accessToken)).body).toEqual({ data: { deleteAccount: true } });
    expectRefused(await deleteAccount(app, second.tokens.accessToken), 'BAD_USER_INPUT');
    expect(await activeAdmins()).toEqual([second.user.id]);
  });

  it('two ADMINs deleting each other at once: one is deleted, the other stays', async () => {
    await noOtherAdmins();
    const a = await mfaAdmin(app);
    const b = await mfaAdmin(app);
    const answers = await Promise.all([
      deleteUser(app, a.tokens.accessToken, b.user.id),
      deleteUser(app, b.tokens.accessToken, a.user.id),
    ]);
    expect(answers.filter((r) => r.data?.deleteUser === true)).toHaveLength(1);
    expect(answers.map(errorCode)).not.toContain('INTERNAL_SERVER_ERROR');
    expect(await activeAdmins()).toHaveLength(1);
  });

  it('two ADMINs deleting their own accounts at once: one stays', async () => {
    await noOtherAdmins();
    const a = await mfaAdmin(app);
    const b = await mfaAdmin(app);
    const answers = await Promise.all([
      deleteAccount(app, a.tokens.accessToken),
      deleteAccount(app, b.tokens.accessToken),
    ]);
    expect(answers.filter((r) => r.data?.deleteAccount === true)).toHaveLength(1);
    expect(answers.map(errorCode)).not.toContain('INTERNAL_SERVER_ERROR');
    expect(await activeAdmins()).toHaveLength(1);
  });
});
