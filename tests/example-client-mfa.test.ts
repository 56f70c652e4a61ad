// The example Apollo client (examples/client) and second factors, against the live server: a sign-in answering
// MFA_REQUIRED asks the app's onMfaRequired and finishes with verifyMfa (again after a wrong code); an operation
// answering STEP_UP_REQUIRED asks the app's onStepUp, reauthenticates, keeps the refresh token and retries once.
import { CombinedGraphQLErrors } from '@apollo/client';
import { Secret, TOTP } from 'otpauth';
import { createPortcullisClient, type PortcullisClient } from '../examples/client/client';
import {
  AssuranceDocument,
  ConfirmTotpDocument,
  EnrollTotpDocument,
  MeDocument,
  RegenerateRecoveryCodesDocument,
} from '../examples/client/generated/graphql';
import type { MfaRequest, SecondFactorProof } from '../examples/client/mfa';
import type { StepUpProof, StepUpRequest } from '../examples/client/step-up-link';
import { createUser } from './helpers/factories';
import { startTestApp, type TestApp } from './helpers/test-server';

const ACCESS_TOKEN_TTL = 900;
const STEP_UP_MAX_AGE = 300; // the server's default
const TOTP_STEP = 30;

let app: TestApp;

beforeAll(async () => {
  app = await startTestApp({ env: { ACCESS_TOKEN_TTL: String(ACCESS_TOKEN_TTL) } });
});

afterAll(async () => {
  await app?.stop();
});

/** The TOTP code of `secret` now on the app's clock, computed apart from the server (RFC 6238, SHA1/6/30 s). */
function totpCode(secret: string): string {
  return new TOTP({ secret: Secret.fromBase32(secret) }).generate({ timestamp: app.clock.now().getTime() });
}

/** A code the server refuses: none of the three steps its ±1 window accepts now. */
function wrongTotpCode(secret: string): string {
  const totp = new TOTP({ secret: Secret.fromBase32(secret) });
  const now = app.clock.now().getTime();
  const accepted = [-1, 0, 1].map((step) => totp.generate({ timestamp: now + step * TOTP_STEP * 1000 }));
  let code = Number(accepted[1]);
  do code = (code + 1) % 1_000_000;
  while (accepted.includes(String(code).padStart(6, '0')));
  return String(code).padStart(6, '0');
}

interface Sent {
  operation: string;
  variables: Record<string, unknown>;
}

/** An example client whose fetch records every operation it sends; the callbacks are the test's. */
function recordingClient(
  callbacks: {
    onMfaRequired?: (request: MfaRequest) => Promise<SecondFactorProof | null>;
    onStepUp?: (request: StepUpRequest) => Promise<StepUpProof | null>;
  } = {},
) {
  const sent: Sent[] = [];
  const client = createPortcullisClient({
    uri: app.url,
    ...callbacks,
    fetch: async (input, init) => {
      const { operationName, variables } = JSON.parse(typeof init?.body === 'string' ? init.body : '{}') as Sent & {
        operationName: string;
      };
      sent.push({ operation: operationName, variables });
      return fetch(input, init);
    },
  });
  return { client, sent, operations: () => sent.map((s) => s.operation) };
}

/** A new user who turned TOTP on through the example client; the clock then moves to the next TOTP step. */
async function userWithTotp() {
  const user = await createUser(app);
  const { client } = recordingClient();
  await client.login({ email: user.email, password: user.password });
  const enrolled = await client.apollo.mutate({
    mutation: EnrollTotpDocument,
    variables: { name: 'Phone' },
    errorPolicy: 'none',
  });
  const { factorId, secret } = enrolled.data.enrollTotp;
  const confirmed = await client.apollo.mutate({
    mutation: ConfirmTotpDocument,
    variables: { factorId, code: totpCode(secret) },
    errorPolicy: 'none',
  });
  const recoveryCodes = confirmed.data.confirmTotp;
  expect(recoveryCodes).toHaveLength(10);
  await client.logout();
  app.clock.advance(TOTP_STEP); // the confirming code's step is spent: the next code must come from a later one
  return { ...user, secret, recoveryCodes };
}

