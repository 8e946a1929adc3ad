/**
 * A fixed-window rate limiter keyed by caller. rate-limiter-flexible's limiters
 * (memory now, Redis when clustered) satisfy it through `createFlexibleRateLimiter`.
 */
export interface RateLimiter {
  readonly points: number;
  /** Spends one point for `key`. */
  consume(key: string): Promise<RateLimitResult>;
}

export interface RateLimitResult {
  allowed: boolean;
  remaining: number;
  /** Milliseconds until the window resets. */
  resetMs: number;
  /** Points spent in this window, including this one. */
  consumed: number;
}
