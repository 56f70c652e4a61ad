// Emails are dot-atom local parts at real domain names, stored in one form (an IDN as ASCII punycode): nothing
// nodemailer would read as a list, a group, a quoted string or an IP literal, and no invisible characters that
// would make a look-alike second account.
import { login, PASSWORD, register, requestOtp, signUp, uniqueEmail, verifyOtp } from './helpers/flows';
import { errorCode, startTestApp, type GraphQLResponse, type TestApp } from './helpers/test-server';

const REGISTER = 'mutation($i: RegisterInput!) { register(input: $i) { expiresIn } }';

const REFUSED: Array<[name: string, email: string]> = [
  ['a list (a comma)', 'a,b@example.com'],
  ['a quoted local part', '"x"@example.com'],
  ['a group', 'grp:alice@example.com;'],
  ['an IP literal', 'x@[127.0.0.1]'],
  ['a domain of hyphens', 'x@-.-'],
  ['a bare IPv4 address as domain', 'x@127.0.0.1'],
  ['a display name', 'Alice <alice@example.com>'],
  ['two dots in a row', 'a..b@example.com'],
  ['a percent-encoded domain', 'x@exa%6dple.com'],
  ['a zero-width space', 'ali\u200bce@example.com'],
  ['a zero-width joiner in the domain', 'alice@exam\u200dple.com'],
  ['a right-to-left override', 'alice\u202e@example.com'],
  ['a soft hyphen', 'alice@exam\u00adple.com'],
  ['a control character', 'ali\u0007ce@example.com'],
];

function expectEmailRefused(res: GraphQLResponse): void {
  expect(res.status).toBeLessThan(500);
  expect(errorCode(res)).toBe('BAD_USER_INPUT');
  expect(res.errors![0]!.extensions!.field).toBe('email');
}

describe('email syntax', () => {
  let app: TestApp;
  beforeAll(async () => void (app = await startTestApp()));
  afterAll(() => app.stop());

  async function usersLike(fragment: string): Promise<string[]> {
    const rows = await app.sql<{ email: string }>('select email from users where email like ?', [`%${fragment}%`]);
    return rows.map((r) => r.email);
  }

  describe.each(REFUSED)('with %s', (_name, email) => {
    it('register refuses it with BAD_USER_INPUT on email, storing and mailing nothing', async () => {
      const mails = app.smtp.messages.length;
      const rows = await app.sql<{ n: string }>('select count(*) as n from users');

      const res = await app.gql(REGISTER, { i: { email, password: PASSWORD } });

      expectEmailRefused(res);
      expect(await app.sql<{ n: string }>('select count(*) as n from users')).toEqual(rows);
      expect(app.smtp.messages.length).toBe(mails);
    });

    it('login refuses it with BAD_USER_INPUT on email', async () => {
      expectEmailRefused(await login(app, email));
    });

    it('requestOtp refuses it with BAD_USER_INPUT on email', async () => {
      expectEmailRefused(await requestOtp(app, email, 'LOGIN'));
    });
  });

  it('refuses a zero-width copy of an existing address instead of making a second account', async () => {
    const email = uniqueEmail('alice');
    const alice = await signUp(app, email);
    const copy = `${email.slice(0, 3)}\u200b${email.slice(3)}`;

    expectEmailRefused(await app.gql(REGISTER, { i: { email: copy, password: PASSWORD } }));
    expectEmailRefused(await requestOtp(app, copy, 'RESET_PASSWORD'));
    expect(await usersLike(email.slice(3))).toEqual([alice.user.email]);
  });

  it('maps "Alice@Example.COM " and a full-width domain to the same account as alice@example.com', async () => {
    const email = uniqueEmail('alice');
    const alice = await signUp(app, email);
    const shouted = `${email[0]!.toUpperCase()}${email.slice(1).replace('@example.com', '@Example.COM')} `;
    const fullWidth = email.replace('@example.com', '@\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45.com');

    expect((await login(app, shouted)).data?.login.user.id).toBe(alice.user.id);
    expect((await login(app, fullWidth)).data?.login.user.id).toBe(alice.user.id);
    app.clock.advance(61); // past the 60 s between codes for one email
    await register(app, shouted); // the answer every registration gets, and no second account
    expect(await usersLike(email.slice(1))).toEqual([email]);
  });

  it('registers an IDN address in its ASCII (punycode) form, mails its code there, and signs in by either form', async () => {
    const local = uniqueEmail('jörg').split('@')[0]!.replace('ö', 'o'); // the local part stays ASCII
    const unicode = `${local}@Bücher.example`;
    const ascii = `${local}@xn--bcher-kva.example`;
    const before = app.smtp.messages.length;

    await register(app, unicode);

    expect(await usersLike(local)).toEqual([ascii]);
    // mailparser shows the To header's punycode domain decoded; the address sent to is the stored ASCII one.
    const code = await app.smtp.codeFor(`${local}@bücher.example`, /confirm/i, before);
    const verified = await verifyOtp(app, ascii, code);
    expect(verified.data?.verifyOtp.user.email).toBe(ascii);
    expect((await login(app, unicode)).data?.login.user.email).toBe(ascii);
  });
});
