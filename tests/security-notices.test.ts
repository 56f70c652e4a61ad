// Security notices through the real server and a real SMTP server: each change a person should hear about sends one
// email to the account's address (the OLD one for an email change), named with APP_NAME in the subject
// ("APP_NAME: …") and both bodies, holding no password, code, token or secret. An address nobody proved gets none.
// Identity link and unlink run against a real OpenID provider (oidc-provider in a child process).
import { randomBytes } from 'node:crypto';
import { letterEmail, mailWhenSent } from './helpers/notices';
import { login, PASSWORD, requestOtp, resetPassword, signUp, type Tokens } from './helpers/flows';
import { enableTotp, mfaTicketOf, nextTotpCode, verifyMfa, type EnabledTotp } from './helpers/mfa';
import { startTestProvider, type TestProvider } from './helpers/oidc-provider';
import type { ReceivedMail } from './helpers/smtp';
import { acmeEnv, fixtureClient, idTokenSignIn, nonceClaim, socialLink, unlinkIdentity } from './helpers/social';
import { ok, startTestApp, type TestApp } from './helpers/test-server';

const APP_NAME = 'Lanternfish Vault';
const NEW_PASSWORD = 'Fresh-Battery-7?';

const SUBJECT = {
  verifyCode: 'Confirm your email address',
  resetCode: 'Reset your password',
  changeEmailCode: 'Confirm your new email address',
  passwordChanged: 'Your password was changed',
  passwordReset: 'Your password was reset',
  emailChanged: 'Your email address was changed',
  factorAdded: 'A second factor was added to your account',
  factorRemoved: 'A second factor was removed from your account',
  identityLinked: 'Acme sign-in was added to your account',
  identityUnlinked: 'Acme sign-in was removed from your account',
  apiKeyCreated: 'An API key was created for your account',
  accountDeleted: 'Your account was deleted',
} as const;

/** The subject as sent: the product's name first. */
const sent = (subject: string) => `${APP_NAME}: ${subject}`;

let provider: TestProvider;
let app: TestApp;

beforeAll(async () => {
  provider = await startTestProvider([fixtureClient('acme')]);
  app = await startTestApp({
    env: { APP_NAME, ...acmeEnv(provider) },
  });
});
afterAll(async () => {
  await app?.stop();
  await provider?.stop();
});

/** Every email to `email`, once the outbox has sent all it holds for that address (none is still on its way). */
async function delivered(email: string): Promise<ReceivedMail[]> {
  return mailWhenSent(app, email);
}

/**
 * The one notice `subject` to `email`, after checking that it arrived once, names APP_NAME in the subject and both
 * bodies, and holds none of `secrets` and no run of 6+ digits (no code).
 */
async function theNotice(email: string, subject: string, secrets: readonly string[]): Promise<ReceivedMail> {
  const matching = (await delivered(email)).filter((m) => m.subject === sent(subject));
  expect(matching).toHaveLength(1);
  const mail = matching[0]!;
  expect(mail.text).toContain(APP_NAME);
  expect(mail.html).toContain(APP_NAME);
  for (const part of [mail.subject, mail.text, mail.html]) {
    for (const secret of secrets) expect(part).not.toContain(secret);
    expect(part).not.toMatch(/\d{6}/);
  }
  return mail;
}

const subjectsTo = async (email: string) => (await delivered(email)).map((m) => m.subject);

const tokenSecrets = (tokens: Pick<Tokens, 'accessToken' | 'refreshToken'>) => [
  tokens.accessToken,
  tokens.refreshToken,
];

const changePassword = (token: string, currentPassword: string, newPassword: string) =>
  app.gql<{ changePassword: boolean }>(
    'mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }',
    { c: currentPassword, n: newPassword },
    { token },
  );

const requestEmailChange = (token: string, newEmail: string) =>
  app.gql<{ requestEmailChange: { expiresIn: number; retryAfter: number } }>(
    'mutation($e: String!) { requestEmailChange(newEmail: $e) { expiresIn retryAfter } }',
    { e: newEmail },
    { token },
  );

const confirmEmailChange = (token: string, code: string) =>
  app.gql<{ confirmEmailChange: { email: string; emailVerified: boolean } }>(
    'mutation($c: String!) { confirmEmailChange(code: $c) { email emailVerified } }',
    { c: code },
    { token },
  );

const createApiKey = (token: string, name: string) =>
  app.gql<{ createApiKey: { secret: string; apiKey: { prefix: string } } }>(
    'mutation($n: String!, $s: [String!]!) { createApiKey(name: $n, scopes: $s) { secret apiKey { prefix } } }',
    { n: name, s: ['self:read'] },
    { token },
  );

