import { RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { RateLimiter, RateLimitResult } from '../domain/rate-limit.js';

/** Adapts any rate-limiter-flexible limiter (memory or Redis) to the RateLimiter port. */
export function createFlexibleRateLimiter(limiter: RateLimiterAbstract): RateLimiter {
  const toResult = (res: RateLimiterRes, allowed: boolean): RateLimitResult => ({
    allowed,
    remaining: Math.max(0, res.remainingPoints),
    resetMs: res.msBeforeNext,
    consumed: res.consumedPoints,
  });
  return {
    points: limiter.points,
    async consume(key, points = 1) {
      try {
        return toResult(await limiter.consume(key, points), true);
      } catch (rejection) {
        // rate-limiter-flexible rejects with a RateLimiterRes when over the limit, and
        // with an Error when its store fails; only the former is a refusal.
        if (rejection instanceof RateLimiterRes) return toResult(rejection, false);
        throw rejection;
      }
    },
  };
}
