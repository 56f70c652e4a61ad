// Issue 11 item 8: register-then-login cannot tell a taken email from a new one. An unverified account has no
// password until its code verifies it, so login answers it exactly as a wrong password or an unknown email.
import { login, PASSWORD, register, signUp, uniqueEmail, verifyOtp } from './helpers/flows';
import { errorCode, startTestApp, type TestApp } from './helpers/test-server';

const CHOSEN = 'Probe-Password-3!';

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(async () => {
  await app.stop();
});

describe('register(email, P) then login(email, P)', () => {
  it('answers the same for an email with a verified account and for a new email', async () => {
    const taken = uniqueEmail('taken');
    await signUp(app, taken, PASSWORD);
    app.clock.advance(61); // past the resend interval of the owner's own registration

    await register(app, taken, CHOSEN);
    const takenAnswer = await login(app, taken, CHOSEN);

    const fresh = uniqueEmail('fresh');
    await register(app, fresh, CHOSEN);
    const freshAnswer = await login(app, fresh, CHOSEN);

    expect(errorCode(freshAnswer)).toBe('INVALID_CREDENTIALS');
    expect(freshAnswer.errors).toEqual(takenAnswer.errors);
    expect(freshAnswer.data).toEqual(takenAnswer.data);
  });

  it('the new account signs in with its password once its code has verified it', async () => {
    const email = uniqueEmail('then-verified');
    const before = app.smtp.messages.length;
    await register(app, email, CHOSEN);
    expect(errorCode(await login(app, email, CHOSEN))).toBe('INVALID_CREDENTIALS');
    const code = await app.smtp.codeFor(email, /confirm/i, before);
    expect((await verifyOtp(app, email, code)).errors).toBeUndefined();
    expect((await login(app, email, CHOSEN)).data?.login.user.email).toBe(email);
  });
});
