// Passkeys and step-up configuration (docs/contract.md, "Second factors, assurance, step-up"): WEBAUTHN_RP_ID
// (default the host of PUBLIC_URL), WEBAUTHN_RP_NAME (default APP_NAME), WEBAUTHN_ORIGINS (default PUBLIC_URL and
// CORS_ORIGINS) and STEP_UP_MAX_AGE (default 300 s), each bad value refused at start-up with the variable's name.
import { loadConfig } from '../src/config/config';
import { ConfigError } from '../src/config/config-helpers';

const BASE = { JWT_SECRET: 'mfa-config-secret-that-is-long-enough-too', DATA_DIR: '/nonexistent' };

const mfaOf = (env: Record<string, string>) => loadConfig({ ...BASE, ...env }).mfa;

function refusal(env: Record<string, string>): { variable: string; message: string } {
  try {
    loadConfig({ ...BASE, ...env });
  } catch (err) {
    if (err instanceof ConfigError) return { variable: err.variable, message: err.message };
    throw err;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

describe('passkey relying party and step-up defaults', () => {
  it('with nothing set: RP ID localhost (PUBLIC_URL is http://localhost:PORT), RP name Portcullis, that origin, 300 s', () => {
    expect(mfaOf({ PORT: '4123' })).toEqual({
      rpId: 'localhost',
      rpName: 'Portcullis',
      origins: ['http://localhost:4123'],
      stepUpMaxAge: 300,
    });
  });

  it('takes the RP ID from the host of PUBLIC_URL (no port, no path) and the origin from PUBLIC_URL', () => {
    expect(mfaOf({ PUBLIC_URL: 'https://auth.example.com:8443/portcullis' })).toMatchObject({
      rpId: 'auth.example.com',
      origins: ['https://auth.example.com:8443'],
    });
  });

  it('names the relying party after APP_NAME', () => {
    expect(mfaOf({ APP_NAME: 'Acme Accounts' }).rpName).toBe('Acme Accounts');
  });

  it('adds the CORS_ORIGINS to the PUBLIC_URL origin, each once', () => {
    const { origins } = mfaOf({
      PUBLIC_URL: 'https://example.com',
      CORS_ORIGINS: 'https://app.example.com, https://example.com, https://admin.example.com',
    });
    expect(origins).toEqual(['https://example.com', 'https://app.example.com', 'https://admin.example.com']);
  });

  it('adds a development CORS origin on localhost', () => {
    expect(mfaOf({ CORS_ORIGINS: 'http://localhost:5173' }).origins).toEqual([
      'http://localhost:4000',
      'http://localhost:5173',
    ]);
  });

  it('still starts when a CORS origin is not on the default RP ID (no passkey could be used there): it is left out', () => {
    const mfa = mfaOf({ PUBLIC_URL: 'https://auth.example.com', CORS_ORIGINS: 'https://app.example.com' });
    expect(mfa).toMatchObject({ rpId: 'auth.example.com', origins: ['https://auth.example.com'] });
  });

  it('is frozen like the rest of the configuration', () => {
    const mfa = mfaOf({});
    expect(Object.isFrozen(mfa)).toBe(true);
    expect(Object.isFrozen(mfa.origins)).toBe(true);
  });
});

describe('passkey relying party and step-up settings', () => {
  it('WEBAUTHN_RP_ID and WEBAUTHN_ORIGINS replace the defaults (PUBLIC_URL is then not added)', () => {
    const mfa = mfaOf({
      PUBLIC_URL: 'https://auth.example.com',
      CORS_ORIGINS: 'https://www.example.com',
      WEBAUTHN_RP_ID: 'example.com',
      WEBAUTHN_ORIGINS: 'https://app.example.com, https://example.com:8443',
    });
    expect(mfa).toMatchObject({
      rpId: 'example.com',
      origins: ['https://app.example.com', 'https://example.com:8443'],
    });
  });

  it('WEBAUTHN_RP_ID alone: the default origins on it are kept', () => {
    const mfa = mfaOf({
      PUBLIC_URL: 'https://auth.example.com',
      CORS_ORIGINS: 'https://app.example.com',
      WEBAUTHN_RP_ID: 'example.com',
    });
    expect(mfa).toMatchObject({
      rpId: 'example.com',
      origins: ['https://auth.example.com', 'https://app.example.com'],
    });
  });

  it('WEBAUTHN_RP_ID is a host name, whatever its case: origins on it still count', () => {
    const mfa = mfaOf({ PUBLIC_URL: 'https://auth.example.com', WEBAUTHN_RP_ID: 'Example.COM' });
    expect({ rpId: mfa.rpId.toLowerCase(), origins: mfa.origins }).toEqual({
      rpId: 'example.com',
      origins: ['https://auth.example.com'],
    });
  });

  it('WEBAUTHN_ORIGINS are kept as browsers send an origin (lower-case host, no default port)', () => {
    const mfa = mfaOf({
      WEBAUTHN_RP_ID: 'example.com',
      WEBAUTHN_ORIGINS: 'https://App.Example.com, https://example.com:443',
    });
    expect(mfa.origins).toEqual(['https://app.example.com', 'https://example.com']);
  });

  it('WEBAUTHN_RP_NAME wins over APP_NAME', () => {
    expect(mfaOf({ APP_NAME: 'Acme', WEBAUTHN_RP_NAME: 'Acme Sign-in' }).rpName).toBe('Acme Sign-in');
  });

  it.each([
    ['10', 10],
    ['600', 600],
    ['86400', 86400],
  ])('STEP_UP_MAX_AGE=%s → %d s', (raw, seconds) => {
    expect(mfaOf({ STEP_UP_MAX_AGE: raw }).stepUpMaxAge).toBe(seconds);
  });
});

describe('refused settings name their variable', () => {
  it.each([
    ['a host that is not the RP ID nor under it', 'https://evil.example.org'],
    ['a host that only ends with the RP ID', 'https://notexample.com'],
    ['the RP ID under another name', 'https://example.com.evil.org'],
  ])('WEBAUTHN_ORIGINS with %s', (_why, origin) => {
    const err = refusal({ WEBAUTHN_RP_ID: 'example.com', WEBAUTHN_ORIGINS: `https://example.com, ${origin}` });
    expect(err.variable).toBe('WEBAUTHN_ORIGINS');
    expect(err.message).toContain(origin);
  });

  it.each([
    ['no scheme', 'app.example.com'],
    ['a path', 'https://app.example.com/login'],
    ['a trailing slash', 'https://app.example.com/'],
    ['another scheme', 'ftp://app.example.com'],
    ['a space inside', 'https://app example.com'],
  ])('WEBAUTHN_ORIGINS with %s', (_why, origin) => {
    const err = refusal({ WEBAUTHN_RP_ID: 'example.com', WEBAUTHN_ORIGINS: origin });
    expect(err.variable).toBe('WEBAUTHN_ORIGINS');
    expect(err.message).toContain(origin);
  });

  it.each([
    ['a URL', 'https://example.com'],
    ['a path', 'example.com/login'],
    ['a port', 'example.com:443'],
    ['a space', 'exa mple.com'],
    ['an empty label', 'example..com'],
    ['a leading dot', '.example.com'],
    ['a label starting with a hyphen', '-example.com'],
  ])('WEBAUTHN_RP_ID with %s', (_why, rpId) => {
    const err = refusal({ WEBAUTHN_RP_ID: rpId });
    expect(err.variable).toBe('WEBAUTHN_RP_ID');
    expect(err.message).toContain(rpId);
  });

  it.each(['9', '0', '86401', 'abc', '5m', '-300'])('STEP_UP_MAX_AGE=%s (10 to 86400 seconds)', (raw) => {
    expect(refusal({ STEP_UP_MAX_AGE: raw }).variable).toBe('STEP_UP_MAX_AGE');
  });
});
