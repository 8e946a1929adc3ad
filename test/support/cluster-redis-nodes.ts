import { afterAll, afterEach, beforeAll } from 'vitest';
import { createClusterRedis, type ClusterRedis } from '../../src/cluster/redis-connection.js';
import { createLogger } from '../../src/observability/logger.js';
import { RedisCallTimeout, withTimeout } from '../../src/storage/redis/redis-call.js';
import { REDIS_URL, connectRedis, deleteKeys, uniquePrefix, type TestRedis } from './redis.js';

/**
 * For tests of what a node keeps in Redis: returns `connectNode(url?)`, which opens a
 * node's own connection (createClusterRedis; two stand for two nodes), and registers, where
 * it is called, the hook that closes every connection a test opened once that test ends.
 */
export function clusterRedisNodes(): (url?: string) => Promise<ClusterRedis> {
  const logger = createLogger({ level: 'silent', pretty: false });
  const connections: ClusterRedis[] = [];
  afterEach(async () => {
    // A connection to a Redis that was frozen may wait long for its queued replies: give
    // close a bound, then drop the socket (cleanup only; the tests' checks are done).
    await Promise.all(
      connections.splice(0).map(async (redis) => {
        try {
          await withTimeout(redis.close(), 3_000);
        } catch (err) {
          if (!(err instanceof RedisCallTimeout)) throw err;
          if (redis.client.isOpen) redis.client.destroy();
        }
      }),
    );
  });
  return async (url = REDIS_URL) => {
    const redis = createClusterRedis({ url, logger });
    connections.push(redis);
    await redis.connect();
    return redis;
  };
}

/**
 * A key prefix of the calling describe's own in the machine's Redis, and a plain client to
 * look at what is stored there (none when Redis is unavailable); the prefix's keys are
 * deleted after the describe's tests.
 */
export function inspectedPrefix(label: string, unavailable: string | undefined): { prefix: string; readonly client: TestRedis } {
  const prefix = uniquePrefix(label).replace(/:$/, '');
  let client: TestRedis | undefined;
  beforeAll(async () => {
    if (unavailable === undefined) client = await connectRedis();
  });
  afterAll(async () => {
    if (client === undefined) return;
    await deleteKeys(client, `${prefix}:`);
    client.destroy();
  });
  return {
    prefix,
    get client() {
      return client!;
    },
  };
}
