// The example Apollo Client (examples/client), with its generated types, against the live server:
// bearer tokens, transparent single-flight refresh of an expired access token, sign-out, logout. Cookie mode
// runs in Chromium in tests/example-client-cookie.test.ts; here only its refusal of a server not in cookie mode.
import { CombinedGraphQLErrors } from '@apollo/client';
import { createPortcullisClient, type PortcullisClient } from '../examples/client/client';
import { MeDocument, RegisterDocument, SessionsDocument } from '../examples/client/generated/graphql';
import { eventually } from './helpers/eventually';
import { PASSWORD, refresh, uniqueEmail } from './helpers/flows';
import { errorCode, startTestApp, type TestApp } from './helpers/test-server';

const ACCESS_TOKEN_TTL = 60;

let app: TestApp;

beforeAll(async () => {
  app = await startTestApp({ env: { ACCESS_TOKEN_TTL: String(ACCESS_TOKEN_TTL) } });
});

afterAll(async () => {
  await app?.stop();
});

interface Sent {
  operation: string;
  bearer: string | null;
}

/** An example client whose fetch records every request it sends, as the server receives it. */
function watchedClient() {
  const watch = {
    sent: [] as Sent[],
    signOuts: 0,
    /** Runs after the server answered `operation`, before the client sees the answer. */
    afterResponse: async (_operation: string): Promise<void> => {},
  };
  const recordingFetch: typeof fetch = async (input, init) => {
    const { operationName } = JSON.parse(typeof init?.body === 'string' ? init.body : '{}') as {
      operationName: string;
    };
    const authorization = new Headers(init?.headers).get('authorization');
    watch.sent.push({ operation: operationName, bearer: authorization?.replace(/^Bearer /, '') ?? null });
    const response = await fetch(input, init);
    await watch.afterResponse(operationName);
    return response;
  };
  const client = createPortcullisClient({
    uri: app.url,
    fetch: recordingFetch,
    onSignedOut: () => {
      watch.signOuts += 1;
    },
  });
  return Object.assign(watch, {
    client,
    count: (operation: string) => watch.sent.filter((s) => s.operation === operation).length,
  });
}

/** register → code from the email → verifyOtp, all through the example client. */
async function signUp(client: PortcullisClient) {
  const email = uniqueEmail('apollo');
  const before = app.smtp.messages.length;
  const { data } = await client.apollo.mutate({
    mutation: RegisterDocument,
    variables: { input: { email, password: PASSWORD, fullName: 'Ada' } },
    errorPolicy: 'none',
  });
  expect(data.register.retryAfter).toBeGreaterThan(0);
  const code = await app.smtp.codeFor(email, /confirm/i, before);
  const payload = await client.verifyOtp({ email, code, purpose: 'VERIFY_EMAIL' });
  return { email, userId: payload.user.id };
}

/** A watched client, signed up, whose access token has expired on the clock: its next request refreshes. */
async function expiredClient() {
  const watched = watchedClient();
  const { userId } = await signUp(watched.client);
  const expired = watched.client.tokens.read()!.accessToken;
  app.clock.advance(ACCESS_TOKEN_TTL + 1);
  return { watched, client: watched.client, userId, expired };
}

function me(client: PortcullisClient) {
  // No deduplication: concurrent identical queries must each reach the server.
  return client.apollo.query({
    query: MeDocument,
    fetchPolicy: 'network-only',
    errorPolicy: 'none',
    context: { queryDeduplication: false },
  });
}

function sessionsOf(client: PortcullisClient) {
  return client.apollo.query({ query: SessionsDocument, fetchPolicy: 'network-only', errorPolicy: 'none' });
}

function expectUnauthenticated(error: unknown): void {
  expect(CombinedGraphQLErrors.is(error)).toBe(true);
  expect((error as CombinedGraphQLErrors).errors.map((e) => e.extensions?.code)).toEqual(['UNAUTHENTICATED']);
}

it('signs up, refreshes an expired access token transparently, and logs out', async () => {
  const watched = watchedClient();
  const { client } = watched;
  const { email, userId } = await signUp(client);
  const first = client.tokens.read()!;

  const signedIn = await me(client);
  expect(signedIn.data.me).toMatchObject({ id: userId, email, fullName: 'Ada', emailVerified: true, roles: ['USER'] });
  expect(watched.sent.at(-1)).toEqual({ operation: 'Me', bearer: first.accessToken });

  app.clock.advance(ACCESS_TOKEN_TTL + 1);
  expect(errorCode(await app.gql('{ me { id } }', {}, { token: first.accessToken }))).toBe('UNAUTHENTICATED');
  watched.sent.length = 0;
  const afterExpiry = await me(client);

  expect(afterExpiry.data.me.id).toBe(userId);
  const second = client.tokens.read()!;
  expect(second.refreshToken).toEqual(expect.any(String));
  expect(second.accessToken).not.toBe(first.accessToken);
  expect(second.refreshToken).not.toBe(first.refreshToken);
  expect(watched.sent).toEqual([
    { operation: 'Me', bearer: first.accessToken },
    { operation: 'Refresh', bearer: null },
    { operation: 'Me', bearer: second.accessToken },
  ]);

  await client.logout();

  expect(client.tokens.read()).toBeNull();
  expect(watched.sent.at(-1)).toEqual({ operation: 'Logout', bearer: null });
  expect(errorCode(await refresh(app, second.refreshToken!))).toBe('UNAUTHENTICATED');
  expect(errorCode(await app.gql('{ me { id } }', {}, { token: second.accessToken }))).toBe('UNAUTHENTICATED');
  expect(watched.signOuts).toBe(0);
});

