// The global per-IP request limit at the HTTP layer, with express-rate-limit: RATE_LIMIT_PER_MINUTE requests
// per client IP (IPv6 by /56, as express-rate-limit does) per one-minute window, counted in the limit store
// (store.ts: one atomic Redis counter per IP and window, or memory). Over it: HTTP 429 with Retry-After and
// the contract's RATE_LIMITED body.
import type { RequestHandler } from 'express';
import { isIPv6 } from 'node:net';
import { ipKeyGenerator, rateLimit } from 'express-rate-limit';
import { ErrorCode } from '../common/errors';
import type { IpCounterStore } from './store';

const WINDOW_MS = 60_000;

const IPV4_MAPPED = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i;

/**
 * The client's counter key: an IPv4 address as it is (also when a dual-stack socket reports it IPv4-mapped,
 * ::ffff:a.b.c.d), an IPv6 address by its /56 (ipKeyGenerator, which parses the address: only for IPv6).
 */
export function clientKey(ip: string): string {
  const v4 = IPV4_MAPPED.exec(ip)?.[1];
  if (v4 !== undefined) return v4;
  return isIPv6(ip) ? ipKeyGenerator(ip) : ip;
}

export function ipRequestLimit(store: IpCounterStore, perMinute: number, onLimited: () => void = () => {}): RequestHandler {
  return rateLimit({
    windowMs: WINDOW_MS,
    limit: perMinute,
    store,
    standardHeaders: false,
    legacyHeaders: false,
    keyGenerator: (req) => clientKey(req.ip ?? 'unknown'),
    validate: { keyGeneratorIpFallback: false }, // its source check cannot see that clientKey uses ipKeyGenerator
    handler: (req, res) => {
      onLimited();
      const resetTime = (req as { rateLimit?: { resetTime?: Date } }).rateLimit?.resetTime;
      const retryAfter = Math.max(1, Math.ceil(((resetTime?.getTime() ?? Date.now() + WINDOW_MS) - Date.now()) / 1000));
      res.setHeader('Retry-After', String(retryAfter));
      res.status(429).json({
        errors: [{ message: `Too many requests; retry in ${retryAfter} s`, extensions: { code: ErrorCode.RATE_LIMITED, retryAfter } }],
      });
    },
  });
}