const removeMfaFactor = (token: string, id: string) =>
  app.gql<{ removeMfaFactor: boolean }>('mutation($id: ID!) { removeMfaFactor(id: $id) }', { id }, { token });

const deleteAccount = (token: string) =>
  app.gql<{ deleteAccount: boolean }>('mutation { deleteAccount }', {}, { token });

/** Password + TOTP: a level-2 session of `email`, whose TOTP is `totp`. */
async function levelTwo(email: string, totp: EnabledTotp): Promise<Tokens> {
  const ticket = mfaTicketOf(await login(app, email));
  return ok(await verifyMfa(app, ticket, { code: nextTotpCode(app, totp.secret) })).verifyMfa;
}

describe('password', () => {
  it('changePassword: "Your password was changed", once, to the address, without either password', async () => {
    const email = letterEmail('changed');
    const tokens = await signUp(app, email);
    expect(ok(await changePassword(tokens.accessToken, PASSWORD, NEW_PASSWORD)).changePassword).toBe(true);

    const mail = await theNotice(email, SUBJECT.passwordChanged, [PASSWORD, NEW_PASSWORD, ...tokenSecrets(tokens)]);
    expect(mail.to).toBe(email);
    expect(await subjectsTo(email)).toEqual([sent(SUBJECT.verifyCode), sent(SUBJECT.passwordChanged)]);
  });

  it('resetPassword: "Your password was reset", once, without the code or the new password (and no "changed")', async () => {
    const email = letterEmail('reset');
    await signUp(app, email);
    const before = app.smtp.messages.length;
    ok(await requestOtp(app, email, 'RESET_PASSWORD'));
    const code = await app.smtp.codeFor(email, /reset your password/i, before);
    expect(ok(await resetPassword(app, email, code, NEW_PASSWORD)).resetPassword).toBe(true);

    await theNotice(email, SUBJECT.passwordReset, [code, PASSWORD, NEW_PASSWORD]);
    expect(await subjectsTo(email)).toEqual([
      sent(SUBJECT.verifyCode),
      sent(SUBJECT.resetCode),
      sent(SUBJECT.passwordReset),
    ]);
  });
});

describe('email change', () => {
  it('tells the OLD address "Your email address was changed" once; the new address gets only its code', async () => {
    const oldEmail = letterEmail('old');
    const newEmail = letterEmail('new');
    const tokens = await signUp(app, oldEmail);
    const before = app.smtp.messages.length;
    ok(await requestEmailChange(tokens.accessToken, newEmail));
    const code = await app.smtp.codeFor(newEmail, /confirm your new email address/i, before);
    expect(ok(await confirmEmailChange(tokens.accessToken, code)).confirmEmailChange).toEqual({
      email: newEmail,
      emailVerified: true,
    });

    const mail = await theNotice(oldEmail, SUBJECT.emailChanged, [code, PASSWORD, ...tokenSecrets(tokens)]);
    expect(mail.to).toBe(oldEmail);
    expect(await subjectsTo(oldEmail)).toEqual([sent(SUBJECT.verifyCode), sent(SUBJECT.emailChanged)]);
    expect(await subjectsTo(newEmail)).toEqual([sent(SUBJECT.changeEmailCode)]);
    const [codeMail] = await delivered(newEmail);
    expect(codeMail!.text).toContain(APP_NAME);
    expect(codeMail!.html).toContain(APP_NAME);
  });
});

describe('second factors', () => {
  it('adding and removing a TOTP factor: one notice each, without the secret, a code or a recovery code', async () => {
    const email = letterEmail('factor');
    const tokens = await signUp(app, email);
    const totp = await enableTotp(app, tokens, 'Phone');
    expect(totp.recoveryCodes).toHaveLength(10);
    const secrets = [totp.secret, ...totp.recoveryCodes, ...tokenSecrets(tokens)];

    const added = await theNotice(email, SUBJECT.factorAdded, secrets);
    expect(added.text).toContain('Phone');

    const level2 = await levelTwo(email, totp);
    expect(ok(await removeMfaFactor(level2.accessToken, totp.factorId)).removeMfaFactor).toBe(true);
    await theNotice(email, SUBJECT.factorRemoved, [...secrets, ...tokenSecrets(level2)]);
    expect(await subjectsTo(email)).toEqual([
      sent(SUBJECT.verifyCode),
      sent(SUBJECT.factorAdded),
      sent(SUBJECT.factorRemoved),
    ]);
  });
});

