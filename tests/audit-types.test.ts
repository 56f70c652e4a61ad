// Audit events are typed (issue 12): `type` is the GraphQL enum AuditEventType, and the lockout counts failures by
// their stored reason, never by parsing the human `detail` note.
import { adminToken, createUser } from './helpers/factories';
import { login, PASSWORD } from './helpers/flows';
import { errorCode, startTestApp, type TestApp } from './helpers/test-server';

let app: TestApp;
let admin: string;
beforeAll(async () => {
  app = await startTestApp();
  admin = await adminToken(app);
}, 60_000);
afterAll(async () => {
  await app.stop();
});

const BY_TYPE =
  'query($u: ID, $t: AuditEventType) { auditEvents(userId: $u, type: $t) { edges { node { type userId detail } } } }';

describe('AuditEventType', () => {
  it('auditEvents(type:) filters by the enum, and each event reports its type as the enum', async () => {
    const user = await createUser(app);
    expect(errorCode(await login(app, user.email, 'Wrong-Horse-9!'))).toBe('INVALID_CREDENTIALS');
    const failed = await app.gql(BY_TYPE, { u: user.id, t: 'LOGIN_FAILED' }, { token: admin });
    expect(failed.errors).toBeUndefined();
    expect(failed.data!.auditEvents.edges.map((e: { node: unknown }) => e.node)).toEqual([
      { type: 'LOGIN_FAILED', userId: user.id, detail: 'wrong password' },
    ]);
    const registered = await app.gql(BY_TYPE, { u: user.id, t: 'REGISTER' }, { token: admin });
    expect(registered.data!.auditEvents.edges.map((e: { node: { type: string } }) => e.node.type)).toEqual([
      'REGISTER',
    ]);
  });

  it('refuses a type outside the enum: BAD_USER_INPUT as a variable, GRAPHQL_VALIDATION_FAILED inline', async () => {
    expect(errorCode(await app.gql(BY_TYPE, { t: 'LOGIN_FAILED OR 1=1' }, { token: admin }))).toBe('BAD_USER_INPUT');
    const inline = await app.gql('{ auditEvents(type: "LOGIN_FAILED") { totalCount } }', undefined, { token: admin });
    expect(errorCode(inline)).toBe('GRAPHQL_VALIDATION_FAILED');
  });
});

describe('the lockout counts typed reasons', () => {
  it('a right password refused because the account is disabled is no guess: 12 of them lock nothing', async () => {
    const user = await createUser(app, { active: false });
    for (let i = 0; i < 12; i++) {
      expect({ i, code: errorCode(await login(app, user.email, PASSWORD)) }).toEqual({ i, code: 'ACCOUNT_DISABLED' });
    }
    const rows = await app.sql<{ reason: string; method: string }>(
      "select reason, method from audit_events where subject_user_id = ? and type = 'LOGIN_FAILED'",
      [user.id],
    );
    expect(rows).toHaveLength(12);
    expect(new Set(rows.map((r) => `${r.method} ${r.reason}`))).toEqual(new Set(['PASSWORD ACCOUNT_DISABLED']));
  });

  it('a note that reads like a guess is not one: rows without a reason do not lock the account', async () => {
    const user = await createUser(app);
    for (let i = 0; i < 12; i++) {
      await app.sql(
        "insert into audit_events (type, subject_user_id, email, detail, created_at) values ('LOGIN_FAILED', ?, ?, 'wrong password', ?)",
        [user.id, user.email, app.clock.now()],
      );
    }
    expect((await login(app, user.email, PASSWORD)).data?.login.user.email).toBe(user.email);
  });
});
