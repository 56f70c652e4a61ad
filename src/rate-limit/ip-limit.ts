// The global per-IP request limit at the HTTP layer, with express-rate-limit: RATE_LIMIT_PER_MINUTE requests
// per client network (common/ip.ts: an IPv4 address, an IPv6 /64 — the same key as the per-operation limits)
// per one-minute window, counted in the limit store (store.ts: one atomic Redis counter per network and window,
// or memory). Over it: HTTP 429 with Retry-After and the contract's RATE_LIMITED body.
import type { RequestHandler } from 'express';
import { rateLimit } from 'express-rate-limit';
import { ErrorCode } from '../common/errors';
import { networkKey } from '../common/ip';
import type { IpCounterStore } from './store';

const WINDOW_MS = 60_000;

/** The client's counter key (common/ip.ts's networkKey, under the name the per-IP limit has always used). */
export const clientKey = (ip: string): string => networkKey(ip);

export function ipRequestLimit(
  store: IpCounterStore,
  perMinute: number,
  onLimited: () => void = () => {},
): RequestHandler {
  return rateLimit({
    windowMs: WINDOW_MS,
    limit: perMinute,
    store,
    standardHeaders: false,
    legacyHeaders: false,
    keyGenerator: (req) => networkKey(req.ip),
    validate: { keyGeneratorIpFallback: false }, // its source check cannot see that networkKey uses ipKeyGenerator
    handler: (req, res) => {
      onLimited();
      const limited = ipLimitedAnswer((req as { rateLimit?: { resetTime?: Date } }).rateLimit?.resetTime);
      res.setHeader('Retry-After', String(limited.retryAfter));
      res.status(429).json(limited.body);
    },
  });
}

/** The answer over the per-IP limit (HTTP 429): its Retry-After seconds and the contract's RATE_LIMITED body. */
export function ipLimitedAnswer(resetTime: Date | undefined): { retryAfter: number; body: unknown } {
  const retryAfter = Math.max(1, Math.ceil(((resetTime?.getTime() ?? Date.now() + WINDOW_MS) - Date.now()) / 1000));
  return {
    retryAfter,
    body: {
      errors: [
        {
          message: `Too many requests; retry in ${retryAfter} s`,
          extensions: { code: ErrorCode.RATE_LIMITED, retryAfter },
        },
      ],
    },
  };
}