describe('identities', () => {
  it('linking and unlinking a provider: one notice each, naming the provider', async () => {
    const email = letterEmail('identity');
    const tokens = await signUp(app, email);
    const sub = `notices-${randomBytes(6).toString('hex')}`;
    await provider.setAccount({ sub, email: letterEmail('elsewhere'), email_verified: true });

    const identity = await socialLink(app, provider, 'acme', sub, tokens.accessToken);
    await theNotice(email, SUBJECT.identityLinked, tokenSecrets(tokens));

    expect(ok(await unlinkIdentity(app, identity.id, tokens.accessToken)).unlinkIdentity).toBe(true);
    await theNotice(email, SUBJECT.identityUnlinked, tokenSecrets(tokens));
    expect(await subjectsTo(email)).toEqual([
      sent(SUBJECT.verifyCode),
      sent(SUBJECT.identityLinked),
      sent(SUBJECT.identityUnlinked),
    ]);
  });
});

describe('API keys', () => {
  it('createApiKey: one notice naming the key and its prefix, never the secret', async () => {
    const email = letterEmail('apikey');
    const tokens = await signUp(app, email);
    const { secret, apiKey } = ok(await createApiKey(tokens.accessToken, 'deploy bot')).createApiKey;

    const mail = await theNotice(email, SUBJECT.apiKeyCreated, [secret, secret.slice(12), ...tokenSecrets(tokens)]);
    expect(mail.text).toContain('deploy bot');
    expect(mail.text).toContain(apiKey.prefix);
    expect(await subjectsTo(email)).toEqual([sent(SUBJECT.verifyCode), sent(SUBJECT.apiKeyCreated)]);
  });
});

describe('account deletion', () => {
  it('deleteAccount: the address gets "Your account was deleted" once, after the account is gone', async () => {
    const email = letterEmail('deleted');
    const tokens = await signUp(app, email);
    expect(ok(await deleteAccount(tokens.accessToken)).deleteAccount).toBe(true);

    await theNotice(email, SUBJECT.accountDeleted, [PASSWORD, ...tokenSecrets(tokens)]);
    expect(await subjectsTo(email)).toEqual([sent(SUBJECT.verifyCode), sent(SUBJECT.accountDeleted)]);
    expect(await app.sql('select id from users where email = ?', [email])).toEqual([]);
  });
});

describe('an address nobody proved', () => {
  /** A sign-in with an ID token for `sub` whose provider does not vouch for `email` (a new account the first time). */
  async function unprovedSignIn(sub: string, email: string) {
    const raw = randomBytes(32).toString('base64url');
    const claims = { aud: 'client-acme', sub, email, email_verified: false, nonce: nonceClaim(raw) };
    return idTokenSignIn(app, 'acme', await provider.mintIdToken(claims), raw);
  }

  it('gets no notice: its account adds a key, adds and removes a factor, moves to a proved address', async () => {
    const email = letterEmail('unproved');
    const sub = `unproved-${randomBytes(6).toString('hex')}`;
    const tokens = ok(await unprovedSignIn(sub, email)).signInWithIdToken;
    expect(tokens.user).toMatchObject({ email, emailVerified: false });

    ok(await createApiKey(tokens.accessToken, 'unproved key'));
    const totp = await enableTotp(app, tokens);
    const ticket = mfaTicketOf(await unprovedSignIn(sub, email));
    const level2 = ok(await verifyMfa(app, ticket, { code: nextTotpCode(app, totp.secret) })).verifyMfa;
    expect(ok(await removeMfaFactor(level2.accessToken, totp.factorId)).removeMfaFactor).toBe(true);

    // The new address gets its code; the unproved old one nothing.
    const newEmail = letterEmail('proved');
    const before = app.smtp.messages.length;
    ok(await requestEmailChange(level2.accessToken, newEmail));
    const code = await app.smtp.codeFor(newEmail, /confirm your new email address/i, before);
    ok(await confirmEmailChange(level2.accessToken, code));

    expect(await subjectsTo(email)).toEqual([]);
    expect(await subjectsTo(newEmail)).toEqual([sent(SUBJECT.changeEmailCode)]);
  });

  it('gets no notice when its account is deleted', async () => {
    const email = letterEmail('unproved-deleted');
    const tokens = ok(await unprovedSignIn(`unproved-${randomBytes(6).toString('hex')}`, email)).signInWithIdToken;
    expect(ok(await deleteAccount(tokens.accessToken)).deleteAccount).toBe(true);
    expect(await subjectsTo(email)).toEqual([]);
  });
});
