import { AUTH_FIELDS, login, me, PASSWORD, refresh, register, uniqueEmail, verifyOtp } from './helpers/flows';
import { errorCode, startTestApp, type TestApp } from './helpers/test-server';

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(async () => {
  await app.stop();
});

describe('the sign-up path', () => {
  it('register → code by email → verifyOtp → me → refresh → logout → me refused', async () => {
    const email = uniqueEmail();
    await register(app, email);
    const code = await app.smtp.codeFor(email, /confirm/i);

    const verified = await verifyOtp(app, email, code);
    expect(verified.errors).toBeUndefined();
    const tokens = verified.data!.verifyOtp;
    expect(tokens.user.email).toBe(email);

    const who = await me(app, tokens.accessToken);
    expect(who.data?.me).toMatchObject({
      email,
      emailVerified: true,
      roles: ['USER'],
      scopes: ['self:read', 'self:write'],
    });

    const rotated = await refresh(app, tokens.refreshToken);
    expect(rotated.errors).toBeUndefined();
    const next = rotated.data!.refresh;
    expect(next.refreshToken).not.toBe(tokens.refreshToken);
    expect((await me(app, next.accessToken)).data?.me.id).toBe(tokens.user.id);

    const out = await app.gql('mutation { logout }', {}, { token: next.accessToken });
    expect(out.data).toEqual({ logout: true });

    const after = await me(app, next.accessToken);
    expect(errorCode(after)).toBe('UNAUTHENTICATED');
    expect(errorCode(await refresh(app, next.refreshToken))).toBe('UNAUTHENTICATED');
  });

  it('signs in with the password once the email is verified', async () => {
    const email = uniqueEmail();
    await register(app, email);
    // Not EMAIL_NOT_VERIFIED: that would tell a new email from a taken one (tests/enumeration.test.ts).
    expect(errorCode(await login(app, email))).toBe('INVALID_CREDENTIALS');
    const code = await app.smtp.codeFor(email, /confirm/i);
    await verifyOtp(app, email, code);
    const res = await login(app, email.toUpperCase(), PASSWORD);
    expect(res.errors).toBeUndefined();
    expect(res.data!.login.tokenType).toBe('Bearer');
    expect(res.data!.login.expiresIn).toBe(1800);
    expect(AUTH_FIELDS).toContain('refreshToken');
  });
});
