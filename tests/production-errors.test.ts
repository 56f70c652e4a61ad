// In production no error tells a client what the schema holds: no "Did you mean …" for field, argument, type or
// enum names, whether the mistake is in the document (validation) or in the variables (coercion).
import { errorCode, startTestApp, type GraphQLResponse, type TestApp } from './helpers/test-server';

const REQUEST_OTP = 'mutation($e: String!, $p: OtpPurpose!) { requestOtp(email: $e, purpose: $p) { expiresIn } }';
const REGISTER = 'mutation($i: RegisterInput!) { register(input: $i) { expiresIn } }';

// One mistake of each kind, each one a near miss that graphql-js answers with a suggestion.
const NEAR_MISSES: Array<
  [kind: string, query: string, variables: Record<string, unknown>, code: string, hint: RegExp]
> = [
  ['a field name', '{ mee { id } }', {}, 'GRAPHQL_VALIDATION_FAILED', /"me"/],
  [
    'an argument name',
    'mutation { requestOtp(email: "a@example.com", purpose: LOGIN, purpos: LOGIN) { expiresIn } }',
    {},
    'GRAPHQL_VALIDATION_FAILED',
    /"purpose"/,
  ],
  [
    'a type name',
    'mutation($e: String!, $p: OtpPurpos!) { requestOtp(email: $e, purpose: $p) { expiresIn } }',
    { e: 'a@example.com', p: 'LOGIN' },
    'GRAPHQL_VALIDATION_FAILED',
    /"OtpPurpose"/,
  ],
  [
    'an enum value in the document',
    'mutation { requestOtp(email: "a@example.com", purpose: LOGI) { expiresIn } }',
    {},
    'GRAPHQL_VALIDATION_FAILED',
    /"LOGIN"/,
  ],
  [
    'an input field in the document',
    'mutation { register(input: { email: "a@example.com", emial: "a@example.com", password: "x" }) { expiresIn } }',
    {},
    'GRAPHQL_VALIDATION_FAILED',
    /"email"/,
  ],
  ['an enum value in the variables', REQUEST_OTP, { e: 'a@example.com', p: 'LOGI' }, 'BAD_USER_INPUT', /"LOGIN"/],
  [
    'an input field in the variables',
    REGISTER,
    { i: { emial: 'a@example.com', email: 'a@example.com', password: 'x' } },
    'BAD_USER_INPUT',
    /"email"/,
  ],
];

function messages(res: GraphQLResponse): string {
  return (res.errors ?? []).map((e) => e.message).join('\n');
}

describe('error messages in development', () => {
  let app: TestApp;
  beforeAll(async () => void (app = await startTestApp({ env: { NODE_ENV: 'development' } })));
  afterAll(() => app.stop());

  // The control: every near miss below does draw a suggestion when nothing hides it.
  it.each(NEAR_MISSES)('suggest a name for %s', async (_kind, query, variables, code, hint) => {
    const res = await app.gql(query, variables);

    expect(errorCode(res)).toBe(code);
    expect(messages(res)).toMatch(/Did you mean/);
    expect(messages(res)).toMatch(hint);
  });
});

describe('error messages in production', () => {
  let app: TestApp;
  beforeAll(async () => void (app = await startTestApp({ env: { NODE_ENV: 'production', BCRYPT_COST: '10' } })));
  afterAll(() => app.stop());

  it.each(NEAR_MISSES)(
    'suggest nothing for %s, keeping the error code',
    async (_kind, query, variables, code, hint) => {
      const res = await app.gql(query, variables);

      expect(errorCode(res)).toBe(code);
      expect(messages(res)).not.toMatch(/did you mean/i);
      expect(messages(res)).not.toMatch(hint);
      expect(messages(res)).not.toMatch(/Suggestion hidden/);
    },
  );

  it('still names the value that was wrong, so the client can fix it', async () => {
    const res = await app.gql(REQUEST_OTP, { e: 'a@example.com', p: 'LOGI' });

    expect(errorCode(res)).toBe('BAD_USER_INPUT');
    expect(messages(res)).toMatch(/"LOGI"/);
  });
});
