// Passwords that meet the character rules but are easy to guess (zxcvbn-ts score under PASSWORD_MIN_SCORE) are
// refused with BAD_USER_INPUT, the estimator's feedback as reasons; strong ones still pass.
import { passwordProblems } from '../src/modules/passwords/password-policy';
import { PASSWORD, requestOtp, resetPassword, signUp, uniqueEmail } from './helpers/flows';
import { errorCode, startTestApp, type GraphQLResponse, type TestApp } from './helpers/test-server';

const REGISTER = 'mutation($i: RegisterInput!) { register(input: $i) { expiresIn } }';
const GUESSABLE = ['Password1!', 'Welcome1!', 'Summer2024!', 'P@$$w0rd2024!'];

function expectTooEasy(res: GraphQLResponse, field: string): void {
  expect(errorCode(res)).toBe('BAD_USER_INPUT');
  expect(res.errors![0]!.extensions!.field).toBe(field);
  const reasons = res.errors![0]!.extensions!.reasons as string[];
  expect(reasons[0]).toMatch(/^is too easy to guess \(strength [0-2] of 4, 3 needed\)$/);
  expect(reasons.length).toBeGreaterThan(1); // zxcvbn's warning and suggestions follow
}

describe('password strength', () => {
  let app: TestApp;
  beforeAll(async () => void (app = await startTestApp()));
  afterAll(() => app.stop());

  it.each(GUESSABLE)('register refuses %s, which has every kind of character, and stores nothing', async (password) => {
    const email = uniqueEmail('weak');

    const res = await app.gql(REGISTER, { i: { email, password } });

    expectTooEasy(res, 'password');
    expect(await app.sql('select id from users where email = ?', [email])).toEqual([]);
  });

  it('register accepts a password that is hard to guess', async () => {
    const res = await app.gql(REGISTER, { i: { email: uniqueEmail('strong'), password: 'Tangerine-Kayak-42!' } });

    expect(res.errors).toBeUndefined();
  });

  it('changePassword refuses Summer2024! and keeps the old password', async () => {
    const user = await signUp(app);

    const res = await app.gql(
      'mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }',
      { c: PASSWORD, n: 'Summer2024!' },
      { token: user.accessToken },
    );

    expectTooEasy(res, 'newPassword');
    const login = await app.gql(
      'mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }',
      {
        e: user.user.email,
        p: PASSWORD,
      },
    );
    expect(login.data?.login.accessToken).toEqual(expect.any(String));
  });

  it('resetPassword refuses Welcome1! even with a valid code', async () => {
    const user = await signUp(app);
    const before = app.smtp.messages.length;
    expect((await requestOtp(app, user.user.email, 'RESET_PASSWORD')).errors).toBeUndefined();
    const code = await app.smtp.codeFor(user.user.email, /reset/i, before);

    const res = await resetPassword(app, user.user.email, code, 'Welcome1!');

    expectTooEasy(res, 'newPassword');
  });
});

// The account's own email and name as context, and PASSWORD_MIN_SCORE, as the flows pass them to the policy.
describe('password policy context', () => {
  const owner = { email: 'margarethe.quist@example.com', fullName: 'Margarethe Quist' };

  it("refuses a password built from the owner's email or name that passes for anyone else", () => {
    for (const password of ['Margarethe.Quist1!', 'Margarethe.quist@example.com1', 'Margarethe Quist 1!']) {
      expect(passwordProblems(password)).toEqual([]);
      const reasons = passwordProblems(password, owner);
      expect(reasons[0]).toMatch(/too easy to guess/);
      expect(reasons).toContain('There should not be any personal or page related data.'); // zxcvbn's user-input warning
    }
  });

  it('keeps the 10,000-list check as the one reason for a listed password', () => {
    expect(passwordProblems('P@ssw0rd', owner)).toEqual(['is one of the 10,000 most common passwords']);
  });

  it('applies the minimum score it is given', () => {
    expect(passwordProblems('Summer2024!', { minScore: 2 })).toEqual([]);
    expect(passwordProblems('Tangerine-Kayak-42!', { minScore: 4 })).toEqual([]);
    expect(passwordProblems('New-Password-2', { minScore: 4 })[0]).toMatch(/strength 3 of 4, 4 needed/);
  });

  it('judges a 128-character password by its start: a strong start passes, a weak one is refused', () => {
    expect(passwordProblems('Tangerine-Kayak-42!' + 'x'.repeat(109))).toEqual([]);
    expect(passwordProblems('Aa1!' + 'x'.repeat(105) + 'Tangerine-Kayak-42!')[0]).toMatch(/too easy to guess/);
  });
});
