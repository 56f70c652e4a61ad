// Issue 11 item 2: re-registering a still-unverified email cannot take the account over. A registration's
// pending password lives on its own VERIFY_EMAIL code, which only its own network can use; while one
// registration's code is live, a later registration's code verifies the email but sets no password.
import { AUTH_FIELDS, PASSWORD, login as signIn, uniqueEmail, type Tokens } from './helpers/flows';
import { errorCode, startTestApp, type TestApp } from './helpers/test-server';

const VICTIM_PASSWORD = PASSWORD;
const ATTACKER_PASSWORD = 'Attacker-Chosen-5!';
const VICTIM_IP = '192.0.2.20';
const ATTACKER_IP = '203.0.113.66';

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp({ env: { TRUST_PROXY: 'loopback' } });
});
afterAll(async () => {
  await app.stop();
});

const from = (ip: string) => ({ headers: { 'x-forwarded-for': ip } });

function register(email: string, password: string, ip: string) {
  return app.gql<{ register: { expiresIn: number; retryAfter: number } }>(
    'mutation($i: RegisterInput!) { register(input: $i) { expiresIn retryAfter } }',
    { i: { email, password } },
    from(ip),
  );
}

function verifyOtp(email: string, code: string, ip: string) {
  return app.gql<{ verifyOtp: Tokens }>(
    `mutation($e: String!, $c: String!) { verifyOtp(email: $e, code: $c, purpose: VERIFY_EMAIL) { ${AUTH_FIELDS} } }`,
    { e: email, c: code },
    from(ip),
  );
}

/** flows.ts's login, from `ip` (X-Forwarded-For; the app trusts loopback). */
function login(email: string, password: string, ip: string) {
  return signIn(app, email, password, from(ip).headers);
}

/** register from `ip`, then the VERIFY_EMAIL code that registration sent to the inbox. */
async function registerForCode(
  email: string,
  password: string,
  ip: string,
): Promise<{ code: string; answer: unknown }> {
  const before = app.smtp.messages.length;
  const res = await register(email, password, ip);
  expect(res.errors).toBeUndefined();
  return { code: await app.smtp.codeFor(email, /confirm/i, before), answer: res.data };
}

describe('re-registering an unverified email', () => {
  it("the victim's newest code never activates the attacker's password (the attack, from another address)", async () => {
    const email = uniqueEmail('victim');
    const victim = await registerForCode(email, VICTIM_PASSWORD, VICTIM_IP);
    app.clock.advance(61);
    const attacker = await registerForCode(email, ATTACKER_PASSWORD, ATTACKER_IP);
    expect(attacker.answer).toEqual(victim.answer); // the same answer as always

    // The victim enters the newest code from the inbox (the attacker's registration's): not theirs to use.
    expect(errorCode(await verifyOtp(email, attacker.code, VICTIM_IP))).toBe('INVALID_OTP');
    const signedIn = await verifyOtp(email, victim.code, VICTIM_IP);
    expect(signedIn.errors).toBeUndefined();
    expect(signedIn.data!.verifyOtp.user.email).toBe(email);

    expect(errorCode(await login(email, ATTACKER_PASSWORD, ATTACKER_IP))).toBe('INVALID_CREDENTIALS');
    expect((await login(email, VICTIM_PASSWORD, VICTIM_IP)).data?.login.user.email).toBe(email);
    // The attacker's registration ended with the verification: its code is retired.
    expect(errorCode(await verifyOtp(email, attacker.code, ATTACKER_IP))).toBe('INVALID_OTP');
  });

  it("the newest code never activates the attacker's password (the attack, from the victim's own network)", async () => {
    const email = uniqueEmail('shared-nat');
    await registerForCode(email, VICTIM_PASSWORD, VICTIM_IP);
    app.clock.advance(61);
    const attacker = await registerForCode(email, ATTACKER_PASSWORD, VICTIM_IP); // behind the same NAT

    const signedIn = await verifyOtp(email, attacker.code, VICTIM_IP);
    expect(signedIn.errors).toBeUndefined(); // verified and signed in, but with no password set
    expect(errorCode(await login(email, ATTACKER_PASSWORD, VICTIM_IP))).toBe('INVALID_CREDENTIALS');
  });

  it("a registration made before the owner's cannot set its password through the owner's code", async () => {
    const email = uniqueEmail('pre-hijack');
    await registerForCode(email, ATTACKER_PASSWORD, ATTACKER_IP);
    app.clock.advance(61);
    const owner = await registerForCode(email, VICTIM_PASSWORD, VICTIM_IP);
    expect((await verifyOtp(email, owner.code, VICTIM_IP)).errors).toBeUndefined();
    expect(errorCode(await login(email, ATTACKER_PASSWORD, ATTACKER_IP))).toBe('INVALID_CREDENTIALS');
  });

  it("a VERIFY_EMAIL resend from the same network keeps the registration's password", async () => {
    const email = uniqueEmail('resend');
    await registerForCode(email, VICTIM_PASSWORD, VICTIM_IP);
    app.clock.advance(61);
    const before = app.smtp.messages.length;
    const resent = await app.gql(
      'mutation($e: String!) { requestOtp(email: $e, purpose: VERIFY_EMAIL) { expiresIn } }',
      { e: email },
      from(VICTIM_IP),
    );
    expect(resent.errors).toBeUndefined();
    const code = await app.smtp.codeFor(email, /confirm/i, before);
    expect((await verifyOtp(email, code, VICTIM_IP)).errors).toBeUndefined();
    expect((await login(email, VICTIM_PASSWORD, VICTIM_IP)).data?.login.user.email).toBe(email);
  });
});
