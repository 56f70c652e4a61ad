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

export function ipRequestLimit(store: IpCounterStore, perMinute: number, onLimited: () => void = () => {}): RequestHandler {
  return rateLimit({
    windowMs: WINDOW_MS,
    limit: perMinute,
    store,
    standardHeaders: false,
    legacyHeaders: false,
    // ipKeyGenerator groups an IPv6 address by its /56; it parses every address, so IPv4 skips it.
    keyGenerator: (req) => {
      const ip = req.ip ?? 'unknown';
      return isIPv6(ip) ? ipKeyGenerator(ip) : ip;
    },
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