it('five requests failing at once share one refresh, and all succeed', async () => {
  const { watched, client, expired } = await expiredClient();
  watched.sent.length = 0;

  const results = await Promise.all([me(client), me(client), me(client), me(client), me(client)]);

  expect(results.map((r) => r.data.me.emailVerified)).toEqual([true, true, true, true, true]);
  const renewed = client.tokens.read()!.accessToken;
  expect(watched.count('Refresh')).toBe(1);
  expect(watched.sent.filter((s) => s.operation === 'Me' && s.bearer === expired)).toHaveLength(5);
  expect(watched.sent.filter((s) => s.operation === 'Me' && s.bearer === renewed)).toHaveLength(5);
  expect(watched.sent).toHaveLength(11);
});

it('a request refused after the refresh is done retries with the new token, without refreshing again', async () => {
  const { watched, client, expired } = await expiredClient();
  // Hold back the second answer to Me until the first one's refresh has renewed the tokens.
  let answers = 0;
  watched.afterResponse = async (operation) => {
    if (operation === 'Me' && ++answers === 2)
      await eventually(() => client.tokens.read()?.accessToken !== expired, Boolean, {
        timeoutMs: 5_000,
        intervalMs: 10,
      });
  };
  watched.sent.length = 0;

  const results = await Promise.all([me(client), me(client)]);

  expect(results.map((r) => r.data.me.emailVerified)).toEqual([true, true]);
  const renewed = client.tokens.read()!.accessToken;
  expect(watched.count('Refresh')).toBe(1);
  const meBearers = watched.sent.filter((s) => s.operation === 'Me').map((s) => s.bearer);
  expect(meBearers).toEqual([expired, expired, renewed, renewed]);
});

it('signs out once when the server has ended the session, and the requests fail with UNAUTHENTICATED', async () => {
  const watched = watchedClient();
  const { client } = watched;
  const { email } = await signUp(client);
  const other = watchedClient();
  await other.client.login({ email, password: PASSWORD });
  await other.client.logoutAll(); // ends every session of the user, this client's too
  watched.sent.length = 0;

  const results = await Promise.allSettled([me(client), me(client), sessionsOf(client)]);

  for (const result of results) {
    expect(result.status).toBe('rejected');
    expectUnauthenticated((result as PromiseRejectedResult).reason);
  }
  expect(watched.count('Refresh')).toBe(1);
  expect(watched.signOuts).toBe(1);
  expect(client.tokens.read()).toBeNull();

  // Signed out now: requests go without a token and fail, with no refresh attempted.
  expectUnauthenticated(
    await me(client).then(
      () => 'succeeded',
      (error: unknown) => error,
    ),
  );
  expect(watched.sent.at(-1)).toEqual({ operation: 'Me', bearer: null });
  expect(watched.count('Refresh')).toBe(1);
  expect(watched.signOuts).toBe(1);
});

it('a request refused again right after a refresh signs out instead of refreshing again', async () => {
  const { watched, client, userId } = await expiredClient();
  // The session ends between the refresh and the retry, so the retry is refused too.
  watched.afterResponse = async (operation) => {
    if (operation === 'Refresh') {
      await app.sql("update sessions set revoked_at = now(), revoked_reason = 'test' where user_id = ?", [userId]);
    }
  };
  watched.sent.length = 0;

  expectUnauthenticated(
    await me(client).then(
      () => 'succeeded',
      (error: unknown) => error,
    ),
  );

  expect(watched.sent.map((s) => s.operation)).toEqual(['Me', 'Refresh', 'Me']);
  expect(watched.signOuts).toBe(1);
  expect(client.tokens.read()).toBeNull();
});

it('after login and logout, the refresh token no longer works', async () => {
  const watched = watchedClient();
  const { client } = watched;
  const { email } = await signUp(client);
  await client.logout();

  const payload = await client.login({ email, password: PASSWORD });
  expect(payload.tokenType).toBe('Bearer');
  expect(payload.expiresIn).toBe(ACCESS_TOKEN_TTL);
  const sessions = await sessionsOf(client);
  expect(sessions.data.sessions.filter((s) => s.current)).toHaveLength(1);
  const { refreshToken } = client.tokens.read()!;

  await client.logout();

  expect(client.tokens.read()).toBeNull();
  expect(errorCode(await refresh(app, refreshToken!))).toBe('UNAUTHENTICATED');
  expect(watched.signOuts).toBe(0);
});

it('in cookie mode, refuses a server that returns the refresh token instead of setting the cookie', async () => {
  const { email } = await signUp(watchedClient().client);
  const client = createPortcullisClient({ uri: app.url, refreshTokenCookie: true });

  await expect(client.login({ email, password: PASSWORD })).rejects.toThrow(/REFRESH_TOKEN_COOKIE=true/);

  expect(client.tokens.read()).toBeNull(); // the refresh token it was handed is not kept anywhere
});

it('resume() is for cookie mode: in token mode the token store keeps the session', async () => {
  const client = createPortcullisClient({ uri: app.url });

  await expect(client.resume()).rejects.toThrow(/cookie mode/);
});
