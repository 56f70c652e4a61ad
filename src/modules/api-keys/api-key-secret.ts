// The secret format: `pcl_` + 40 base62 characters (238 random bits). The prefix lets secret scanners find a leaked
// key: the regular expression is API_KEY_PATTERN (docs/api-keys.md).
import { randomInt } from 'node:crypto';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

export const API_KEY_PREFIX = 'pcl_';
export const API_KEY_PATTERN = /^pcl_[0-9A-Za-z]{40}$/;

export function newApiKeySecret(): string {
  return API_KEY_PREFIX + Array.from({ length: 40 }, () => BASE62[randomInt(62)]).join('');
}

/** What `ApiKey.prefix` shows: `pcl_` and the first 8 characters after it. */
export function visiblePrefix(secret: string): string {
  return secret.slice(0, API_KEY_PREFIX.length + 8);
}
