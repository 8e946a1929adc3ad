import type { RequestHandler } from 'express';
import type { RateLimiter } from '../../domain/rate-limit.js';
import { AppError } from '../../errors.js';
import type { Metrics } from '../../observability/metrics.js';
import { contextOf } from '../request-context.js';

/**
 * Per-caller HTTP rate limit: by API key when one matched, else by client IP. Sets the
 * IETF draft `RateLimit-*` headers on every answer and `Retry-After` on 429.
 */
export function createHttpRateLimit(limiter: RateLimiter, metrics: Metrics): RequestHandler {
  return async (req, res, next) => {
    const ctx = contextOf(res);
    const key = ctx.apiKeyId !== undefined ? `key:${ctx.apiKeyId}` : `ip:${req.ip ?? 'unknown'}`;
    const result = await limiter.consume(key);
    const resetSeconds = Math.max(1, Math.ceil(result.resetMs / 1000));
    res.setHeader('RateLimit-Limit', String(limiter.points));
    res.setHeader('RateLimit-Remaining', String(result.remaining));
    res.setHeader('RateLimit-Reset', String(resetSeconds));
    if (!result.allowed) {
      metrics.markRateLimited('http');
      res.setHeader('Retry-After', String(resetSeconds));
      throw new AppError('RATE_LIMITED', 'Rate limit exceeded', { retryAfter: resetSeconds });
    }
    next();
  };
}
