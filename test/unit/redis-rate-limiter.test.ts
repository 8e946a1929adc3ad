import { afterEach, describe, expect, it } from 'vitest';
import { createRedisRateLimiter } from '../../src/storage/redis/redis-rate-limiter.js';
import { eventually } from '../support/eventually.js';
import { clusterRedisNodes, inspectedPrefix } from '../support/cluster-redis-nodes.js';
import { redisUnavailable, requireRedis } from '../support/redis.js';
import { redisServerMissing, startOwnRedis, type OwnRedis } from '../support/redis-server-process.js';

/**
 * The cluster's rate limiter (rate-limiter-flexible's RateLimiterRedis on the node-redis 5
 * client) on real Redis: two connections stand for two nodes spending from one count.
 */

const unavailable = await redisUnavailable();
const connectNode = clusterRedisNodes();

describe('Redis rate limiter', () => {
  const inspected = inspectedPrefix('rate-limiter', unavailable);
  const { prefix } = inspected;

  it('spends one count from every node: 4 points allow 4 calls in all, then refuse with the time left', async (ctx) => {
    requireRedis(unavailable, ctx);
    const options = { keyPrefix: `${prefix}:rl:http`, points: 4, durationSeconds: 60 };
    const nodes = [createRedisRateLimiter({ redis: await connectNode(), ...options }), createRedisRateLimiter({ redis: await connectNode(), ...options })];

    const results = [];
    for (let i = 0; i < 6; i++) results.push(await nodes[i % 2]!.consume('key:abc'));
    expect(results.map((r) => r.allowed)).toEqual([true, true, true, true, false, false]);
    expect(results.map((r) => r.remaining)).toEqual([3, 2, 1, 0, 0, 0]);
    expect(results.map((r) => r.consumed)).toEqual([1, 2, 3, 4, 5, 6]);
    for (const result of results) {
      expect(result.resetMs).toBeGreaterThan(0);
      expect(result.resetMs).toBeLessThanOrEqual(60_000);
    }
    expect(nodes[0]!.points).toBe(4);

    // Another caller has a count of its own; the counts live under <prefix>:rl:<name>:.
    expect((await nodes[1]!.consume('key:other')).allowed).toBe(true);
    expect(await inspected.client.get(`${prefix}:rl:http:key:abc`)).toBe('6');
    const ttl = await inspected.client.pTTL(`${prefix}:rl:http:key:abc`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60_000);
  });

  it('spends several points at once', async (ctx) => {
    requireRedis(unavailable, ctx);
    const limiter = createRedisRateLimiter({ redis: await connectNode(), keyPrefix: `${prefix}:rl:batch`, points: 10, durationSeconds: 60 });
    expect(await limiter.consume('key:abc', 7)).toMatchObject({ allowed: true, remaining: 3, consumed: 7 });
    expect(await limiter.consume('key:abc', 4)).toMatchObject({ allowed: false, remaining: 0, consumed: 11 });
  });
});

describe('Redis rate limiter while Redis is away', () => {
  let own: OwnRedis | undefined;
  afterEach(async () => {
    own?.thaw();
    await own?.kill();
    own = undefined;
  });

  it('counts on this node alone while Redis is down (never throws), and in Redis again once it is back', async (ctx) => {
    const missing = redisServerMissing();
    if (missing !== undefined) ctx.skip(missing);
    own = await startOwnRedis();
    const redis = await connectNode(own.url);
    const limiter = createRedisRateLimiter({ redis, keyPrefix: 'outage:rl:http', points: 3, durationSeconds: 60 });
    expect(await limiter.consume('key:abc')).toMatchObject({ allowed: true, consumed: 1 });

    await own.kill();
    // Right away (the command fails, or the insurance limiter answers) and once the connection knows.
    const during = [await limiter.consume('key:abc')];
    await eventually(async () => !redis.available(), 'the connection saw Redis go');
    for (let i = 0; i < 3; i++) during.push(await limiter.consume('key:abc'));
    // The memory count starts when Redis went: 3 allowed on this node, then refused.
    expect(during.map((r) => r.allowed)).toEqual([true, true, true, false]);

    await own.restart();
    await eventually(async () => redis.available(), 'the connection is back');
    // Redis came back empty: a fresh shared window, kept in Redis again.
    expect(await limiter.consume('key:abc')).toMatchObject({ allowed: true, consumed: 1 });
    const probe = await connectNode(own.url);
    expect(await probe.client.get('outage:rl:http:key:abc')).toBe('1');
  });

  it('answers from this node within the timeout when a frozen Redis keeps the connection open but does not answer', async (ctx) => {
    const missing = redisServerMissing();
    if (missing !== undefined) ctx.skip(missing);
    own = await startOwnRedis();
    const redis = await connectNode(own.url);
    const limiter = createRedisRateLimiter({ redis, keyPrefix: 'frozen:rl:http', points: 2, durationSeconds: 60, timeoutMs: 200 });
    expect(await limiter.consume('key:abc')).toMatchObject({ allowed: true, consumed: 1 });

    own.freeze();
    expect(await limiter.consume('key:abc')).toMatchObject({ allowed: true, consumed: 1 });
    expect(await limiter.consume('key:abc')).toMatchObject({ allowed: true, consumed: 2 });
    expect(await limiter.consume('key:abc')).toMatchObject({ allowed: false });
    own.thaw();
  });
});
