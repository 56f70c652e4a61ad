// Second factors and step-up (docs/contract.md, "Second factors, assurance, step-up"): the WebAuthn relying
// party and how recent an authentication must be for the operations marked @requiresAssurance.
import { isIP } from 'node:net';
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
const HOST_NAME = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

export function loadMfa(
  env: Env,
  publicUrl: string,
  corsOrigins: readonly string[] | 'localhost',
  appName: string,
  stepUpMaxAge: number,
): MfaConfig {
  const publicOrigin = new URL(publicUrl).origin;
  const explicitRp = env.WEBAUTHN_RP_ID?.trim().toLowerCase();
  if (explicitRp !== undefined && explicitRp !== '' && (!HOST_NAME.test(explicitRp) || isIP(explicitRp) !== 0)) {
    throw new ConfigError('WEBAUTHN_RP_ID', `must be a domain name such as example.com, got "${explicitRp}"`);
  }
  const rpId = explicitRp || new URL(publicUrl).hostname.toLowerCase();
  const onRp = (origin: string): boolean => {
    const host = new URL(origin).hostname;
    return host === rpId || host.endsWith(`.${rpId}`);
  };
  const listed = env.WEBAUTHN_ORIGINS?.trim();
  let origins: string[];
  if (listed) {
    const raw = listed
      .split(',')
      .map((o) => o.trim())
      .filter((o) => o !== '');
    for (const o of raw) {
      if (!ORIGIN.test(o) || !URL.canParse(o)) {
        throw new ConfigError('WEBAUTHN_ORIGINS', `"${o}" is not an origin like https://app.example.com`);
      }
    }
    // As browsers send an origin: lower-case host, no default port.
    origins = raw.map((o) => new URL(o).origin);
    for (const o of origins) {
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
