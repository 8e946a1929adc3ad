import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppSocket } from '../../src/realtime/socket-types.js';
import { emitWithAck, serverSawDisconnect, waitFor } from '../support/client.js';
import { startServer, type TestServer } from '../support/server.js';
import { TEST_SECRET, signToken } from '../support/tokens.js';
import { CONNECT, connectRecorded, dropEngine, type RecordedClient } from './support/wire-packets.js';

/**
 * Item 14 of issue 10, the other side: connection state recovery is opt-in
 * (`auth.recovery: true`). Opted-in clients keep Socket.IO's offsets and get their rooms
 * and missed events back after a drop; in a room shared with a client that did not opt
 * in, each gets its own form of the same event.
 */

/** Drops the transport the way a network blip would, and resolves once the server has seen it go. */
async function dropTransport(t: TestServer, client: RecordedClient): Promise<void> {
  const goneOnServer = serverSawDisconnect(t.server.io, client.socket);
  const goneOnClient = waitFor(client.socket, 'disconnect');
  dropEngine(client);
  await Promise.all([goneOnServer, goneOnClient]);
}

/** Pushes `wire:sentinel` to `userId` and waits for it: everything sent before it has arrived. */
async function sentinel(t: TestServer, client: RecordedClient, userId: string): Promise<void> {
  const arrived = waitFor(client.socket, 'wire:sentinel');
  await request(t.url).post('/api/push').send({ userId, event: 'wire:sentinel', data: 1 }).expect(200);
  await arrived;
}

const isOffset = (value: unknown) => typeof value === 'string' && value.length > 0;

describe('a client that asks for recovery (auth.recovery: true)', () => {
  let t: TestServer;
  let rita: RecordedClient;
  let paul: RecordedClient;

  beforeAll(async () => {
    t = await startServer({ JWT_SECRET: TEST_SECRET });
    rita = await connectRecorded(t.url, { token: signToken({ userId: 'rita' }), recovery: true });
    paul = await connectRecorded(t.url, { token: signToken({ userId: 'paul' }) });
    for (const client of [rita, paul]) await emitWithAck(client.socket, 'room:join', { room: 'mixed' });
  });
  afterAll(async () => {
    rita.socket.close();
    paul.socket.close();
    await t.close();
  });

  it('gets a private session id in the CONNECT reply', () => {
    const connect = rita.packets.find((packet) => packet.type === CONNECT);
    expect(connect?.data).toEqual({ sid: rita.socket.id, pid: expect.any(String) });
  });

  it('gets the offset after the payload, while a client in the same room gets the payload alone', async () => {
    const ritaGot = waitFor(rita.socket, 'headline');
    const paulGot = waitFor(paul.socket, 'headline');
    await request(t.url).post('/api/room').send({ room: 'mixed', event: 'headline', data: 'both' }).expect(200);
    await Promise.all([ritaGot, paulGot]);
    const [ritaPacket] = rita.eventsNamed('headline');
    expect(ritaPacket).toHaveLength(3);
    expect(ritaPacket?.slice(0, 2)).toEqual(['headline', 'both']);
    expect(isOffset(ritaPacket?.[2])).toBe(true);
    expect(paul.eventsNamed('headline')).toEqual([['headline', 'both']]);
  });

  it('gets offsets on its direct replies; packets with an ack and volatile ones carry none', async () => {
    const pong = waitFor(rita.socket, 'pong');
    rita.socket.emit('ping', {});
    await pong;
    const [pongPacket] = rita.eventsNamed('pong');
    expect(pongPacket).toHaveLength(3);

    const serverSide = t.server.io.of('/').sockets.get(rita.socket.id!) as AppSocket;
    const untypedClient = rita.socket as unknown as { on(event: string, listener: (...args: unknown[]) => void): void };
    untypedClient.on('probe', (...args: unknown[]) => (args.at(-1) as (reply: string) => void)('pong'));
    const emitter = serverSide as unknown as {
      timeout(ms: number): { emitWithAck(event: string, ...args: unknown[]): Promise<unknown> };
      volatile: { emit(event: string, ...args: unknown[]): boolean };
    };
    expect(await emitter.timeout(3000).emitWithAck('probe', 'with-ack')).toBe('pong');
    emitter.volatile.emit('fleeting', 'volatile');
    await sentinel(t, rita, 'rita');
    // socket.io-client appends its ack callback to the decoded packet it hands the listener.
    const withoutCallback = (data: unknown[]) => data.filter((arg) => typeof arg !== 'function');
    expect(rita.eventsNamed('probe').map(withoutCallback)).toEqual([['probe', 'with-ack']]);
    expect(rita.eventsNamed('fleeting')).toEqual([['fleeting', 'volatile']]);
  });

  it('recovers its rooms and the events it missed, each once and with one offset', async () => {
    await dropTransport(t, rita);
    const sessions = (t.server.io.of('/').adapter as unknown as { sessions: Map<string, unknown> }).sessions;
    expect(sessions.size).toBe(1);

    await request(t.url).post('/api/push').send({ userId: 'rita', event: 'personal', data: { n: 1 } }).expect(200);
    await request(t.url).post('/api/room').send({ room: 'mixed', event: 'while-away', data: 'room' }).expect(200);

    const recovered = waitFor(rita.socket, 'system:state_recovered');
    rita.socket.connect();
    await recovered;
    expect(rita.socket.recovered).toBe(true);
    await sentinel(t, rita, 'rita');
    const [personal, ...personalAgain] = rita.eventsNamed('personal');
    expect(personalAgain).toEqual([]);
    expect(personal?.slice(0, 2)).toEqual(['personal', { n: 1 }]);
    expect(personal).toHaveLength(3);
    expect(rita.eventsNamed('while-away').map((packet) => packet.slice(0, 2))).toEqual([['while-away', 'room']]);

    // The room came back with the session: a room emit reaches it without a new join.
    const inRoom = waitFor(rita.socket, 'after');
    await request(t.url).post('/api/room').send({ room: 'mixed', event: 'after', data: 2 }).expect(200);
    expect(await inRoom).toBe(2);
  });

  it('resumes after the replay on its next drop: nothing already replayed comes again', async () => {
    await dropTransport(t, rita);
    await request(t.url).post('/api/push').send({ userId: 'rita', event: 'personal', data: { n: 2 } }).expect(200);
    const recovered = waitFor(rita.socket, 'system:state_recovered');
    rita.socket.connect();
    await recovered;
    await sentinel(t, rita, 'rita');
    expect(rita.eventsNamed('personal').map((packet) => packet[1])).toEqual([{ n: 1 }, { n: 2 }]);
    expect(rita.eventsNamed('while-away')).toHaveLength(1);
  });
});
