import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CONNECTIONS_FIELD, createClusterPresence, type ClusterPresence } from '../../src/cluster/cluster-presence.js';
import { createClusterRedis, type ClusterRedis } from '../../src/cluster/redis-connection.js';
import { createLogger } from '../../src/observability/logger.js';
import type { AppServer } from '../../src/realtime/socket-types.js';
import { connectClient, type TestSocket } from '../support/client.js';
import { eventually } from '../support/eventually.js';
import { REDIS_URL, connectRedis, deleteKeys, redisUnavailable, requireRedis, uniquePrefix, type TestRedis } from '../support/redis.js';

/**
 * The presence module on the machine's Redis, with two real Socket.IO servers in this
 * process standing for two nodes (their own in-memory adapters; no cluster adapter is
 * needed to count): what one node publishes, the other reads.
 */

const unavailable = await redisUnavailable();
const logger = createLogger({ level: 'silent', pretty: false });
const HEARTBEAT_MS = 100;

interface TestNode {
  io: AppServer;
  http: HttpServer;
  url: string;
  redis: ClusterRedis;
  presence: ClusterPresence;
}

describe('cluster presence on real Redis', () => {
  const prefix = uniquePrefix('presence').replace(/:$/, '');
  const nodes: TestNode[] = [];
  const sockets: TestSocket[] = [];
  let inspector: TestRedis | undefined;

  /** A Socket.IO server whose sockets join the rooms named in their `auth.rooms`. */
  async function startNode(nodeId: string): Promise<TestNode> {
    const http = createServer();
    const io = new Server(http) as unknown as AppServer;
    io.on('connection', (socket) => {
      const rooms = (socket.handshake.auth as { rooms?: string[] }).rooms ?? [];
      void socket.join(rooms);
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const redis = createClusterRedis({ url: REDIS_URL, logger });
    await redis.connect();
    const presence = createClusterPresence({ io, redis, keyPrefix: prefix, nodeId, heartbeatMs: HEARTBEAT_MS, logger, watchedRooms: ['watched'] });
    await presence.start();
    const node = { io, http, url: `http://127.0.0.1:${(http.address() as AddressInfo).port}`, redis, presence };
    nodes.push(node);
    return node;
  }
  const connect = async (node: TestNode, rooms: string[]) => {
    const socket = await connectClient(node.url, { auth: { rooms } });
    sockets.push(socket);
    return socket;
  };

  beforeAll(async () => {
    if (unavailable === undefined) inspector = await connectRedis();
  });
  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.close();
    for (const node of nodes.splice(0)) {
      await node.presence.stop();
      await new Promise<void>((resolve) => void node.io.close(() => resolve()));
      await node.redis.close();
    }
  });
  afterAll(async () => {
    if (inspector === undefined) return;
    await deleteKeys(inspector, `${prefix}:`);
    inspector.destroy();
  });

  it("reads the other node's rooms, never its own, in one call even for hundreds of rooms and many callers", async (ctx) => {
    requireRedis(unavailable, ctx);
    const a = await startNode('a');
    const b = await startNode('b');
    // More rooms than one HMGET inside the script takes (256).
    const many = Array.from({ length: 300 }, (_unused, i) => `room-${i}`);
    await connect(b, many);
    await connect(b, ['room-0', 'user:u1']);
    await connect(a, ['room-0', 'user:u1']);

    await eventually(async () => (await a.presence.countElsewhere([CONNECTIONS_FIELD]))[0] === 2, 'node a sees node b’s 2 connections');
    const counts = await a.presence.countElsewhere(many);
    expect(counts).toHaveLength(300);
    expect(counts[0]).toBe(2);
    expect(counts.slice(1).every((count) => count === 1)).toBe(true);
    // Callers in one tick share a script call; each gets its own rooms, in its order.
    const [first, second, third] = await Promise.all([
      a.presence.countElsewhere(['user:u1', 'room-5']),
      a.presence.countElsewhere(['nowhere', 'user:u1']),
      b.presence.countElsewhere(['user:u1', 'room-0', CONNECTIONS_FIELD]),
    ]);
    expect(first).toEqual([1, 1]);
    expect(second).toEqual([0, 1]);
    expect(third).toEqual([1, 1, 1]);

    // Any room name is a field, even one an object would swallow.
    await connect(b, ['__proto__']);
    await eventually(async () => (await a.presence.countElsewhere(['__proto__']))[0] === 1, 'a room named __proto__ is counted');
  });

  it('totals every live node once: connections summed, rooms and users distinct', async (ctx) => {
    requireRedis(unavailable, ctx);
    const a = await startNode('a');
    const b = await startNode('b');
    await connect(a, ['shared', 'user:u1']);
    await connect(b, ['shared', 'user:u1']);
    await connect(b, ['tenant:acme:user:u2', 'only-b']);
    // Asked at once, after the connects: this node's own pending changes are written first.
    await eventually(async () => (await b.presence.totals()).connections === 3, 'node b counts 3 connections');
    expect(await a.presence.totals()).toEqual({ nodes: 2, connections: 3, users: 2, rooms: 4 });
  });

  it('leaves out a node whose heartbeat is older than 3 heartbeats, by Redis’s clock', async (ctx) => {
    requireRedis(unavailable, ctx);
    const a = await startNode('a');
    const [seconds, micros] = (await inspector!.sendCommand(['TIME'])) as [string, string];
    const now = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    await inspector!.hSet(`${prefix}:presence:ghost`, { [CONNECTIONS_FIELD]: '5', 'user:ghost': '5' });
    await inspector!.zAdd(`${prefix}:nodes`, { score: now - 4 * HEARTBEAT_MS, value: 'ghost' });
    expect(await a.presence.countElsewhere(['user:ghost'])).toEqual([0]);
    expect((await a.presence.totals()).nodes).toBe(1);
    // The same hash with a heartbeat a moment ago is counted (until its 3 heartbeats pass).
    await inspector!.zAdd(`${prefix}:nodes`, { score: now + 60_000, value: 'ghost' });
    expect(await a.presence.countElsewhere(['user:ghost'])).toEqual([5]);
    await inspector!.zRem(`${prefix}:nodes`, 'ghost');
  });

  it('writes its hash whole again when Redis lost it, and removes itself on stop', async (ctx) => {
    requireRedis(unavailable, ctx);
    const a = await startNode('a');
    const b = await startNode('b');
    await connect(b, ['kept']);
    const key = `${prefix}:presence:b`;
    await eventually(async () => (await inspector!.hGet(key, 'kept')) === '1', 'node b published its room');

    // As after an eviction, or a node frozen past its hash's life: the next heartbeat notices.
    await inspector!.del(key);
    await eventually(async () => (await inspector!.hGet(key, 'kept')) === '1', 'node b wrote its hash again');
    expect(await a.presence.countElsewhere(['kept'])).toEqual([1]);

    await b.presence.stop();
    expect(await inspector!.exists(key)).toBe(0);
    expect(await inspector!.zScore(`${prefix}:nodes`, 'b')).toBeNull();
    expect(await a.presence.countElsewhere(['kept'])).toEqual([0]);
  });

  it('deletes the field of a room that empties, and tells watchers of a watched room with the heartbeat', async (ctx) => {
    requireRedis(unavailable, ctx);
    const a = await startNode('a');
    const b = await startNode('b');
    const leaving = await connect(b, ['brief', 'watched']);
    await eventually(async () => a.presence.watchedElsewhere('watched') === 1, 'node a learns of the watcher on node b');
    leaving.close();
    await eventually(async () => (await inspector!.hExists(`${prefix}:presence:b`, 'brief')) === 0, 'the empty room left the hash');
    await eventually(async () => a.presence.watchedElsewhere('watched') === 0, 'node a learns the watcher left');
  });
});
