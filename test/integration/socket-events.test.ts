import request from 'supertest';
import { io } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SocketErrorPayload } from '../../src/contracts/error-codes.js';
import { connectClient, emitWithAck, waitFor, watchUnwanted, type TestSocket } from '../support/client.js';
import { startServer, type TestServer } from '../support/server.js';
import { TEST_SECRET, signToken } from '../support/tokens.js';

describe('socket events', () => {
  let t: TestServer;
  let alice: TestSocket;
  let bob: TestSocket;
  let anon: TestSocket;
  const untypedEmit = (socket: TestSocket, event: string, ...args: unknown[]) =>
    (socket as unknown as { emit(event: string, ...args: unknown[]): void }).emit(event, ...args);

  beforeAll(async () => {
    t = await startServer({ JWT_SECRET: TEST_SECRET, ALLOW_ANONYMOUS: 'true' });
    alice = await connectClient(t.url, { auth: { token: signToken({ userId: 'alice', rooms: ['private:team-*'] }) } });
    bob = await connectClient(t.url, { auth: { token: signToken({ userId: 'bob' }) } });
    anon = await connectClient(t.url);
  });
  afterAll(async () => {
    for (const socket of [alice, bob, anon]) socket.close();
    await t.close();
  });

  describe('register (seed 002) and register_user (seed 001)', () => {
    it('confirms the token user with register:ack and the ack callback', async () => {
      const event = waitFor(alice, 'register:ack');
      const ack = await emitWithAck(alice, 'register', { userId: 'alice' });
      expect(ack).toEqual({ success: true, userId: 'alice' });
      expect(await event).toEqual({ success: true, userId: 'alice' });
    });

    it('refuses registering as someone else with FORBIDDEN', async () => {
      const event = waitFor(bob, 'register:ack');
      const error = waitFor<SocketErrorPayload>(bob, 'error');
      const ack = await emitWithAck(bob, 'register', { userId: 'alice' });
      expect(ack).toMatchObject({ success: false, code: 'FORBIDDEN' });
      expect(await event).toMatchObject({ success: false, code: 'FORBIDDEN', error: expect.any(String) });
      expect(await error).toMatchObject({ event: 'register', code: 'FORBIDDEN' });
    });

    it('lets an anonymous socket register (development) and then receive pushes', async () => {
      const success = waitFor(anon, 'registration_success');
      await emitWithAck(anon, 'register_user', { machineId: 'machine-1', userId: 'carol' });
      expect(await success).toEqual({ userId: 'carol', machineId: 'machine-1', socketId: anon.id });
      const pushed = waitFor(anon, 'notification');
      await request(t.url).post('/api/push').send({ userId: 'carol', data: { x: 1 } }).expect(200);
      expect(await pushed).toEqual({ x: 1 });
      const whoami = await emitWithAck<{ result: { machineId: string } }>(anon, 'client:action', { action: 'whoami' });
      expect(whoami.result).toMatchObject({ userId: 'carol', machineId: 'machine-1', authenticated: false });
    });

    it('answers a bad register_user with registration_error', async () => {
      const failure = waitFor(anon, 'registration_error');
      untypedEmit(anon, 'register_user', { userId: 'carol' });
      expect(await failure).toMatchObject({ code: 'INVALID_REQUEST', error: expect.stringMatching(/machineId/) });
    });
  });

  describe('ping, message relay', () => {
    it('answers ping with the ack and pong', async () => {
      const pong = waitFor(alice, 'pong');
      const ack = await emitWithAck(alice, 'ping', { timestamp: 1625097600000 });
      expect(ack).toEqual({ timestamp: expect.any(String), clientTimestamp: 1625097600000 });
      expect(await pong).toEqual(ack);
      const bare = waitFor(alice, 'pong');
      untypedEmit(alice, 'ping');
      expect(await bare).toEqual({ timestamp: expect.any(String) });
    });

    it('relays message to every other client, not back to the sender', async () => {
      const got = Promise.all([waitFor(bob, 'message'), waitFor(anon, 'message')]);
      const echo = watchUnwanted(alice, ['message']);
      const ack = await emitWithAck(alice, 'message', { text: 'hello all' });
      expect(ack).toEqual({ success: true, recipients: 2 });
      const [toBob] = await got;
      expect(toBob).toEqual({ from: 'alice', data: { text: 'hello all' }, timestamp: expect.any(String) });
      await echo.expectNothingBefore();
    });

    it('relays a message with room only to that room, and refuses non-members', async () => {
      await emitWithAck(alice, 'room:join', { room: 'chat-1' });
      await emitWithAck(bob, 'room:join', { room: 'chat-1' });
      const got = waitFor(bob, 'message');
      const toOutsider = watchUnwanted(anon, ['message']);
      expect(await emitWithAck(alice, 'message', { room: 'chat-1', text: 'hi room' })).toEqual({ success: true, recipients: 1 });
      expect(await got).toMatchObject({ from: 'alice', data: { room: 'chat-1', text: 'hi room' } });
      await toOutsider.expectNothingBefore();
      expect(await emitWithAck(anon, 'message', { room: 'chat-1', text: 'x' })).toMatchObject({ success: false, code: 'FORBIDDEN' });
    });
  });

  describe('client:event, client:action, client:message (seed 002)', () => {
    it.each([
      ['echo', { a: 1 }, { a: 1 }],
      ['whoami', undefined, expect.objectContaining({ userId: 'alice', authenticated: true, tenantId: null })],
      ['time', undefined, expect.objectContaining({ timestamp: expect.any(String), epochMs: expect.any(Number) })],
    ])('client:event %s answers server:response', async (type, data, expected) => {
      const event = waitFor(alice, 'server:response');
      const ack = await emitWithAck(alice, 'client:event', { type, data });
      expect(ack).toEqual({ success: true, requestId: expect.any(String), data: expected });
      expect(await event).toEqual(ack);
    });

    it('client:action rooms lists the rooms the client joined', async () => {
      await emitWithAck(alice, 'room:join', { room: 'lobby' });
      const result = waitFor(alice, 'action:result');
      const ack = await emitWithAck<{ result: { rooms: string[] } }>(alice, 'client:action', { action: 'rooms' });
      expect(ack.result.rooms).toEqual(expect.arrayContaining(['lobby', 'chat-1']));
      expect(ack.result.rooms).not.toContain('user:alice');
      expect(await result).toEqual(ack);
    });

    it('answers an unknown type or action with UNKNOWN_ACTION and no success event', async () => {
      const error = waitFor<SocketErrorPayload>(alice, 'error');
      expect(await emitWithAck(alice, 'client:event', { type: 'launch-rockets' })).toMatchObject({ success: false, code: 'UNKNOWN_ACTION' });
      expect(await error).toMatchObject({ event: 'client:event', code: 'UNKNOWN_ACTION' });
      expect(await emitWithAck(alice, 'client:action', { action: 'nope' })).toMatchObject({ success: false, code: 'UNKNOWN_ACTION' });
    });

    it('client:message acks with message:ack and delivers to metadata.to', async () => {
      const delivered = waitFor(bob, 'client:message');
      const ackEvent = waitFor(alice, 'message:ack');
      const ack = await emitWithAck<{ messageId: string }>(alice, 'client:message', {
        content: 'hi bob',
        type: 'text',
        metadata: { to: 'bob' },
      });
      expect(ack).toEqual({ success: true, requestId: expect.any(String), messageId: expect.any(String) });
      expect(await ackEvent).toEqual(ack);
      expect(await delivered).toEqual({
        messageId: ack.messageId,
        from: 'alice',
        content: 'hi bob',
        type: 'text',
        metadata: { to: 'bob' },
        timestamp: expect.any(String),
      });
    });

    it('client:message delivers to metadata.room for members only', async () => {
      const delivered = waitFor(bob, 'client:message');
      await emitWithAck(alice, 'client:message', { content: 'to room', metadata: { room: 'chat-1' } });
      expect(await delivered).toMatchObject({ content: 'to room', from: 'alice' });
      expect(await emitWithAck(alice, 'client:message', { content: 'x', metadata: { room: 'not-joined' } })).toMatchObject({
        success: false,
        code: 'FORBIDDEN',
      });
    });

    it('answers a message without content with the seed error shape', async () => {
      const error = waitFor<SocketErrorPayload>(alice, 'error');
      untypedEmit(alice, 'client:message', { type: 'text' });
      expect(await error).toEqual({ event: 'client:message', message: expect.stringMatching(/content/), code: 'INVALID_REQUEST' });
    });
  });

  describe('rooms (seed 002 room:*, seed 004 subscribe)', () => {
    it('joins and leaves with acks, and room delivery follows', async () => {
      const joinEvent = waitFor(bob, 'room:join:ack');
      expect(await emitWithAck(bob, 'room:join', { room: 'news' })).toEqual({ success: true, room: 'news' });
      expect(await joinEvent).toEqual({ success: true, room: 'news' });
      const got = waitFor(bob, 'headline');
      expect((await request(t.url).post('/api/room').send({ room: 'news', event: 'headline', data: 1 })).body.recipients).toBe(1);
      expect(await got).toBe(1);
      const leaveEvent = waitFor(bob, 'room:leave:ack');
      expect(await emitWithAck(bob, 'room:leave', { room: 'news' })).toEqual({ success: true, room: 'news' });
      expect(await leaveEvent).toEqual({ success: true, room: 'news' });
      expect((await request(t.url).post('/api/room').send({ room: 'news', event: 'headline', data: 2 })).body.recipients).toBe(0);
    });

    it('subscribe and unsubscribe take a channel name string (seed 004)', async () => {
      expect(await emitWithAck(anon, 'subscribe', 'kafka-events')).toEqual({ success: true, room: 'kafka-events' });
      const got = waitFor(anon, 'kafka-event');
      await request(t.url).post('/api/room').send({ room: 'kafka-events', event: 'kafka-event', data: { topic: 't' } }).expect(200);
      expect(await got).toEqual({ topic: 't' });
      expect(await emitWithAck(anon, 'unsubscribe', 'kafka-events')).toEqual({ success: true, room: 'kafka-events' });
    });

    it.each(['user:alice', 'tenant:acme:user:alice', 'session:123'])(
      'refuses joining the reserved room %s with FORBIDDEN, and nothing pushed there arrives',
      async (room) => {
        const error = waitFor<SocketErrorPayload>(bob, 'error');
        expect(await emitWithAck(bob, 'room:join', { room })).toMatchObject({ success: false, code: 'FORBIDDEN' });
        expect(await error).toMatchObject({ event: 'room:join', code: 'FORBIDDEN' });
        expect(await emitWithAck(bob, 'subscribe', room)).toMatchObject({ success: false, code: 'FORBIDDEN' });
        // Sent to exactly the refused room: a push to alice would only ever test user:alice.
        const toBob = watchUnwanted(bob, ['not-for-bob']);
        await request(t.url).post('/api/room').send({ room, event: 'not-for-bob', data: 1 }).expect(200);
        await toBob.expectNothingBefore();
      },
    );

    it('needs a matching rooms claim for private rooms', async () => {
      expect(await emitWithAck(alice, 'room:join', { room: 'private:team-red' })).toEqual({ success: true, room: 'private:team-red' });
      expect(await emitWithAck(bob, 'room:join', { room: 'private:team-red' })).toMatchObject({ success: false, code: 'FORBIDDEN' });
      expect(await emitWithAck(alice, 'room:join', { room: 'private:other' })).toMatchObject({ success: false, code: 'FORBIDDEN' });
    });

    it('refuses bad room names and more than 100 rooms', async () => {
      expect(await emitWithAck(bob, 'room:join', { room: 'has space' })).toMatchObject({ success: false, code: 'INVALID_REQUEST' });
      expect(await emitWithAck(bob, 'room:join', { room: 'x'.repeat(129) })).toMatchObject({ success: false, code: 'INVALID_REQUEST' });
      const many = await connectClient(t.url, { auth: { token: signToken({ userId: 'many' }) } });
      for (let i = 0; i < 100; i++) await emitWithAck(many, 'room:join', { room: `r-${i}` });
      expect(await emitWithAck(many, 'room:join', { room: 'r-100' })).toMatchObject({ success: false, code: 'FORBIDDEN' });
      expect(await emitWithAck(many, 'room:join', { room: 'r-5' })).toEqual({ success: true, room: 'r-5' });
      many.close();
    });
  });

  describe('bad input', () => {
    it('answers every malformed payload with error and an ack failure, and never disconnects', async () => {
      const cases: [string, unknown][] = [
        ['register', 'not-an-object'],
        ['room:join', { room: 42 }],
        ['client:event', {}],
        ['client:action', { action: '' }],
        ['subscribe', { channel: 'x' }],
        ['auth:refresh', null],
        ['ping', 'x'],
      ];
      for (const [event, payload] of cases) {
        const reply = await emitWithAck(bob, event, payload);
        expect(reply, event).toMatchObject({ success: false, code: 'INVALID_REQUEST' });
      }
      expect(bob.connected).toBe(true);
    });

    it('answers an event nobody handles instead of dropping it', async () => {
      const error = waitFor<SocketErrorPayload>(bob, 'error');
      untypedEmit(bob, 'no-such-event', {});
      expect(await error).toMatchObject({ event: 'no-such-event', code: 'INVALID_REQUEST', message: 'Unknown event: no-such-event' });
    });
  });

  describe('REST views of sockets', () => {
    it('GET /api/users/:userId/presence', async () => {
      expect((await request(t.url).get('/api/users/alice/presence').expect(200)).body).toEqual({ userId: 'alice', online: true, connections: 1 });
      expect((await request(t.url).get('/api/users/nobody/presence').expect(200)).body).toEqual({ userId: 'nobody', online: false, connections: 0 });
    });

    it('GET /api/connections lists sockets with their user, machine and rooms', async () => {
      const res = await request(t.url).get('/api/connections').expect(200);
      expect(res.body.count).toBe(3);
      const carol = res.body.connections.find((c: { userId: string }) => c.userId === 'carol');
      expect(carol).toMatchObject({ socketId: anon.id, machineId: 'machine-1', authenticated: false, connectedAt: expect.any(String) });
      const onlyAlice = await request(t.url).get('/api/connections?userId=alice&limit=5').expect(200);
      expect(onlyAlice.body.connections).toEqual([expect.objectContaining({ userId: 'alice', authenticated: true, rooms: expect.arrayContaining(['lobby']) })]);
      expect((await request(t.url).get('/api/connections?limit=0').expect(400)).body.code).toBe('INVALID_REQUEST');
    });

    it('GET /socket/status (seed 004)', async () => {
      const res = await request(t.url).get('/socket/status').expect(200);
      expect(res.body).toMatchObject({
        ok: true,
        socketio: { ready: true, connectedUsers: 3, totalConnections: 3, endpoint: expect.stringMatching(/^ws:\/\//) },
        events: expect.arrayContaining(['notification', 'connected', 'pong']),
        rooms: expect.arrayContaining(['user:{userId}']),
        message: expect.any(String),
      });
    });

    it('GET /socket/connections with a user Bearer token (seed 004)', async () => {
      const res = await request(t.url).get('/socket/connections').set('Authorization', `Bearer ${signToken({ userId: 'alice' })}`).expect(200);
      expect(res.body).toEqual({ ok: true, you: { userId: 'alice', connected: true }, server: { connectedUsers: 3, totalConnections: 3 } });
      expect((await request(t.url).get('/socket/connections').expect(401)).body.code).toBe('UNAUTHORIZED');
      const expired = signToken({ userId: 'alice' }, { ttlSeconds: -100 });
      expect((await request(t.url).get('/socket/connections').set('Authorization', `Bearer ${expired}`).expect(401)).body.code).toBe('TOKEN_EXPIRED');
    });
  });
});

describe('tenant isolation', () => {
  it('keeps two tenants users with the same id apart', async () => {
    const t = await startServer({ JWT_SECRET: TEST_SECRET });
    const acme = await connectClient(t.url, { auth: { token: signToken({ userId: 'u1', tenantId: 'acme' }) } });
    const globex = await connectClient(t.url, { auth: { token: signToken({ userId: 'u1', tenantId: 'globex' }) } });
    const plain = await connectClient(t.url, { auth: { token: signToken({ userId: 'u1' }) } });
    try {
      const got = waitFor(acme, 'invoice');
      const toGlobex = watchUnwanted(globex, ['invoice']);
      const toPlain = watchUnwanted(plain, ['invoice']);
      const res = await request(t.url).post('/api/push').send({ userId: 'u1', tenantId: 'acme', event: 'invoice', data: 1 }).expect(200);
      expect(res.body.recipients).toBe(1);
      expect(await got).toBe(1);
      await toGlobex.expectNothingBefore();
      await toPlain.expectNothingBefore();
      const noTenant = await request(t.url).post('/api/push').send({ userId: 'u1', event: 'plain', data: 1 }).expect(200);
      expect(noTenant.body.recipients).toBe(1);
      expect(await emitWithAck(acme, 'room:join', { room: 'tenant:globex:user:u1' })).toMatchObject({ code: 'FORBIDDEN' });
      const presence = await request(t.url).get('/api/users/u1/presence?tenantId=globex').expect(200);
      expect(presence.body).toEqual({ userId: 'u1', online: true, connections: 1 });
    } finally {
      for (const socket of [acme, globex, plain]) socket.close();
      await t.close();
    }
  });
});

describe('per-connection limits and origins', () => {
  it('answers events over RATE_LIMIT_WS_MESSAGES_PER_MINUTE with RATE_LIMITED, and disconnects a socket flooding at twice the limit', async () => {
    const t = await startServer({ RATE_LIMIT_WS_MESSAGES_PER_MINUTE: '5' });
    try {
      const socket = await connectClient(t.url);
      for (let i = 0; i < 5; i++) expect(await emitWithAck(socket, 'ping', {})).toMatchObject({ timestamp: expect.any(String) });
      const error = waitFor<SocketErrorPayload>(socket, 'error');
      const limited = await emitWithAck<{ retryAfter: number }>(socket, 'ping', {});
      expect(limited).toMatchObject({ success: false, code: 'RATE_LIMITED' });
      expect(limited.retryAfter).toBeGreaterThan(0);
      expect(await error).toMatchObject({ event: 'ping', code: 'RATE_LIMITED', retryAfter: expect.any(Number) });
      const disconnected = waitFor<string>(socket, 'disconnect');
      for (let i = 0; i < 5; i++) socket.emit('ping', {});
      expect(await disconnected).toBe('io server disconnect');
    } finally {
      await t.close();
    }
  });

  it('checks Origin on the WebSocket upgrade', async () => {
    const t = await startServer({ ALLOWED_ORIGINS: 'https://app.example.com' });
    try {
      (await connectClient(t.url, { extraHeaders: { Origin: 'https://app.example.com' } })).close();
      (await connectClient(t.url)).close();
      const evil: TestSocket = io(t.url, { transports: ['websocket'], forceNew: true, reconnection: false, extraHeaders: { Origin: 'https://evil.example.net' } });
      await waitFor(evil, 'connect_error');
      expect(evil.connected).toBe(false);
      evil.close();
    } finally {
      await t.close();
    }
  });
});
