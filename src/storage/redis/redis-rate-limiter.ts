import { RateLimiterMemory, RateLimiterRedis } from 'rate-limiter-flexible';
import type { RateLimiter } from '../../domain/rate-limit.js';
import { createFlexibleRateLimiter } from '../rate-limiter.js';
import { REDIS_CALL_TIMEOUT_MS, RedisCallTimeout, withTimeout, type SharedRedis } from './redis-call.js';

export interface RedisRateLimiterOptions {
  redis: SharedRedis;
  /** Redis keys are `${keyPrefix}:${caller}`, e.g. `rns:rl:http:key:1a2b…`. */
  keyPrefix: string;
  points: number;
  durationSeconds: number;
  timeoutMs?: number;
}

/**
 * A fixed window counted in Redis, so that every node of a cluster spends from the same
 * count (rate-limiter-flexible's RateLimiterRedis: one EVAL of SET NX EX + INCRBY + PTTL
 * per call, with the node-redis 5 client).
 *
 * When Redis is away the limit is neither lifted nor turned into errors (never a 500, never
 * a wait without end): each node counts on its own in memory, with the same points, until
 * Redis answers again. That memory limiter is rate-limiter-flexible's insurance limiter for
 * commands that fail, and is used directly while the connection is known to be down (so no
 * command waits in node-redis's offline queue) and when Redis takes longer than
 * `timeoutMs` (a frozen server: that command may still be counted in Redis when it wakes).
 * So during an outage N nodes allow up to N times the limit, and the memory counts are not
 * carried into Redis afterwards: a window kept in Redis goes on where it was.
 */
export function createRedisRateLimiter(options: RedisRateLimiterOptions): RateLimiter {
  const { redis, keyPrefix, points, durationSeconds } = options;
  const timeoutMs = options.timeoutMs ?? REDIS_CALL_TIMEOUT_MS;
  const memory = new RateLimiterMemory({ keyPrefix, points, duration: durationSeconds });
  const local = createFlexibleRateLimiter(memory);
  const shared = createFlexibleRateLimiter(
    new RateLimiterRedis({
      storeClient: redis.client,
      // node-redis v4+ call shapes (client.eval(script, { keys, arguments })), checked in
      // rate-limiter-flexible 11.4's lib/RateLimiterRedis.js against @redis/client 5.
      useRedisPackage: true,
      // Fail over to the insurance limiter at once rather than queue while disconnected.
      rejectIfRedisNotReady: true,
      keyPrefix,
      points,
      duration: durationSeconds,
      insuranceLimiter: memory,
    }),
  );

  return {
    points,
    async consume(key, spend = 1) {
      if (!redis.available()) return local.consume(key, spend);
      try {
        return await withTimeout(shared.consume(key, spend), timeoutMs);
      } catch (err) {
        if (err instanceof RedisCallTimeout) return local.consume(key, spend);
        throw err;
      }
    },
  };
}
