// The playground's preloaded tabs: the sign-in flows, one operation a tab, with variables and, where a
// signed-in caller is needed, a bearer-token header to fill in. Plain data, so tests can validate it.

/** What the headers editor holds on tabs that need a signed-in caller. */
export const BEARER_TEMPLATE = '{\n  "Authorization": "Bearer <paste accessToken>"\n}';

export interface ExampleTab {
  readonly query: string;
  readonly variables?: string;
  readonly headers?: string;
}

const json = (value: unknown): string => JSON.stringify(value, null, 2);

const EMAIL = 'ada@example.com';
const PASSWORD = 'Analytical-Engine-1';
// RFC 7636's example PKCE pair, for trying the social flow by hand: an app makes a fresh one for every sign-in.
const CODE_VERIFIER = 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk';
const CODE_CHALLENGE = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM'; // base64url(SHA-256(CODE_VERIFIER))

export const EXAMPLE_TABS: readonly ExampleTab[] = [
  {
    query: `# 1. Create an account. A 6-digit code is
# emailed (without SMTP_URL: in the server log).
mutation Register($input: RegisterInput!) {
  register(input: $input) {
    expiresIn
    retryAfter
  }
}
`,
    variables: json({ input: { email: EMAIL, password: PASSWORD, fullName: 'Ada' } }),
  },
  {
    query: `# 2. Verify the email with that code: this signs
# in. Paste accessToken into Headers on the Me
# and Logout tabs.
mutation VerifyEmail($email: String!, $code: String!) {
  verifyOtp(email: $email, code: $code, purpose: VERIFY_EMAIL) {
    accessToken
    refreshToken
    tokenType
    expiresIn
    user {
      id
      email
      emailVerified
      roles
      scopes
    }
  }
}
`,
    variables: json({ email: EMAIL, code: '000000' }),
  },
  {
    query: `# 3. Sign in with the password (once the email
# is verified).
mutation Login($email: String!, $password: String!) {
  login(email: $email, password: $password) {
    accessToken
    refreshToken
    expiresIn
    user {
      id
      email
    }
  }
}
`,
    variables: json({ email: EMAIL, password: PASSWORD }),
  },
  {
    query: `# 4. Who am I? Needs the access token in Headers.
query Me {
  me {
    id
    email
    fullName
    emailVerified
    active
    roles
    scopes
    createdAt
  }
}
`,
    headers: BEARER_TEMPLATE,
  },
  {
    query: `# 5. Rotate the refresh token: use the new one
# next time.
mutation Refresh($refreshToken: String) {
  refresh(refreshToken: $refreshToken) {
    accessToken
    refreshToken
    expiresIn
  }
}
`,
    variables: json({ refreshToken: '<paste refreshToken>' }),
  },
  {
    query: `# 6. End the session of the access token in
# Headers (without one: logout(refreshToken: ...)).
mutation Logout {
  logout
}
`,
    headers: BEARER_TEMPLATE,
  },
  {
    query: `# 7. Social sign-in: the providers configured
# (GOOGLE_CLIENT_ID, OIDC_<NAME>_ISSUER, ...).
query IdentityProviders {
  identityProviders {
    id
    displayName
  }
}
`,
  },
  {
    query: `# 8. The app makes a PKCE pair: it keeps the
# verifier and sends codeChallenge, base64url of
# its SHA-256. redirectUri: one of
# OAUTH_REDIRECT_URIS. Open authorizationUrl in a
# browser: after the provider it lands on
# redirectUri?code=... (or ?error=...).
mutation StartSocialSignIn(
  $provider: String!
  $redirectUri: String!
  $codeChallenge: String!
) {
  startSocialSignIn(
    provider: $provider
    redirectUri: $redirectUri
    codeChallenge: $codeChallenge
  ) {
    authorizationUrl
    expiresIn
  }
}
`,
    variables: json({
      provider: 'google',
      redirectUri: 'http://localhost:5173/auth/callback',
      codeChallenge: CODE_CHALLENGE,
    }),
  },
  {
    query: `# 9. Exchange that code (single use, 60 s) with
# the verifier (here: the one of tab 8's
# challenge) for a sign-in.
mutation CompleteSocialSignIn(
  $code: String!
  $codeVerifier: String!
) {
  completeSocialSignIn(
    code: $code
    codeVerifier: $codeVerifier
  ) {
    accessToken
    refreshToken
    expiresIn
    user {
      id
      email
      emailVerified
    }
  }
}
`,
    variables: json({ code: '<paste code from redirectUri>', codeVerifier: CODE_VERIFIER }),
  },
];
