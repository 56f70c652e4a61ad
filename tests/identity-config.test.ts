// Social sign-in configuration: PUBLIC_URL, OAUTH_REDIRECT_URIS, the Google preset and OIDC_<NAME>_* providers,
// each bad value refused at start-up with the variable's name.
import { loadConfig } from '../src/config/config';
import { ConfigError } from '../src/config/config-helpers';
import { TEST_DATA_KEYS } from './helpers/server-env';

const BASE = { JWT_SECRET: 'identity-config-secret-that-is-long-enough', DATA_DIR: '/nonexistent' };
const PRODUCTION = {
  ...BASE,
  NODE_ENV: 'production',
  DATABASE_URL: 'postgres://portcullis@db.example.com:5432/portcullis',
  SMTP_URL: 'smtp://mail.example.com:587',
  DATA_ENCRYPTION_KEYS: TEST_DATA_KEYS,
};
const ACME = {
  OIDC_ACME_ISSUER: 'https://id.acme.example',
  OIDC_ACME_CLIENT_ID: 'acme-web',
  OIDC_ACME_CLIENT_SECRET: 'acme-secret',
};

function refusal(env: Record<string, string>): { variable: string; message: string } {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return { variable: err.variable, message: err.message };
    throw err;
  }
  throw new Error('loadConfig accepted the environment');
}

