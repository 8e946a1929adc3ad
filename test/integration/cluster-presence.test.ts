import { createClient } from 'redis';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, emitWithAck, waitFor, watchUnwanted, type TestSocket } from '../support/client.js';
import { CLUSTER_KEY, clusterSkipReason, startCluster, type TestCluster } from '../support/cluster.js';
import { eventually } from '../support/eventually.js';
import { redisServerMissing, startOwnRedis, type OwnRedis } from '../support/redis-server-process.js';
import { stopServerProcess } from '../support/server-process.js';
import { signToken } from '../support/tokens.js';

/**
 * Counts across real server processes joined through Redis (src/cluster/cluster-presence.ts):
 * `recipients`, `delivered`, presence, status, `receiver_unavailable` and the relays count
 * every live node's sockets; a node that dies without a word leaves the counts within the
 * documented bound; a node cut off from Redis answers SERVICE_UNAVAILABLE and sends
 * nothing, then recovers by itself.
 */

const skipped = await clusterSkipReason();

/** The parts every describe below needs, over one cluster. */
function clusterKit(getCluster: () => TestCluster) {
  const sockets: TestSocket[] = [];
  const url = (node: number) => getCluster().nodes[node]!.url;
  const connectAs = async (node: number, userId?: string) => {
    const socket = await connectClient(url(node), userId === undefined ? {} : { auth: { token: signToken({ userId }) } });
    sockets.push(socket);
    return socket;
  };
  const post = (node: number, path: string, body: object) => request(url(node)).post(path).set('X-API-Key', CLUSTER_KEY).send(body);
  const get = (node: number, path: string) => request(url(node)).get(path).set('X-API-Key', CLUSTER_KEY);
  const presenceOf = async (node: number, userId: string) => (await get(node, `/api/users/${userId}/presence`).expect(200)).body.connections as number;
  const closeSockets = () => {
    for (const socket of sockets.splice(0)) socket.close();
  };
  return { sockets, url, connectAs, post, get, presenceOf, closeSockets };
}

