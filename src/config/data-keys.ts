// DATA_ENCRYPTION_KEYS: the keys that seal reversible secrets at rest (common/sealing.ts). `id:base64key,…`, each
// key 32 bytes; the first seals, every one opens. Development derives one from JWT_SECRET; production needs its own.
import { ConfigError } from './config-helpers';

export interface DataKeyConfig {
  /** Written beside each sealed value, so a value always finds the key that sealed it. */
  readonly id: string;
  readonly key: Buffer;
}

const ID = /^[A-Za-z0-9_-]{1,32}$/;
const VARIABLE = 'DATA_ENCRYPTION_KEYS';

/** undefined: not set (the caller decides the default). */
export function parseDataKeys(raw: string | undefined): DataKeyConfig[] | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  const keys = raw.split(',').map((entry) => {
    const [id, encoded, ...rest] = entry.trim().split(':');
    if (id === undefined || encoded === undefined || rest.length > 0 || !ID.test(id)) {
      throw new ConfigError(VARIABLE, 'must look like id:base64key,id2:base64key (ids: letters, digits, _ and -)');
    }
    const key = Buffer.from(encoded, encoded.includes('-') || encoded.includes('_') ? 'base64url' : 'base64');
    if (key.length !== 32) {
      throw new ConfigError(
        VARIABLE,
        `key "${id}" must be 32 bytes (base64 of 32 random bytes: openssl rand -base64 32)`,
      );
    }
    return { id, key };
  });
  const ids = keys.map((k) => k.id);
  const repeated = ids.find((id, i) => ids.indexOf(id) !== i);
  if (repeated !== undefined) throw new ConfigError(VARIABLE, `key id "${repeated}" appears twice`);
  return keys;
}