/** The user, signed in through a client with the given callbacks (password, then a TOTP code). */
async function signedInWithTotp(onStepUp: (request: StepUpRequest) => Promise<StepUpProof | null>) {
  const user = await userWithTotp();
  const recording = recordingClient({ onMfaRequired: async () => ({ code: totpCode(user.secret) }), onStepUp });
  await recording.client.login({ email: user.email, password: user.password });
  recording.sent.length = 0;
  return { user, ...recording };
}

function me(client: PortcullisClient) {
  return client.apollo.query({ query: MeDocument, fetchPolicy: 'network-only', errorPolicy: 'none' });
}

function assurance(client: PortcullisClient) {
  return client.apollo.query({ query: AssuranceDocument, fetchPolicy: 'network-only', errorPolicy: 'none' });
}

function regenerateRecoveryCodes(client: PortcullisClient) {
  return client.apollo.mutate({ mutation: RegenerateRecoveryCodesDocument, errorPolicy: 'none' });
}

/** The `extensions.code`s of a rejection from Apollo. */
async function rejectionCodes(promise: Promise<unknown>): Promise<unknown[]> {
  const error = await promise.then(
    () => null,
    (reason: unknown) => reason,
  );
  if (!CombinedGraphQLErrors.is(error)) throw new Error(`expected GraphQL errors, got ${String(error)}`);
  return error.errors.map((e) => e.extensions?.code);
}

describe('MFA_REQUIRED', () => {
  it('a password sign-in asks onMfaRequired for a second factor, and a TOTP code finishes it', async () => {
    const user = await userWithTotp();
    const onMfaRequired = jest.fn(async () => ({ code: totpCode(user.secret) }));
    const { client, operations } = recordingClient({ onMfaRequired });

    const payload = await client.login({ email: user.email, password: user.password });

    expect(onMfaRequired).toHaveBeenCalledTimes(1);
    expect(onMfaRequired).toHaveBeenCalledWith({
      factors: ['TOTP', 'RECOVERY_CODE'],
      passkeyChallenge: null,
      attempt: 1,
    });
    expect(payload.user.email).toBe(user.email);
    expect(client.tokens.read()).toEqual({ accessToken: payload.accessToken, refreshToken: payload.refreshToken });
    expect((await me(client)).data.me.id).toBe(user.id);
    expect((await assurance(client)).data.assurance).toMatchObject({ level: 2, methods: ['pwd', 'otp', 'mfa'] });
    expect(operations()).toEqual(['Login', 'VerifyMfa', 'Me', 'Assurance']);
  });

  it('after a wrong code, onMfaRequired is asked again and the right code signs in', async () => {
    const user = await userWithTotp();
    const answers = [wrongTotpCode(user.secret), totpCode(user.secret)];
    const onMfaRequired = jest.fn(async (_request: MfaRequest) => ({ code: answers.shift()! }));
    const { client, sent } = recordingClient({ onMfaRequired });

    await client.login({ email: user.email, password: user.password });

    expect(onMfaRequired.mock.calls.map(([request]) => request.attempt)).toEqual([1, 2]);
    const verifies = sent.filter((s) => s.operation === 'VerifyMfa');
    expect(verifies).toHaveLength(2);
    expect(verifies[1]!.variables.ticket).toBe(verifies[0]!.variables.ticket); // the same ticket, tried again
    expect((await me(client)).data.me.id).toBe(user.id);
  });

  it('a recovery code finishes a sign-in too', async () => {
    const user = await userWithTotp();
    const { client } = recordingClient({ onMfaRequired: async () => ({ recoveryCode: user.recoveryCodes[0]! }) });

    await client.login({ email: user.email, password: user.password });

    expect((await me(client)).data.me.id).toBe(user.id);
  });

  it('when the user gives up (null), the sign-in rejects with MFA_REQUIRED and no tokens are kept', async () => {
    const user = await userWithTotp();
    const { client, operations } = recordingClient({ onMfaRequired: async () => null });

    expect(await rejectionCodes(client.login({ email: user.email, password: user.password }))).toEqual([
      'MFA_REQUIRED',
    ]);

    expect(client.tokens.read()).toBeNull();
    expect(operations()).toEqual(['Login']);
  });

  it('without onMfaRequired, the sign-in rejects with MFA_REQUIRED', async () => {
    const user = await userWithTotp();
    const { client } = recordingClient();

    expect(await rejectionCodes(client.login({ email: user.email, password: user.password }))).toEqual([
      'MFA_REQUIRED',
    ]);
    expect(client.tokens.read()).toBeNull();
  });
});