describe.skipIf(skipped !== undefined)('cluster presence: counts across nodes', () => {
  let cluster: TestCluster;
  const kit = clusterKit(() => cluster);
  const { connectAs, post, get, presenceOf } = kit;

  beforeAll(async () => {
    cluster = await startCluster('cluster_presence', 3);
  }, 60_000);
  afterEach(async () => {
    kit.closeSockets();
    // Each test starts from an empty cluster: the counts below are exact.
    await eventually(async () => (await get(0, '/api/status').expect(200)).body.connections === 0, 'every socket of the last test left every count');
  });
  afterAll(async () => {
    kit.closeSockets();
    await cluster?.close();
  });

  it('counts a user with one socket on each of two nodes as 2 recipients, whichever node publishes', async () => {
    const first = await connectAs(0, 'two-nodes');
    const second = await connectAs(1, 'two-nodes');
    await eventually(async () => (await presenceOf(2, 'two-nodes')) === 2, 'node 3 sees both sockets');

    for (const node of [0, 1, 2]) {
      const arrived = Promise.all([waitFor(first, 'counted'), waitFor(second, 'counted')]);
      const pushed = await post(node, '/api/push', { userId: 'two-nodes', event: 'counted', data: { node } }).expect(200);
      expect(pushed.body).toMatchObject({ delivered: true, recipients: 2 });
      expect(await arrived).toEqual([{ node }, { node }]);
    }
    // Stored first, counted the same way (before the write).
    const stored = await post(2, '/api/push', { userId: 'two-nodes', event: 'kept', data: {}, persist: true }).expect(200);
    expect(stored.body).toMatchObject({ delivered: true, recipients: 2, notificationIds: [expect.any(String)] });
    // Several users at once: each counted on every node.
    const anon = await connectAs(2, 'other-user');
    await eventually(async () => (await presenceOf(0, 'other-user')) === 1, 'node 1 sees the other user');
    const both = await post(0, '/api/push', { userIds: ['two-nodes', 'other-user', 'nobody'], event: 'many', data: {} }).expect(200);
    expect(both.body.recipients).toBe(3);

    await emitWithAck(first, 'room:join', { room: 'spread' });
    await emitWithAck(second, 'room:join', { room: 'spread' });
    await emitWithAck(anon, 'room:join', { room: 'spread' });
    const roomArrived = Promise.all([first, second, anon].map((socket) => waitFor(socket, 'room-news')));
    await eventually(async () => (await post(1, '/api/room', { room: 'spread', event: 'room-news', data: {} }).expect(200)).body.recipients === 3, 'the room counts 3');
    await roomArrived;

    for (const node of [0, 1, 2]) {
      expect((await post(node, '/api/broadcast', { event: 'to-all', data: {} }).expect(200)).body.recipients).toBe(3);
      expect((await post(node, '/notify', { title: 'everyone' }).expect(200)).body.recipients).toBe(3);
    }
  });

  it('answers presence, /api/status, /socket/status, /socket/connections and /metrics for the whole cluster; /health for its node', async () => {
    const a1 = await connectAs(0, 'present');
    await connectAs(0, 'present');
    await connectAs(1, 'elsewhere');
    const anonymous = await connectAs(2);
    await emitWithAck(anonymous, 'room:join', { room: 'lobby' });
    // Totals may be up to 250 ms old (a read is shared that long): each node gets there.
    const statusIs = async (node: number) => {
      const status = (await get(node, '/api/status').expect(200)).body;
      // Rooms: user:present, user:elsewhere and lobby.
      return status.connections === 4 && status.activeConnections === 4 && status.activeUsers === 2 && status.rooms === 3;
    };
    for (const node of [0, 1, 2]) await eventually(() => statusIs(node), `node ${node + 1} has the cluster's totals`);

    for (const node of [0, 1, 2]) {
      expect((await get(node, '/api/users/present/presence').expect(200)).body).toEqual({ userId: 'present', online: true, connections: 2 });
      expect((await get(node, '/api/users/elsewhere/presence').expect(200)).body).toMatchObject({ online: true, connections: 1 });
      const socketStatus = (await request(kit.url(node)).get('/socket/status').expect(200)).body;
      expect(socketStatus.socketio).toMatchObject({ connectedUsers: 2, totalConnections: 4 });
    }
    // The caller's sockets are all on node 2; asked on node 1.
    const own = await request(kit.url(0)).get('/socket/connections').set('Authorization', `Bearer ${signToken({ userId: 'elsewhere' })}`).expect(200);
    expect(own.body).toMatchObject({ you: { userId: 'elsewhere', connected: true }, server: { connectedUsers: 2, totalConnections: 4 } });
    const listed = await get(2, '/api/connections').expect(200);
    expect(listed.body.count).toBe(4);
    expect((await get(1, '/api/connections?userId=present').expect(200)).body.count).toBe(2);
    // Liveness is this node's alone (and never asks Redis).
    expect((await request(kit.url(0)).get('/health').expect(200)).body.connections).toBe(2);
    const metrics = (await request(kit.url(1)).get('/metrics').expect(200)).text;
    expect(metrics).toMatch(/^cluster_nodes 3$/m);
    expect(metrics).toMatch(/^cluster_connections 4$/m);
    expect(metrics).toMatch(/^cluster_users 2$/m);
    expect(a1.connected).toBe(true);
  });

  it('sends receiver_unavailable only when the receiver has no socket on any node', async () => {
    const alice = await connectAs(0, 'alice-c');
    const bob = await connectAs(1, 'bob-c');
    await eventually(async () => (await presenceOf(0, 'bob-c')) === 1, 'node 1 sees bob on node 2');
    const created = await post(0, '/api/sessions', { machineId: 'm-1', senderUserId: 'alice-c', receiverUserId: 'bob-c' }).expect(201);
    const sessionId = created.body.sessionId as string;

    const unwanted = watchUnwanted(alice, ['receiver_unavailable']);
    const received = waitFor<{ message: { message: string } }>(bob, 'new_message');
    const sent = await post(0, `/api/sessions/${sessionId}/messages`, { senderUserId: 'alice-c', message: 'across nodes' }).expect(201);
    expect(sent.body.delivered).toBe(true);
    expect((await received).message.message).toBe('across nodes');
    const sentinel = waitFor(alice, 'sentinel');
    await post(0, '/api/push', { userId: 'alice-c', event: 'sentinel', data: {} }).expect(200);
    await unwanted.expectNothingBefore(() => sentinel);

    bob.close();
    await eventually(async () => (await presenceOf(0, 'bob-c')) === 0, 'bob has left every node');
    const unavailable = waitFor<{ sessionId: string; receiverUserId: string; stored: boolean }>(alice, 'receiver_unavailable');
    const stored = await post(0, `/api/sessions/${sessionId}/messages`, { senderUserId: 'alice-c', message: 'nobody home' }).expect(201);
    expect(stored.body.delivered).toBe(false);
    expect(await unavailable).toMatchObject({ sessionId, receiverUserId: 'bob-c', stored: true });
  });

  it('counts the relays (message, client:message) across nodes', async () => {
    const sender = await connectAs(0, 'relay-a');
    const others = [await connectAs(1, 'relay-b'), await connectAs(2, 'relay-c')];
    for (const socket of [sender, ...others]) await emitWithAck(socket, 'room:join', { room: 'relay-room' });
    await eventually(async () => (await post(0, '/api/room', { room: 'relay-room', event: 'noop', data: {} }).expect(200)).body.recipients === 3, 'the room counts 3');

    const relayed = Promise.all(others.map((socket) => waitFor<{ from: string; data: unknown }>(socket, 'message')));
    expect(await emitWithAck(sender, 'message', { room: 'relay-room', text: 'hi' })).toEqual({ success: true, recipients: 2 });
    expect((await relayed).map((message) => message.from)).toEqual(['relay-a', 'relay-a']);

    const everyone = Promise.all(others.map((socket) => waitFor(socket, 'message')));
    expect(await emitWithAck(sender, 'message', { text: 'to all' })).toEqual({ success: true, recipients: 2 });
    await everyone;

    const direct = waitFor<{ content: string }>(others[0]!, 'client:message');
    expect(await emitWithAck(sender, 'client:message', { content: 'psst', metadata: { to: 'relay-b' } })).toMatchObject({ success: true });
    expect((await direct).content).toBe('psst');
  });
});

