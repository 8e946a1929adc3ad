import type { NonceStore } from '../../domain/nonce-store.js';
import { AppError } from '../../errors.js';
import { REDIS_CALL_TIMEOUT_MS, withTimeout, type SharedRedis } from './redis-call.js';

/**
 * Nonces in Redis, so that a signed request accepted by one node of a cluster is a replay
 * on every other: one `SET <prefix>:nonce:<key> 1 NX PX <ttl>` per signed request, 'OK' the
 * first time and nil while the key lives. Redis expires the keys, and its memory (maxmemory)
 * is the bound, so this store never answers 'full'.
 *
 * When Redis cannot say whether a nonce was used (the connection is down, or no answer
 * within `timeoutMs`), the request is refused with SERVICE_UNAVAILABLE rather than let
 * through unchecked: accepting it would let a replay through for as long as Redis is away.
 * A SET that timed out may still land, so a client retries with a new nonce, as it signs
 * every request anew anyway.
 */
export function createRedisNonceStore(options: { redis: SharedRedis; keyPrefix: string; timeoutMs?: number }): NonceStore {
  const { redis, keyPrefix } = options;
  const timeoutMs = options.timeoutMs ?? REDIS_CALL_TIMEOUT_MS;
  const unavailable = (cause?: unknown) =>
    new AppError('SERVICE_UNAVAILABLE', 'Signed requests cannot be checked for replays right now (Redis is unavailable); retry shortly', { cause });

  return {
    async remember(nonce, ttlMs) {
      // Not queued while the connection is down: the answer would come too late to matter.
      if (!redis.available()) throw unavailable();
      let reply: string | null;
      try {
        reply = await withTimeout(redis.client.set(`${keyPrefix}:nonce:${nonce}`, '1', { condition: 'NX', expiration: { type: 'PX', value: ttlMs } }), timeoutMs);
      } catch (err) {
        throw unavailable(err);
      }
      return reply === 'OK' ? 'fresh' : 'seen';
    },
  };
}
