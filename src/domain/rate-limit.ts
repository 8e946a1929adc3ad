/**
 * A fixed-window rate limiter keyed by caller. rate-limiter-flexible's limiters
 * (memory now, Redis when clustered) satisfy it through `createFlexibleRateLimiter`.
 */
export interface RateLimiter {
  readonly points: number;
  /** Spends `points` (default one) for `key`. */
  consume(key: string, points?: number): Promise<RateLimitResult>;
}

export interface RateLimitResult {
  allowed: boolean;
  remaining: number;
  /** Milliseconds until the window resets. */
  resetMs: number;
  /** Points spent in this window, including this one. */
  consumed: number;
}

/**
 * A fixed window owned by one caller, such as one connection: synchronous and without a
 * store, for a limit nothing else needs to see (a socket lives on one node). Limits
 * shared between callers or nodes go through a RateLimiter.
 */
export class LocalFixedWindow {
  private windowStart = Number.NEGATIVE_INFINITY;
  private spent = 0;

  constructor(
    readonly points: number,
    private readonly windowMs: number,
  ) {}

  /** Spends one point. */
  consume(now: number = Date.now()): RateLimitResult {
    if (now - this.windowStart >= this.windowMs) {
      this.windowStart = now;
      this.spent = 0;
    }
    this.spent += 1;
    return {
      allowed: this.spent <= this.points,
      remaining: Math.max(0, this.points - this.spent),
      resetMs: this.windowStart + this.windowMs - now,
      consumed: this.spent,
    };
  }
}
