import type { Request, RequestHandler, Response } from 'express';
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
    await chargeHttpRateLimit(limiter, metrics, req, res, 1);
    next();
  };
}

/**
 * Spends `points` of the caller's HTTP rate limit (the middleware spends one per request;
 * POST /api/batch spends one more per item beyond the first), sets the headers, and throws
 * RATE_LIMITED when the window is spent.
 */
export async function chargeHttpRateLimit(limiter: RateLimiter, metrics: Metrics, req: Request, res: Response, points: number): Promise<void> {
  const ctx = contextOf(res);
  const key = ctx.apiKeyId !== undefined ? `key:${ctx.apiKeyId}` : `ip:${req.ip ?? 'unknown'}`;
  const result = await limiter.consume(key, points);
  const resetSeconds = Math.max(1, Math.ceil(result.resetMs / 1000));
  res.setHeader('RateLimit-Limit', String(limiter.points));
  res.setHeader('RateLimit-Remaining', String(result.remaining));
  res.setHeader('RateLimit-Reset', String(resetSeconds));
  if (!result.allowed) {
    metrics.markRateLimited('http');
    res.setHeader('Retry-After', String(resetSeconds));
    throw new AppError('RATE_LIMITED', points > 1 ? `Rate limit exceeded: this request needs ${points} more units` : 'Rate limit exceeded', {
      retryAfter: resetSeconds,
    });
  }
}
