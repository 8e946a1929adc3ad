import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emitWithAck, serverSawDisconnect } from '../support/client.js';
import { startServer, type TestServer } from '../support/server.js';
import { TEST_SECRET, signToken } from '../support/tokens.js';
import { CONNECT, EVENT, connectRecorded, dropEngine, type RecordedClient } from './support/wire-packets.js';

/**
 * Item 14 of issue 10: with connection state recovery on for everybody, Socket.IO appended
 * an offset to every event (`[event, payload, offset]`) and sent a `pid` in the CONNECT
 * reply. A client that does not ask for recovery must get each event as exactly its
 * payload, on every delivery path: HTTP pushes, direct replies and relays.
 */

describe('a client that does not ask for recovery gets exactly the payload', () => {
  let t: TestServer;
  let alice: RecordedClient;
  let bob: RecordedClient;

  beforeAll(async () => {
    t = await startServer({ JWT_SECRET: TEST_SECRET });
    alice = await connectRecorded(t.url, { token: signToken({ userId: 'alice' }) });
    bob = await connectRecorded(t.url, { token: signToken({ userId: 'bob' }) });
    for (const client of [alice, bob]) await emitWithAck(client.socket, 'room:join', { room: 'lobby' });
  });
  afterAll(async () => {
    alice.socket.close();
    bob.socket.close();
    await t.close();
  });

  it('gets no private session id in the CONNECT reply', () => {
    const connect = alice.packets.find((packet) => packet.type === CONNECT);
    expect(connect?.data).toEqual({ sid: alice.socket.id });
  });

  it('gets an /api/push event as exactly its payload', async () => {
    const args = alice.nextArgs('order:shipped');
    await request(t.url).post('/api/push').send({ userId: 'alice', event: 'order:shipped', data: { orderId: 7 } }).expect(200);
    expect(await args).toEqual([{ orderId: 7 }]);
  });

  it('gets an /api/broadcast event as exactly its payload', async () => {
    const args = alice.nextArgs('system:notification');
    await request(t.url).post('/api/broadcast').send({ event: 'system:notification', data: { title: 'Maintenance' } }).expect(200);
    expect(await args).toEqual([{ title: 'Maintenance' }]);
  });

  it('gets an /api/room event with a string payload as exactly that string', async () => {
    const args = alice.nextArgs('headline');
    await request(t.url).post('/api/room').send({ room: 'lobby', event: 'headline', data: 'big' }).expect(200);
    expect(await args).toEqual(['big']);
  });

  it('gets a /notify notification as exactly its payload', async () => {
    const args = alice.nextArgs('notification');
    await request(t.url).post('/notify').send({ id: 'n-1', timestamp: '2020-01-01T00:00:00.000Z', title: 'Hi' }).expect(200);
    expect(await args).toEqual([{ id: 'n-1', timestamp: '2020-01-01T00:00:00.000Z', title: 'Hi' }]);
  });

  it('gets a direct reply (pong) as exactly its payload', async () => {
    const args = alice.nextArgs('pong');
    alice.socket.emit('ping', { timestamp: 42 });
    expect(await args).toEqual([{ timestamp: expect.any(String), clientTimestamp: 42 }]);
  });

  it('gets a relayed message and client:message as exactly their payloads', async () => {
    const relayed = alice.nextArgs('message');
    bob.socket.emit('message', { room: 'lobby', text: 'hi' });
    expect(await relayed).toEqual([{ from: 'bob', data: { room: 'lobby', text: 'hi' }, timestamp: expect.any(String) }]);

    const direct = alice.nextArgs('client:message');
    bob.socket.emit('client:message', { content: 'yo', metadata: { to: 'alice' } });
    expect(await direct).toEqual([expect.objectContaining({ from: 'bob', content: 'yo' })]);
  });

  it('never had a packet with more than the event and its payload on the wire', async () => {
    // Sent last: once it is here, every packet sent before it has been recorded.
    const sentinel = alice.nextArgs('wire:sentinel');
    await request(t.url).post('/api/push').send({ userId: 'alice', event: 'wire:sentinel', data: 1 }).expect(200);
    await sentinel;
    const events = alice.packets.filter((packet) => packet.type === EVENT);
    expect(events.length).toBeGreaterThan(8);
    const malformed = events.filter((packet) => !Array.isArray(packet.data) || packet.data.length !== 2);
    expect(malformed).toEqual([]);
  });

  it('keeps no session for it once it has dropped', async () => {
    const carol = await connectRecorded(t.url, { token: signToken({ userId: 'carol' }) });
    // Socket.IO persists a session before it emits `disconnect` on the server side.
    const gone = serverSawDisconnect(t.server.io, carol.socket);
    dropEngine(carol);
    await gone;
    const sessions = (t.server.io.of('/').adapter as unknown as { sessions: Map<unknown, unknown> }).sessions;
    expect([...sessions.keys()]).toEqual([]);
  });
});
