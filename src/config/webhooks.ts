// Webhooks (docs/webhooks.md): where events are POSTed, the Standard Webhooks signing secret, and how hard delivery
// tries. No WEBHOOK_URLS: webhooks are off and nothing is queued.
import { ConfigError } from './config-helpers';

export interface WebhooksConfig {
  /** WEBHOOK_URLS: absolute http(s) URLs, each sent every event; empty means webhooks are off. */
  readonly urls: readonly string[];
  /** WEBHOOK_SECRET: `whsec_` + base64 of 24 to 64 random bytes (Standard Webhooks); undefined when off. */
  readonly secret: string | undefined;
  /** WEBHOOK_MAX_ATTEMPTS: tries of one delivery before it is dead (the dead letter). */
  readonly maxAttempts: number;
  /** WEBHOOK_TIMEOUT_MS: how long one POST may take, in milliseconds. */
  readonly timeoutMs: number;
}

type Env = Record<string, string | undefined>;

const LOOPBACK = ['localhost', '127.0.0.1', '[::1]'];

function whole(name: string, raw: string | undefined, def: number, min: number, max: number): number {
  const value = raw?.trim();
  if (value === undefined || value === '') return def;
  if (!/^\d+$/.test(value)) throw new ConfigError(name, `must be a whole number, got "${value}"`);
  const n = Number(value);
  if (n < min || n > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${n}`);
  return n;
}

function endpoint(raw: string, isProduction: boolean): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError('WEBHOOK_URLS', `"${raw}" is not an absolute URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new ConfigError('WEBHOOK_URLS', `"${raw}" must start with https:// or http://`);
  }
  // The URL is shown to admins (webhookDeliveries) and logged: credentials do not belong in it; the signature
  // is how a receiver knows the request is ours.
  if (url.username !== '' || url.password !== '') {
    throw new ConfigError('WEBHOOK_URLS', `"${url.host}" must not carry a user name or password`);
  }
  if (url.hash !== '') throw new ConfigError('WEBHOOK_URLS', `"${raw}" must not have a #fragment`);
  // Payloads hold email addresses: in production only over TLS, or to this machine (a local relay).
  if (isProduction && url.protocol === 'http:' && !LOOPBACK.includes(url.hostname)) {
    throw new ConfigError('WEBHOOK_URLS', `"${raw}" must be https:// when NODE_ENV=production`);
  }
  return url.toString();
}

function secret(raw: string | undefined, on: boolean): string | undefined {
  const value = raw?.trim() || undefined;
  if (!on) {
    if (value !== undefined) {
      throw new ConfigError('WEBHOOK_SECRET', 'is set but WEBHOOK_URLS is not: set both, or neither');
    }
    return undefined;
  }
  if (value === undefined) throw new ConfigError('WEBHOOK_SECRET', 'is required when WEBHOOK_URLS is set');
  const body = value.startsWith('whsec_') ? value.slice('whsec_'.length) : null;
  const bytes = body !== null && /^[A-Za-z0-9+/]+={0,2}$/.test(body) ? Buffer.from(body, 'base64').length : 0;
  if (bytes < 24 || bytes > 64) {
    throw new ConfigError(
      'WEBHOOK_SECRET',
      'must be whsec_ followed by the base64 of 24 to 64 random bytes (echo "whsec_$(openssl rand -base64 32)")',
    );
  }
  return value;
}

export function loadWebhooks(env: Env, isProduction: boolean): WebhooksConfig {
  const urls = (env.WEBHOOK_URLS ?? '')
    .split(',')
    .map((u) => u.trim())
    .filter((u) => u !== '')
    .map((u) => endpoint(u, isProduction));
  return Object.freeze({
    urls: Object.freeze([...new Set(urls)]),
    secret: secret(env.WEBHOOK_SECRET, urls.length > 0),
    maxAttempts: whole('WEBHOOK_MAX_ATTEMPTS', env.WEBHOOK_MAX_ATTEMPTS, 8, 1, 50),
    timeoutMs: whole('WEBHOOK_TIMEOUT_MS', env.WEBHOOK_TIMEOUT_MS, 10_000, 100, 120_000),
  });
}