describe.skipIf(skipped !== undefined)('cluster presence: nodes that die or freeze', () => {
  let cluster: TestCluster;
  const kit = clusterKit(() => cluster);
  const { connectAs, post, get, presenceOf } = kit;
  const HEARTBEAT_MS = '200';

  beforeAll(async () => {
    cluster = await startCluster('cluster_presence_dead', 2, { CLUSTER_HEARTBEAT_MS: HEARTBEAT_MS });
  }, 60_000);
  afterAll(async () => {
    kit.closeSockets();
    await cluster?.close();
  });

  it("drops a SIGKILLed node's sockets from every count within 3 heartbeats and one read", async () => {
    const victim = await cluster.addNode({ NODE_ID: 'victim' });
    const ghost = await connectClient(victim.url, { auth: { token: signToken({ userId: 'ghost' }) } });
    kit.sockets.push(ghost);
    await eventually(async () => (await presenceOf(0, 'ghost')) === 1, 'node 1 sees the ghost on the victim');
    const before = (await get(1, '/api/status').expect(200)).body.connections as number;

    await stopServerProcess(victim, 'SIGKILL');
    // The bound (3 × 200 ms + one read) is well inside eventually()'s 10 s.
    await eventually(async () => (await presenceOf(0, 'ghost')) === 0 && (await presenceOf(1, 'ghost')) === 0, 'the ghost left presence on both survivors');
    await eventually(async () => (await get(1, '/api/status').expect(200)).body.connections === before - 1, 'the status no longer counts the ghost');
    expect((await post(0, '/api/push', { userId: 'ghost', event: 'lost', data: {} }).expect(200)).body).toMatchObject({ delivered: false, recipients: 0 });
    // Redis closed the dead node's connections, so nobody waits for its answer.
    expect((await get(0, '/api/connections?userId=ghost').expect(200)).body.count).toBe(0);
  });

  it('bounds /api/connections while a frozen node still holds its Redis connections, and counts the node again once it thaws', async () => {
    const frozen = await cluster.addNode({ NODE_ID: 'frozen' });
    const icy = await connectClient(frozen.url, { auth: { token: signToken({ userId: 'icy' }) } });
    kit.sockets.push(icy);
    await eventually(async () => (await presenceOf(0, 'icy')) === 1, 'node 1 sees icy on the frozen node');

    frozen.child.kill('SIGSTOP');
    try {
      await eventually(async () => (await presenceOf(0, 'icy')) === 0, 'the frozen node left the counts');
      // Its subscriber connection is open, so the adapter waits for its answer: bounded, then 503.
      const listed = await get(0, '/api/connections').expect(503);
      expect(listed.body.code).toBe('SERVICE_UNAVAILABLE');
    } finally {
      frozen.child.kill('SIGCONT');
    }
    // Its hash may have expired meanwhile: the next heartbeat finds it incomplete and writes it whole.
    await eventually(async () => (await presenceOf(0, 'icy')) === 1, 'the thawed node counts again');
    const listed = await get(0, '/api/connections?userId=icy').expect(200);
    expect(listed.body.count).toBe(1);
  });

  it('mirrors deliveries to a kafka-events subscriber on another node', async () => {
    const watcher = await connectAs(1, 'watcher');
    await emitWithAck(watcher, 'subscribe', 'kafka-events');
    // The other nodes learn of the subscriber with their next heartbeat.
    await eventually(async () => {
      const mirrored = waitFor<{ topic: string }>(watcher, 'kafka-event', 500);
      await post(0, '/api/push', { userId: 'someone', event: 'watched', data: {} }).expect(200);
      return mirrored.then(
        (event) => event.topic === 'api.push',
        () => false,
      );
    }, 'a push on node 1 is mirrored to the subscriber on node 2');
  });
});

const ownRedisSkipped = skipped ?? redisServerMissing();