describe('identity providers', () => {
  it('has none, PUBLIC_URL http://localhost:PORT and no redirect URIs by default', () => {
    const { socialSignIn } = loadConfig({ ...BASE, PORT: '4123' });
    expect(socialSignIn).toEqual({ publicUrl: 'http://localhost:4123', redirectUris: [], providers: [] });
  });

  it('reads a generic provider with its defaults', () => {
    const [acme] = loadConfig({ ...BASE, ...ACME }).socialSignIn.providers;
    expect(acme).toEqual({
      id: 'acme',
      displayName: 'Acme',
      issuer: 'https://id.acme.example',
      clientId: 'acme-web',
      clientSecret: 'acme-secret',
      scopes: 'openid email profile',
      tokenAuth: 'client_secret_post',
      idTokenAudiences: ['acme-web'],
      idTokenNonceOptional: false,
      hostedDomains: [],
    });
  });

  it('reads display name, scopes (openid always), token auth, ID-token audiences and nonce policy', () => {
    const [acme] = loadConfig({
      ...BASE,
      ...ACME,
      OIDC_ACME_DISPLAY_NAME: 'Acme SSO',
      OIDC_ACME_SCOPES: 'email groups',
      OIDC_ACME_TOKEN_AUTH: 'client_secret_basic',
      OIDC_ACME_ID_TOKEN_AUDIENCES: 'acme-ios, acme-android',
      OIDC_ACME_ID_TOKEN_NONCE: 'optional',
    }).socialSignIn.providers;
    expect(acme).toMatchObject({
      displayName: 'Acme SSO',
      scopes: 'openid email groups',
      tokenAuth: 'client_secret_basic',
      idTokenAudiences: ['acme-web', 'acme-ios', 'acme-android'],
      idTokenNonceOptional: true,
    });
  });

  it('configures Google from GOOGLE_CLIENT_ID and GOOGLE_CLIENT_SECRET, with its issuer and hosted domains', () => {
    const [google] = loadConfig({
      ...BASE,
      GOOGLE_CLIENT_ID: 'g-web',
      GOOGLE_CLIENT_SECRET: 'g-secret',
      GOOGLE_HOSTED_DOMAINS: 'Example.com,example.org',
    }).socialSignIn.providers;
    expect(google).toMatchObject({
      id: 'google',
      displayName: 'Google',
      issuer: 'https://accounts.google.com',
      hostedDomains: ['example.com', 'example.org'],
    });
  });

  it('lists Google first and every generic provider after it', () => {
    const ids = loadConfig({
      ...BASE,
      ...ACME,
      GOOGLE_CLIENT_ID: 'g',
      GOOGLE_CLIENT_SECRET: 's',
      OIDC_BETA_ISSUER: 'https://beta.example',
      OIDC_BETA_CLIENT_ID: 'b',
      OIDC_BETA_CLIENT_SECRET: 'b',
    }).socialSignIn.providers.map((p) => p.id);
    expect(ids).toEqual(['google', 'acme', 'beta']);
  });

  it.each([
    [{ OIDC_ACME_ISSUER: 'https://id.acme.example' }, 'OIDC_ACME_CLIENT_ID'],
    [{ ...ACME, OIDC_ACME_CLIENT_SECRET: '' }, 'OIDC_ACME_CLIENT_SECRET'],
    [{ ...ACME, OIDC_ACME_ISSUER: 'not a url' }, 'OIDC_ACME_ISSUER'],
    [{ ...ACME, OIDC_ACME_ISSUER: 'http://id.acme.example' }, 'OIDC_ACME_ISSUER'],
    [{ ...ACME, OIDC_ACME_TOKEN_AUTH: 'private_key_jwt' }, 'OIDC_ACME_TOKEN_AUTH'],
    [{ ...ACME, OIDC_ACME_ID_TOKEN_NONCE: 'never' }, 'OIDC_ACME_ID_TOKEN_NONCE'],
    [{ 'OIDC_AC-ME_ISSUER': 'https://x.example' }, 'OIDC_AC-ME_ISSUER'],
    [{ OIDC_GOOGLE_ISSUER: 'https://x.example' }, 'OIDC_GOOGLE_ISSUER'],
    [{ GOOGLE_CLIENT_ID: 'g' }, 'GOOGLE_CLIENT_SECRET'],
    [{ OAUTH_REDIRECT_URIS: 'https://app.example/cb#x' }, 'OAUTH_REDIRECT_URIS'],
    [{ OAUTH_REDIRECT_URIS: 'javascript:alert(1)' }, 'OAUTH_REDIRECT_URIS'],
    [{ OAUTH_REDIRECT_URIS: '/relative' }, 'OAUTH_REDIRECT_URIS'],
    [{ PUBLIC_URL: 'ftp://auth.example' }, 'PUBLIC_URL'],
    [{ PUBLIC_URL: 'https://auth.example/?x=1' }, 'PUBLIC_URL'],
  ])('refuses %j, naming %s', (env, variable) => {
    expect(refusal({ ...BASE, ...env }).variable).toBe(variable);
  });

  it('accepts an http issuer on localhost outside production only', () => {
    const local = { ...BASE, ...ACME, OIDC_ACME_ISSUER: 'http://127.0.0.1:9999' };
    expect(loadConfig(local).socialSignIn.providers[0]!.issuer).toBe('http://127.0.0.1:9999');
    expect(refusal({ ...PRODUCTION, ...local, PUBLIC_URL: 'https://auth.example' }).variable).toBe('OIDC_ACME_ISSUER');
  });

  it('needs PUBLIC_URL in production once a provider is configured', () => {
    expect(refusal({ ...PRODUCTION, ...ACME }).variable).toBe('PUBLIC_URL');
    const config = loadConfig({ ...PRODUCTION, ...ACME, PUBLIC_URL: 'https://auth.example/' });
    expect(config.socialSignIn.publicUrl).toBe('https://auth.example');
  });

  it('refuses a plain-http redirect URI in production, except to this machine', () => {
    const production = { ...PRODUCTION, PUBLIC_URL: 'https://auth.example' };
    expect(refusal({ ...production, OAUTH_REDIRECT_URIS: 'http://app.example.com/cb' }).variable).toBe(
      'OAUTH_REDIRECT_URIS',
    );
    const allowed = 'https://app.example.com/cb,http://127.0.0.1:8765/cb,com.example.app:/oauth';
    expect(loadConfig({ ...production, OAUTH_REDIRECT_URIS: allowed }).socialSignIn.redirectUris).toHaveLength(3);
    expect(loadConfig({ ...BASE, OAUTH_REDIRECT_URIS: 'http://app.example.com/cb' }).socialSignIn.redirectUris).toEqual(
      ['http://app.example.com/cb'],
    );
  });

  it('keeps redirect URIs exactly as written, custom schemes for native apps included', () => {
    const { redirectUris } = loadConfig({
      ...BASE,
      OAUTH_REDIRECT_URIS: 'https://app.example.com/auth/done, com.example.app:/oauth',
    }).socialSignIn;
    expect(redirectUris).toEqual(['https://app.example.com/auth/done', 'com.example.app:/oauth']);
  });
});
