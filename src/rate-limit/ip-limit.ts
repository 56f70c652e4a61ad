// The global per-IP request limit at the HTTP layer: RATE_LIMIT_PER_MINUTE requests per client IP per
// minute, a sliding window kept in the same store as the operation limits; HTTP 429 with Retry-After.
import type { RequestHandler } from 'express';
import type { Store } from 'graphql-rate-limit';
import { ErrorCode } from '../common/errors';

const WINDOW_MS = 60_000;

export function ipRequestLimit(store: Store, perMinute: number, onLimited: () => void = () => {}): RequestHandler {
  return async (req, res, next) => {
    try {
      const identity = { contextIdentity: `http:${req.ip ?? 'unknown'}`, fieldIdentity: 'requests' };
      const now = Date.now();
      const recent = (await store.getForIdentity(identity)).filter((t) => t + WINDOW_MS > now);
      if (recent.length >= perMinute) {
        onLimited();
        const retryAfter = Math.max(1, Math.ceil((Math.min(...recent) + WINDOW_MS - now) / 1000));
        res.setHeader('Retry-After', String(retryAfter));
        res.status(429).json({
          errors: [{ message: `Too many requests; retry in ${retryAfter} s`, extensions: { code: ErrorCode.RATE_LIMITED, retryAfter } }],
        });
        return;
      }
      await store.setForIdentity(identity, [...recent, now], WINDOW_MS);
      next();
    } catch (err) {
      next(err);
    }
  };
}
