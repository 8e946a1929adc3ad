import request from 'supertest';
import { io } from 'socket.io-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SocketErrorPayload } from '../../src/contracts/error-codes.js';
import { connectClient, emitWithAck, serverSawDisconnect, waitFor, watchUnwanted, type TestSocket } from '../support/client.js';
import { createTestClock, type TestClock } from '../support/clock.js';
import { startServer, type TestServer } from '../support/server.js';
import { TEST_SECRET, signToken } from '../support/tokens.js';

/** Connects, asking for connection state recovery, and resolves once the greeting has arrived. */
async function connectUser(url: string, token: string, extra: Record<string, unknown> = {}): Promise<TestSocket> {
  const socket: TestSocket = io(url, { auth: { token, recovery: true }, transports: ['websocket'], forceNew: true, reconnectionDelay: 50, ...extra });
  await waitFor(socket, 'connection_status');
  return socket;
}

describe('token expiry and auth:refresh', () => {
  let t: TestServer;
  let clock: TestClock;
  beforeEach(async () => {
    // The server's clock moves only when a test advances it, so expiry takes no waiting.
    // No clock tolerance, so a token expires at its exp exactly.
    clock = createTestClock();
    t = await startServer({ JWT_SECRET: TEST_SECRET, JWT_CLOCK_TOLERANCE_SECONDS: '0' }, { clock });
  });
  afterEach(() => t.close());

  it('ends the connection at exp with error TOKEN_EXPIRED, and not before', async () => {
    const socket = await connectUser(t.url, signToken({ userId: 'exp-user' }, { ttlSeconds: 60 }), { reconnection: false });
    const early = watchUnwanted(socket, ['error']);
    clock.advance(30_000);
    await early.expectNothingBefore();
    const error = waitFor<SocketErrorPayload>(socket, 'error');
    const disconnect = waitFor<string>(socket, 'disconnect');
    clock.advance(60_000);
    expect(await error).toMatchObject({ code: 'TOKEN_EXPIRED' });
    expect(await disconnect).toBe('io server disconnect');
  });

  it('keeps the connection past exp when auth:refresh brought a newer token for the same user, until that one expires', async () => {
    const socket = await connectUser(t.url, signToken({ userId: 'refresher' }, { ttlSeconds: 60 }), { reconnection: false });
    const fresh = signToken({ userId: 'refresher' }, { ttlSeconds: 600 });
    const ack = await emitWithAck<{ success: boolean; exp: number }>(socket, 'auth:refresh', { token: fresh });
    expect(ack.success).toBe(true);
    expect(ack.exp).toBeGreaterThan(clock.now() / 1000 + 500);
    // Past the first token's exp: the socket must still be there and answering.
    const early = watchUnwanted(socket, ['error']);
    clock.advance(90_000);
    await early.expectNothingBefore();
    expect(socket.connected).toBe(true);
    const error = waitFor<SocketErrorPayload>(socket, 'error');
    const disconnect = waitFor<string>(socket, 'disconnect');
    clock.advance(600_000);
    expect(await error).toMatchObject({ code: 'TOKEN_EXPIRED' });
    expect(await disconnect).toBe('io server disconnect');
  });

  it('refuses a refresh for another user, a bad token and an expired one', async () => {
    const socket = await connectUser(t.url, signToken({ userId: 'owner' }), { reconnection: false });
    const other = await emitWithAck<{ code: string }>(socket, 'auth:refresh', { token: signToken({ userId: 'intruder' }) });
    expect(other).toMatchObject({ success: false, code: 'FORBIDDEN' });
    expect(await emitWithAck(socket, 'auth:refresh', { token: 'nope' })).toMatchObject({ success: false, code: 'UNAUTHORIZED' });
    const expired = signToken({ userId: 'owner' }, { ttlSeconds: -10 });
    expect(await emitWithAck(socket, 'auth:refresh', { token: expired })).toMatchObject({ success: false, code: 'TOKEN_EXPIRED' });
    expect(await emitWithAck(socket, 'auth:refresh', {})).toMatchObject({ success: false, code: 'INVALID_REQUEST' });
    expect(socket.connected).toBe(true);
    socket.close();
  });
});

