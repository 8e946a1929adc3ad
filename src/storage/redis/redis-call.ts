import type { ClusterRedis } from '../../cluster/redis-connection.js';

/** What the Redis-backed limiters and nonce store use of a node's Redis connection. */
export type SharedRedis = Pick<ClusterRedis, 'client' | 'available'>;

/**
 * How long a request waits for one Redis command of a limit or a nonce. A healthy Redis
 * answers in well under a millisecond; this bound only matters when Redis stops answering
 * without closing the connection (a frozen server, a network cut), which the connection's
 * probe notices within about two seconds: until then, each call waits at most this long.
 */
export const REDIS_CALL_TIMEOUT_MS = 1_000;

/** Thrown by `withTimeout` when `ms` passed first. */
export class RedisCallTimeout extends Error {
  constructor(ms: number) {
    super(`Redis did not answer within ${ms} ms`);
    this.name = 'RedisCallTimeout';
  }
}

/**
 * `call`, or a RedisCallTimeout after `ms`. The command itself is not cancelled (Redis may
 * still run it); its late outcome is ignored rather than left as an unhandled rejection.
 */
export function withTimeout<T>(call: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new RedisCallTimeout(ms)), ms);
  });
  call.catch(() => undefined);
  return Promise.race([call, timeout]).finally(() => clearTimeout(timer));
}
