import request from 'supertest';
import { io } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, emitWithAck, waitFor, watchUnwanted, type TestSocket } from '../support/client.js';
import { CLUSTER_KEY, clusterSkipReason, startCluster, type TestCluster } from '../support/cluster.js';
import { eventually } from '../support/eventually.js';
import { stopServerProcess } from '../support/server-process.js';
import { signToken } from '../support/tokens.js';

/**
 * Two real server processes joined through the machine's Redis (REDIS_URL) on one
 * PostgreSQL schema: what one node is asked to deliver reaches sockets on the other.
 */

const skipped = await clusterSkipReason();

describe.skipIf(skipped !== undefined)('cluster mode: delivery across nodes', () => {
  let cluster: TestCluster;
  const sockets: TestSocket[] = [];

  beforeAll(async () => {
    cluster = await startCluster('cluster_delivery', 2);
  }, 60_000);
  afterAll(async () => {
    for (const socket of sockets.splice(0)) socket.close();
    await cluster?.close();
  });

  const connectAs = async (nodeIndex: number, userId: string, extra: Record<string, unknown> = {}) => {
    const socket = await connectClient(cluster.nodes[nodeIndex]!.url, { auth: { token: signToken({ userId }), ...extra } });
    sockets.push(socket);
    return socket;
  };
  const post = (nodeIndex: number, path: string, body: object) =>
    request(cluster.nodes[nodeIndex]!.url).post(path).set('X-API-Key', CLUSTER_KEY).send(body);

  it('delivers /notify, /api/push, /api/broadcast and /api/room from one node to sockets on the other, with exactly their payloads', async () => {
    const bob = await connectAs(1, 'bob-delivery');
    const notified = waitFor(bob, 'notification');
    await post(0, '/notify', { id: 'n-1', title: 'Hello', timestamp: '2026-12-02T00:00:00.000Z' }).expect(200);
    expect(await notified).toEqual({ id: 'n-1', title: 'Hello', timestamp: '2026-12-02T00:00:00.000Z' });

    const pushed = waitFor(bob, 'order:update');
    await post(0, '/api/push', { userId: 'bob-delivery', event: 'order:update', data: { orderId: 7 } }).expect(200);
    expect(await pushed).toEqual({ orderId: 7 });

    const broadcast = waitFor(bob, 'maintenance');
    await post(0, '/api/broadcast', { event: 'maintenance', data: { at: 'noon' } }).expect(200);
    expect(await broadcast).toEqual({ at: 'noon' });
  });

  it('reports the node a client is connected to in /api/status', async () => {
    const [first, second] = await Promise.all(cluster.nodes.map((node) => request(node.url).get('/api/status').set('X-API-Key', CLUSTER_KEY).expect(200)));
    expect(first!.body.nodeId).toBe('node-1');
    expect(second!.body.nodeId).toBe('node-2');
  });

  it('does not send the recovery offset to clients that did not ask for recovery, from either node', async () => {
    const plain = await connectAs(1, 'plain-user');
    const args: unknown[][] = [];
    (plain as unknown as { onAny(listener: (...a: unknown[]) => void): void }).onAny((...received) => args.push(received));
    const sentinel = waitFor(plain, 'sentinel');
    await post(0, '/api/push', { userId: 'plain-user', event: 'payload-check', data: 'text' }).expect(200);
    await post(1, '/api/push', { userId: 'plain-user', event: 'payload-check', data: 'text' }).expect(200);
    await post(0, '/api/push', { userId: 'plain-user', event: 'sentinel', data: {} }).expect(200);
    await sentinel;
    expect(args.filter(([event]) => event === 'payload-check')).toEqual([
      ['payload-check', 'text'],
      ['payload-check', 'text'],
    ]);
  });

  it('recovers a session on the other node: rooms and the events missed while away', async () => {
    const token = signToken({ userId: 'roamer' });
    const socket: TestSocket = io(cluster.nodes[0]!.url, { auth: { token, recovery: true }, transports: ['websocket'], forceNew: true, reconnection: false });
    sockets.push(socket);
    await waitFor(socket, 'connection_status');
    await emitWithAck(socket, 'room:join', { room: 'roam-news' });
    // Something with an offset must have arrived before the drop for a client to resume.
    const first = waitFor(socket, 'before-drop');
    await post(1, '/api/push', { userId: 'roamer', event: 'before-drop', data: 1 }).expect(200);
    expect(await first).toBe(1);

    (socket.io as unknown as { engine: { close(): void } }).engine.close();
    // Node 0 must have seen the drop (and stored the session in Redis) before the client
    // comes back; until then what follows would not be missed.
    await eventually(async () => {
      const presence = await request(cluster.nodes[0]!.url).get('/api/users/roamer/presence').set('X-API-Key', CLUSTER_KEY);
      return presence.body.connections === 0;
    }, 'node 1 saw the roamer drop');
    await post(1, '/api/room', { room: 'roam-news', event: 'headline', data: 'missed' }).expect(200);
    await post(0, '/api/push', { userId: 'roamer', event: 'personal', data: 'also missed' }).expect(200);

    const recovered = waitFor(socket, 'system:state_recovered');
    const headline = waitFor(socket, 'headline');
    const personal = waitFor(socket, 'personal');
    (socket.io as unknown as { uri: string }).uri = cluster.nodes[1]!.url;
    socket.connect();
    await recovered;
    expect(await headline).toBe('missed');
    expect(await personal).toBe('also missed');
    expect(socket.recovered).toBe(true);
  });

  it('sends nothing to a user of the same id in another tenant, on any node', async () => {
    const other = await connectAs(1, 'shared-id');
    const unwanted = watchUnwanted(other, ['tenant-only']);
    const sentinel = waitFor(other, 'sentinel');
    await post(0, '/api/push', { userId: 'shared-id', tenantId: 'acme', event: 'tenant-only', data: {} }).expect(200);
    await post(0, '/api/push', { userId: 'shared-id', event: 'sentinel', data: {} }).expect(200);
    await unwanted.expectNothingBefore(() => sentinel);
  });

  it('lets a node shut down alone: sockets on the other nodes are neither told nor disconnected', async () => {
    const leaving = await cluster.addNode({ NODE_ID: 'node-leaving' });
    const staying = await connectAs(0, 'stays-connected');
    const onLeaving = await connectClient(leaving.url, { auth: { token: signToken({ userId: 'on-leaving-node' }) } });
    sockets.push(onLeaving);
    const unwanted = watchUnwanted(staying, ['system:shutdown']);
    const told = waitFor(onLeaving, 'system:shutdown');
    await stopServerProcess(leaving, 'SIGTERM');
    await told;
    const sentinel = waitFor(staying, 'sentinel');
    await post(1, '/api/push', { userId: 'stays-connected', event: 'sentinel', data: {} }).expect(200);
    await unwanted.expectNothingBefore(() => sentinel);
    expect(staying.connected).toBe(true);
  });
});
