import { afterEach, describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { createRedisNonceStore } from '../../src/storage/redis/redis-nonce-store.js';
import { eventually } from '../support/eventually.js';
import { clusterRedisNodes, inspectedPrefix } from '../support/cluster-redis-nodes.js';
import { redisUnavailable, requireRedis } from '../support/redis.js';
import { redisServerMissing, startOwnRedis, type OwnRedis } from '../support/redis-server-process.js';

/**
 * The cluster's nonce store on real Redis, through the node's own connection
 * (createClusterRedis): two connections stand for two nodes.
 */

const unavailable = await redisUnavailable();
const connectNode = clusterRedisNodes();

describe('Redis nonce store', () => {
  const inspected = inspectedPrefix('nonce-store', unavailable);
  const { prefix } = inspected;

  it('says fresh the first time and seen after, on any node, under <prefix>:nonce: with the TTL given', async (ctx) => {
    requireRedis(unavailable, ctx);
    const nodeA = createRedisNonceStore({ redis: await connectNode(), keyPrefix: prefix });
    const nodeB = createRedisNonceStore({ redis: await connectNode(), keyPrefix: prefix });

    expect(await nodeA.remember('key1:nonce-aaaa', 600_000)).toBe('fresh');
    expect(await nodeB.remember('key1:nonce-aaaa', 600_000)).toBe('seen');
    expect(await nodeA.remember('key1:nonce-aaaa', 600_000)).toBe('seen');
    expect(await nodeB.remember('key1:nonce-bbbb', 600_000)).toBe('fresh');

    expect(await inspected.client.get(`${prefix}:nonce:key1:nonce-aaaa`)).toBe('1');
    const ttl = await inspected.client.pTTL(`${prefix}:nonce:key1:nonce-aaaa`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(600_000);
  });

  it('forgets a nonce once its TTL has passed', async (ctx) => {
    requireRedis(unavailable, ctx);
    const store = createRedisNonceStore({ redis: await connectNode(), keyPrefix: prefix });
    expect(await store.remember('key1:short-lived', 50)).toBe('fresh');
    await eventually(async () => (await inspected.client.exists(`${prefix}:nonce:key1:short-lived`)) === 0, 'Redis expired the nonce');
    expect(await store.remember('key1:short-lived', 50)).toBe('fresh');
  });
});

describe('Redis nonce store while Redis is away', () => {
  let own: OwnRedis | undefined;
  afterEach(async () => {
    own?.thaw();
    await own?.kill();
    own = undefined;
  });

  const expectUnavailable = async (call: Promise<unknown>) => {
    const err = await call.then(
      () => undefined,
      (rejection: unknown) => rejection,
    );
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('SERVICE_UNAVAILABLE');
    expect((err as AppError).status).toBe(503);
  };

  it('refuses with SERVICE_UNAVAILABLE, never fresh, while Redis is down, and answers again once it is back', async (ctx) => {
    const missing = redisServerMissing();
    if (missing !== undefined) ctx.skip(missing);
    own = await startOwnRedis();
    const redis = await connectNode(own.url);
    const store = createRedisNonceStore({ redis, keyPrefix: 'outage' });
    expect(await store.remember('k:before-outage', 600_000)).toBe('fresh');

    await own.kill();
    // At once, whether or not the connection has noticed yet.
    await expectUnavailable(store.remember('k:during-outage', 600_000));
    await eventually(async () => !redis.available(), 'the connection saw Redis go');
    await expectUnavailable(store.remember('k:during-outage', 600_000));

    await own.restart();
    await eventually(async () => redis.available(), 'the connection is back');
    expect(await store.remember('k:after-outage', 600_000)).toBe('fresh');
    expect(await store.remember('k:after-outage', 600_000)).toBe('seen');
  });

  it('refuses with SERVICE_UNAVAILABLE when a frozen Redis keeps the connection open but does not answer', async (ctx) => {
    const missing = redisServerMissing();
    if (missing !== undefined) ctx.skip(missing);
    own = await startOwnRedis();
    const redis = await connectNode(own.url);
    const store = createRedisNonceStore({ redis, keyPrefix: 'frozen', timeoutMs: 200 });
    expect(await store.remember('k:before', 600_000)).toBe('fresh');

    own.freeze();
    await expectUnavailable(store.remember('k:while-frozen', 600_000));
    own.thaw();
    await eventually(async () => redis.available(), 'the connection answers again');
    // The SET sent while frozen ran once Redis woke up: a retry must use a new nonce.
    expect(await store.remember('k:while-frozen', 600_000)).toBe('seen');
    expect(await store.remember('k:after', 600_000)).toBe('fresh');
  });
});
