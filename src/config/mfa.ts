// Second factors and step-up (docs/contract.md, "Second factors, assurance, step-up"): the WebAuthn relying
// party and how recent an authentication must be for the operations marked @requiresAssurance.
import { ConfigError } from './config-helpers';

export interface MfaConfig {
  /** WEBAUTHN_RP_ID: the passkeys' relying party id; default the host of PUBLIC_URL. */
  readonly rpId: string;
  /** WEBAUTHN_RP_NAME: shown by the browser when a passkey is made; default APP_NAME. */
  readonly rpName: string;
  /** WEBAUTHN_ORIGINS: the origins a ceremony may come from; default PUBLIC_URL and CORS_ORIGINS on the RP ID. */
  readonly origins: readonly string[];
  /** STEP_UP_MAX_AGE: seconds an authentication counts as recent (default 300). */
  readonly stepUpMaxAge: number;
}

type Env = Record<string, string | undefined>;

const ORIGIN = /^https?:\/\/[^/\s]+$/;

export function loadMfa(
  env: Env,
  publicUrl: string,
  corsOrigins: readonly string[] | 'localhost',
  appName: string,
  stepUpMaxAge: number,
): MfaConfig {
  const publicOrigin = new URL(publicUrl).origin;
  const rpId = env.WEBAUTHN_RP_ID?.trim() || new URL(publicUrl).hostname;
  if (!/^[a-z0-9.-]+$/i.test(rpId)) throw new ConfigError('WEBAUTHN_RP_ID', `must be a host name, got "${rpId}"`);
  const onRp = (origin: string): boolean => {
    const host = new URL(origin).hostname;
    return host === rpId || host.endsWith(`.${rpId}`);
  };
  const listed = env.WEBAUTHN_ORIGINS?.trim();
  let origins: string[];
  if (listed) {
    origins = listed
      .split(',')
      .map((o) => o.trim())
      .filter((o) => o !== '');
    for (const o of origins) {
      if (!ORIGIN.test(o)) {
        throw new ConfigError('WEBAUTHN_ORIGINS', `"${o}" is not an origin like https://app.example.com`);
      }
      if (!onRp(o))
        throw new ConfigError('WEBAUTHN_ORIGINS', `"${o}" is not on the relying party "${rpId}" (WEBAUTHN_RP_ID)`);
    }
  } else {
    // By default PUBLIC_URL and the CORS origins, those of them on the relying party (no others could use a passkey).
    origins = [publicOrigin, ...(corsOrigins === 'localhost' ? [] : corsOrigins)].filter(onRp);
  }
  return Object.freeze({
    rpId,
    rpName: env.WEBAUTHN_RP_NAME?.trim() || appName,
    origins: Object.freeze([...new Set(origins)]),
    stepUpMaxAge,
  });
}