describe('STEP_UP_REQUIRED', () => {
  it('a level 2 operation after maxAge asks onStepUp, reauthenticates with a TOTP code and succeeds on one retry', async () => {
    let secret = '';
    const onStepUp = jest.fn(async (_request: StepUpRequest) => ({ code: totpCode(secret) }));
    const { user, client, sent, operations } = await signedInWithTotp(onStepUp);
    secret = user.secret;
    const before = client.tokens.read()!;
    app.clock.advance(STEP_UP_MAX_AGE + 1); // the sign-in is no longer recent (and its TOTP step is long past)

    const { data } = await regenerateRecoveryCodes(client);

    expect(data.regenerateRecoveryCodes).toHaveLength(10);
    expect(onStepUp).toHaveBeenCalledTimes(1);
    expect(onStepUp.mock.calls[0]![0]).toMatchObject({ level: 2, maxAge: STEP_UP_MAX_AGE });
    expect(operations()).toEqual(['RegenerateRecoveryCodes', 'Reauthenticate', 'RegenerateRecoveryCodes']);
    const after = client.tokens.read()!;
    expect(after.accessToken).not.toBe(before.accessToken);
    expect(after.refreshToken).toBe(before.refreshToken); // reauthenticate answers refreshToken null: kept as it was

    // The kept refresh token still works: once the access token expires, the client refreshes with it.
    app.clock.advance(ACCESS_TOKEN_TTL + 1);
    sent.length = 0;
    const renewed = (await assurance(client)).data.assurance;
    expect(operations()).toEqual(['Assurance', 'Refresh', 'Assurance']);
    expect(sent[1]!.variables.refreshToken).toBe(before.refreshToken);
    expect(renewed.level).toBe(2);
    expect(client.tokens.read()!.refreshToken).not.toBe(before.refreshToken); // rotated by that refresh
  });

  it('a wrong proof: the INVALID_OTP of reauthenticate reaches the caller, asked once, never retried', async () => {
    let secret = '';
    const onStepUp = jest.fn(async () => ({ code: wrongTotpCode(secret) }));
    const { user, client, operations } = await signedInWithTotp(onStepUp);
    secret = user.secret;
    const before = client.tokens.read();
    app.clock.advance(STEP_UP_MAX_AGE + 1);

    expect(await rejectionCodes(regenerateRecoveryCodes(client))).toEqual(['INVALID_OTP']);

    expect(onStepUp).toHaveBeenCalledTimes(1);
    expect(operations()).toEqual(['RegenerateRecoveryCodes', 'Reauthenticate']);
    expect(client.tokens.read()).toEqual(before);
  });

  it('a retry refused again (a password proves only level 1) returns STEP_UP_REQUIRED to the caller', async () => {
    let password = '';
    const onStepUp = jest.fn(async () => ({ password }));
    const { user, client, operations } = await signedInWithTotp(onStepUp);
    password = user.password;
    app.clock.advance(STEP_UP_MAX_AGE + 1);

    expect(await rejectionCodes(regenerateRecoveryCodes(client))).toEqual(['STEP_UP_REQUIRED']);

    expect(onStepUp).toHaveBeenCalledTimes(1);
    expect(operations()).toEqual(['RegenerateRecoveryCodes', 'Reauthenticate', 'RegenerateRecoveryCodes']);
  });

  it('when the user declines (null), STEP_UP_REQUIRED reaches the caller without reauthenticating', async () => {
    const onStepUp = jest.fn(async () => null);
    const { client, operations } = await signedInWithTotp(onStepUp);
    app.clock.advance(STEP_UP_MAX_AGE + 1);

    expect(await rejectionCodes(regenerateRecoveryCodes(client))).toEqual(['STEP_UP_REQUIRED']);

    expect(onStepUp).toHaveBeenCalledTimes(1);
    expect(operations()).toEqual(['RegenerateRecoveryCodes']);
  });
});