describe.skipIf(ownRedisSkipped !== undefined)('cluster presence: a Redis outage', () => {
  let redis: OwnRedis;
  let cluster: TestCluster;
  const kit = clusterKit(() => cluster);
  const { connectAs, post, get, presenceOf } = kit;

  beforeAll(async () => {
    redis = await startOwnRedis();
    cluster = await startCluster('cluster_presence_outage', 2, { REDIS_URL: redis.url, CLUSTER_HEARTBEAT_MS: '200' });
  }, 60_000);
  afterAll(async () => {
    kit.closeSockets();
    await cluster?.close();
    await redis?.kill();
  });

  it('answers SERVICE_UNAVAILABLE and sends nothing while Redis is away, then recovers by itself with its presence written again', async () => {
    const user = await connectAs(1, 'outage-user');
    const peer = await connectAs(0, 'outage-peer');
    await emitWithAck(user, 'room:join', { room: 'outage-room' });
    await emitWithAck(peer, 'room:join', { room: 'outage-room' });
    await eventually(async () => (await presenceOf(0, 'outage-user')) === 1, 'node 1 sees the user on node 2');
    expect((await post(0, '/api/push', { userId: 'outage-user', event: 'before', data: {} }).expect(200)).body.recipients).toBe(1);
    const session = await post(0, '/api/sessions', { machineId: 'm-1', senderUserId: 'outage-peer', receiverUserId: 'outage-user' }).expect(201);
    const messages = `/api/sessions/${session.body.sessionId as string}/messages`;
    const chat = { senderUserId: 'outage-peer', message: 'during-outage', clientMessageId: 'outage-1' };

    const unwanted = watchUnwanted(user, ['during-outage']);
    await redis.kill();
    await eventually(async () => {
      const ready = await Promise.all([0, 1].map((node) => request(kit.url(node)).get('/ready')));
      return ready.every((answer) => answer.status === 503);
    }, 'both nodes are not ready');

    const refused = [
      post(0, '/notify', { title: 'during-outage' }),
      post(0, '/api/push', { userId: 'outage-user', event: 'during-outage', data: {} }),
      post(0, '/api/push', { userId: 'outage-user', event: 'during-outage', data: { title: 'during-outage' }, persist: true }),
      post(0, '/api/broadcast', { event: 'during-outage', data: {} }),
      post(0, '/api/room', { room: 'outage-room', event: 'during-outage', data: {} }),
      get(0, '/api/users/outage-user/presence'),
      get(0, '/api/status'),
    ];
    for (const answer of await Promise.all(refused)) {
      expect(answer.status).toBe(503);
      expect(answer.body.code).toBe('SERVICE_UNAVAILABLE');
    }
    expect(await emitWithAck(peer, 'message', { room: 'outage-room', text: 'during-outage' })).toMatchObject({ success: false, code: 'SERVICE_UNAVAILABLE' });
    // A chat message is stored first (PostgreSQL is up), then refused.
    expect((await post(0, messages, chat).expect(503)).body.code).toBe('SERVICE_UNAVAILABLE');
    // Liveness does not depend on Redis.
    expect((await request(kit.url(0)).get('/health').expect(200)).body.status).toBe('healthy');

    await redis.restart();
    await eventually(async () => {
      const ready = await Promise.all([0, 1].map((node) => request(kit.url(node)).get('/ready')));
      return ready.every((answer) => answer.status === 200);
    }, 'both nodes are ready again');
    // The fresh Redis is empty: node 2 wrote its presence into it again by itself.
    const probe = createClient({ url: redis.url, socket: { reconnectStrategy: false } });
    probe.on('error', () => undefined);
    await probe.connect();
    try {
      await eventually(async () => (await probe.hGet(`${cluster.keyPrefix}:presence:node-2`, 'user:outage-user')) === '1', "node 2's presence is in the fresh Redis");
    } finally {
      probe.destroy();
    }
    await eventually(async () => (await presenceOf(0, 'outage-user')) === 1, 'node 1 counts the user again');

    const after = waitFor(user, 'after');
    expect((await post(0, '/api/push', { userId: 'outage-user', event: 'after', data: {} }).expect(200)).body.recipients).toBe(1);
    await unwanted.expectNothingBefore(() => after);
    // Its retry is answered from the store (not stored again) and hands the message over now.
    const handed = waitFor<{ message: { message: string } }>(user, 'new_message');
    expect((await post(0, messages, chat).expect(200)).body).toMatchObject({ duplicate: true, delivered: true });
    expect((await handed).message.message).toBe('during-outage');
    // The stored push of the outage was refused before its write: nothing is in the inbox.
    const inbox = await get(0, '/api/users/outage-user/notifications').expect(200);
    expect(inbox.body.notifications).toEqual([]);
  });
});