describe('connection state recovery', () => {
  let t: TestServer;
  let clock: TestClock;
  beforeEach(async () => {
    clock = createTestClock();
    t = await startServer({ JWT_SECRET: TEST_SECRET, JWT_CLOCK_TOLERANCE_SECONDS: '0' }, { clock });
  });
  afterEach(() => t.close());

  /** Records every decoded packet the client's manager receives, connected or not. */
  const recordPackets = (socket: TestSocket) => {
    const seen: string[] = [];
    (socket.io as unknown as { on(event: 'packet', listener: (packet: unknown) => void): void }).on('packet', (packet) =>
      seen.push(JSON.stringify(packet)),
    );
    return seen;
  };

  /** Drops the transport the way a network blip would, without telling the server. */
  const dropTransport = (socket: TestSocket) => (socket.io as unknown as { engine: { close(): void } }).engine.close();

  it('recovers rooms and missed events after a transport drop, and says so', async () => {
    const socket = await connectUser(t.url, signToken({ userId: 'rec' }), { reconnection: false });
    await emitWithAck(socket, 'room:join', { room: 'news' });
    const gone = serverSawDisconnect(t.server.io, socket);
    dropTransport(socket);
    await gone;
    // Sent while no socket of the user is connected: only recovery can bring them back.
    const room = await request(t.url).post('/api/room').send({ room: 'news', event: 'headline', data: 'missed' }).expect(200);
    expect(room.body.recipients).toBe(0);
    await request(t.url).post('/api/push').send({ userId: 'rec', event: 'personal', data: 'also missed' }).expect(200);

    const recovered = waitFor<{ userId: string }>(socket, 'system:state_recovered');
    const missed = waitFor(socket, 'headline');
    const missedPush = waitFor(socket, 'personal');
    socket.connect();
    expect(await recovered).toMatchObject({ userId: 'rec' });
    expect(await missed).toBe('missed');
    expect(await missedPush).toBe('also missed');
    expect(socket.recovered).toBe(true);
    socket.close();
  });

  it('runs authentication again on recovery: a client whose token became invalid is refused and gets nothing', async () => {
    const socket = await connectUser(t.url, signToken({ userId: 'revoked' }), { reconnection: false });
    const gone = serverSawDisconnect(t.server.io, socket);
    dropTransport(socket);
    await gone;
    // Sent while no socket of the user is connected, so it waits for recovery.
    const push = await request(t.url).post('/api/push').send({ userId: 'revoked', event: 'secret', data: 1 }).expect(200);
    expect(push.body.recipients).toBe(0);

    (socket as unknown as { auth: unknown }).auth = { token: 'tampered', recovery: true };
    const packets = recordPackets(socket);
    const refused = waitFor<Error & { data?: { code: string } }>(socket, 'connect_error');
    socket.connect();
    expect((await refused).data?.code).toBe('UNAUTHORIZED');
    // The refusal is the sentinel: a restored session's missed packets would be written before it.
    expect(packets.some((packet) => packet.includes('secret'))).toBe(false);
    socket.close();
  });

  it('refuses to recover a session whose token expired while away, and delivers none of its missed events', async () => {
    const socket = await connectUser(t.url, signToken({ userId: 'stale' }, { ttlSeconds: 60 }), { reconnection: false });
    const gone = serverSawDisconnect(t.server.io, socket);
    dropTransport(socket);
    await gone;
    const push = await request(t.url).post('/api/push').send({ userId: 'stale', event: 'secret', data: 1 }).expect(200);
    expect(push.body.recipients).toBe(0);
    clock.advance(90_000);

    const packets = recordPackets(socket);
    const refused = waitFor<Error & { data?: { code: string } }>(socket, 'connect_error');
    socket.connect();
    expect((await refused).data?.code).toBe('TOKEN_EXPIRED');
    // Not even on the wire: Socket.IO writes missed packets before middlewares run.
    expect(packets.some((packet) => packet.includes('secret'))).toBe(false);
    socket.close();
  });

  it('keeps at most RECOVERY_MAX_PACKETS emits: a client away for more cannot recover, and is told', async () => {
    const bounded = await startServer({ JWT_SECRET: TEST_SECRET, RECOVERY_MAX_PACKETS: '5' });
    try {
      const socket = await connectUser(bounded.url, signToken({ userId: 'away' }), { reconnection: false });
      await emitWithAck(socket, 'room:join', { room: 'busy' });
      // One emit received, so the client has an offset to resume from.
      const first = waitFor(socket, 'tick');
      await request(bounded.url).post('/api/room').send({ room: 'busy', event: 'tick', data: -1 }).expect(200);
      await first;
      const disconnected = waitFor(socket, 'disconnect');
      dropTransport(socket);
      await disconnected;
      for (let i = 0; i < 20; i++) {
        await request(bounded.url).post('/api/room').send({ room: 'busy', event: 'tick', data: i }).expect(200);
      }
      const failed = waitFor<{ message: string }>(socket, 'system:state_recovery_failed');
      socket.connect();
      expect(await failed).toMatchObject({ message: 'Failed to recover connection state' });
      expect(socket.recovered).toBe(false);
      socket.close();
    } finally {
      await bounded.close();
    }
  });

  it('tells a client that asked to recover but could not be', async () => {
    const socket: TestSocket = io(t.url, {
      auth: { token: signToken({ userId: 'lost' }), recovery: true, pid: 'no-such-session', offset: 'x' },
      transports: ['websocket'],
      forceNew: true,
    });
    const failed = await waitFor<{ message: string }>(socket, 'system:state_recovery_failed');
    expect(failed).toMatchObject({ message: 'Failed to recover connection state', timestamp: expect.any(String) });
    socket.close();
  });

  it('keeps nothing for recovery while no client could ask for it, and keeps emits again once one could', async () => {
    const kept = () => (t.server.io.of('/').adapter as unknown as { packets: unknown[] }).packets.length;
    const plain = await connectClient(t.url, { auth: { token: signToken({ userId: 'plain-only' }) } });
    await emitWithAck(plain, 'room:join', { room: 'quiet' });
    const got = waitFor(plain, 'tick');
    await request(t.url).post('/api/room').send({ room: 'quiet', event: 'tick', data: 1 }).expect(200);
    await request(t.url).post('/api/push').send({ userId: 'plain-only', event: 'ping-me', data: 1 }).expect(200);
    await got;
    expect(kept()).toBe(0);

    // A client that asked for recovery: what may reach it is kept from now on, and once it
    // has dropped, so is what is emitted to the rooms its session waits in.
    // (Its own greetings and replies are kept too: they carry its offsets.)
    const resumable = await connectUser(t.url, signToken({ userId: 'resumable' }), { reconnection: false });
    await emitWithAck(resumable, 'room:join', { room: 'quiet' });
    const before = kept();
    await request(t.url).post('/api/room').send({ room: 'quiet', event: 'tick', data: 2 }).expect(200);
    expect(kept()).toBe(before + 1);
    const gone = serverSawDisconnect(t.server.io, resumable);
    dropTransport(resumable);
    await gone;
    await request(t.url).post('/api/room').send({ room: 'quiet', event: 'tick', data: 3 }).expect(200);
    expect(kept()).toBe(before + 2);
    const missed = waitFor(resumable, 'tick');
    resumable.connect();
    expect(await missed).toBe(3);
    plain.close();
    resumable.close();
  });
});
