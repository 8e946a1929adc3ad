import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KafkaEventPayload } from '../../src/contracts/events.js';
import { connectClient, emitWithAck, waitFor, watchUnwanted, type TestSocket } from '../support/client.js';
import { startServer, type TestServer } from '../support/server.js';
import { TEST_SECRET, signToken } from '../support/tokens.js';

/**
 * Seed 004's `kafka-events` monitoring channel: who may subscribe (development: any
 * identified socket; production: a token whose `rooms` claim grants it), and the exact
 * `kafka-event` each delivery endpoint mirrors to it.
 */

const KEY = 'event-stream-key-0123456789';
const ISO = expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

const sockets: TestSocket[] = [];
async function connect(url: string, auth?: Record<string, unknown>): Promise<TestSocket> {
  const socket = await connectClient(url, auth === undefined ? {} : { auth });
  sockets.push(socket);
  return socket;
}
afterAll(() => {
  for (const socket of sockets) socket.close();
});

describe('subscribing to kafka-events in development', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startServer({ JWT_SECRET: TEST_SECRET, API_KEYS: KEY });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('lets a socket with a token subscribe (seed 004: subscribe with the channel name), and unsubscribe', async () => {
    const monitor = await connect(t.url, { token: signToken({ userId: 'dev-monitor' }) });
    expect(await emitWithAck(monitor, 'subscribe', 'kafka-events')).toEqual({ success: true, room: 'kafka-events' });
    expect(await emitWithAck(monitor, 'unsubscribe', 'kafka-events')).toEqual({ success: true, room: 'kafka-events' });
    // room:join is the same door.
    expect(await emitWithAck(monitor, 'room:join', { room: 'kafka-events' })).toEqual({ success: true, room: 'kafka-events' });
  });

  it('refuses an anonymous socket with FORBIDDEN (ack, and the error event), until it registers', async () => {
    const anonymous = await connect(t.url);
    const errorEvent = waitFor(anonymous, 'error');
    expect(await emitWithAck(anonymous, 'subscribe', 'kafka-events')).toEqual({
      success: false,
      error: expect.stringMatching(/Identify first/),
      code: 'FORBIDDEN',
      requestId: expect.any(String),
    });
    expect(await errorEvent).toMatchObject({ event: 'subscribe', code: 'FORBIDDEN' });
    await emitWithAck(anonymous, 'register', { userId: 'registered-monitor' });
    expect(await emitWithAck(anonymous, 'subscribe', 'kafka-events')).toEqual({ success: true, room: 'kafka-events' });
  });
});

describe('subscribing to kafka-events in production', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startServer({ NODE_ENV: 'production', API_KEYS: 'production-key-0123456789', JWT_SECRET: TEST_SECRET });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('refuses a token without a matching rooms claim with FORBIDDEN', async () => {
    for (const claims of [{ userId: 'plain' }, { userId: 'private-only', rooms: ['private:*'] }, { userId: 'other', rooms: ['kafka-event'] }]) {
      const socket = await connect(t.url, { token: signToken(claims) });
      expect(await emitWithAck(socket, 'subscribe', 'kafka-events'), JSON.stringify(claims)).toMatchObject({
        success: false,
        code: 'FORBIDDEN',
        error: 'kafka-events needs a matching rooms claim in the token',
      });
      expect(await emitWithAck(socket, 'room:join', { room: 'kafka-events' })).toMatchObject({ success: false, code: 'FORBIDDEN' });
    }
  });

  it('lets a token whose rooms claim grants kafka-events (exactly or by pattern) subscribe, and it receives the mirror', async () => {
    for (const rooms of [['kafka-events'], ['kafka-*']]) {
      const socket = await connect(t.url, { token: signToken({ userId: `ops-${rooms[0]}`, rooms }) });
      expect(await emitWithAck(socket, 'subscribe', 'kafka-events')).toEqual({ success: true, room: 'kafka-events' });
      const mirrored = waitFor<KafkaEventPayload>(socket, 'kafka-event');
      await request(t.url).post('/api/broadcast').set('X-API-Key', 'production-key-0123456789').send({ event: 'prod:check', data: { n: 1 } }).expect(200);
      expect(await mirrored).toMatchObject({ topic: 'api.broadcast', event: { event: 'prod:check', data: { n: 1 } } });
      socket.close();
    }
  });
});

describe('what kafka-event carries for each delivery', () => {
  let t: TestServer;
  let monitor: TestSocket;
  let bystander: TestSocket;
  let user: TestSocket;
  beforeAll(async () => {
    t = await startServer({ JWT_SECRET: TEST_SECRET, API_KEYS: KEY, RATE_LIMIT_HTTP_PER_MINUTE: '100000' });
    monitor = await connect(t.url, { token: signToken({ userId: 'monitor' }) });
    await emitWithAck(monitor, 'subscribe', 'kafka-events');
    bystander = await connect(t.url, { token: signToken({ userId: 'bystander' }) });
    user = await connect(t.url, { token: signToken({ userId: 'mirror-user' }) });
    await emitWithAck(user, 'room:join', { room: 'mirror-room' });
  });
  afterAll(async () => {
    await t?.close();
  });

  const post = (path: string, body: object) => request(t.url).post(path).set('X-API-Key', KEY).send(body).expect(200);

  it('POST /notify → topic notify: the notification as delivered, with the recipients', async () => {
    const mirrored = waitFor<KafkaEventPayload>(monitor, 'kafka-event');
    const res = await post('/notify', { title: 'Hello', message: 'everyone' });
    expect(await mirrored).toEqual({
      topic: 'notify',
      event: {
        event: 'notification',
        data: { title: 'Hello', message: 'everyone', id: res.body.id, timestamp: res.body.timestamp },
        recipients: 3,
      },
      timestamp: ISO,
    });
  });

  it('POST /api/push → topic api.push: event, data, users, tenant, recipients, and the stored ids', async () => {
    const live = waitFor<KafkaEventPayload>(monitor, 'kafka-event');
    await post('/api/push', { userId: 'mirror-user', event: 'order:shipped', data: { orderId: 7 } });
    expect(await live).toEqual({
      topic: 'api.push',
      event: { event: 'order:shipped', data: { orderId: 7 }, userIds: ['mirror-user'], recipients: 1 },
      timestamp: ISO,
    });

    const stored = waitFor<KafkaEventPayload>(monitor, 'kafka-event');
    const res = await post('/api/push', { userIds: ['mirror-user', 'offline-user'], tenantId: 'acme', persist: true, data: { title: 'Stored' } });
    expect(await stored).toEqual({
      topic: 'api.push',
      event: {
        event: 'notification',
        data: { title: 'Stored' },
        userIds: ['mirror-user', 'offline-user'],
        tenantId: 'acme',
        recipients: 0,
        notificationIds: res.body.notificationIds,
      },
      timestamp: ISO,
    });
  });

  it('an idempotent retry delivers nothing and mirrors nothing (the next kafka-event is the next delivery)', async () => {
    const body = { userId: 'mirror-user', persist: true, idempotencyKey: 'mirror-retry-1', data: { title: 'Once' } };
    const first = waitFor<KafkaEventPayload>(monitor, 'kafka-event');
    await post('/api/push', body);
    expect(await first).toMatchObject({ topic: 'api.push', event: { data: { title: 'Once' } } });
    // The first kafka-event after the retry must be the sentinel delivery's own.
    const next = waitFor<KafkaEventPayload>(monitor, 'kafka-event');
    const retry = await post('/api/push', body);
    expect(retry.headers['idempotent-replayed']).toBe('true');
    await post('/api/room', { room: 'nobody-here', event: 'sentinel', data: {} });
    expect(await next).toMatchObject({ topic: 'api.room', event: { event: 'sentinel' } });
  });

  it('POST /api/broadcast → topic api.broadcast; POST /api/room → topic api.room with the room', async () => {
    const broadcast = waitFor<KafkaEventPayload>(monitor, 'kafka-event');
    await post('/api/broadcast', { event: 'system:notice', data: { text: 'maintenance' } });
    expect(await broadcast).toEqual({
      topic: 'api.broadcast',
      event: { event: 'system:notice', data: { text: 'maintenance' }, recipients: 3 },
      timestamp: ISO,
    });

    const room = waitFor<KafkaEventPayload>(monitor, 'kafka-event');
    await post('/api/room', { room: 'mirror-room', event: 'headline', data: 'big' });
    expect(await room).toEqual({
      topic: 'api.room',
      event: { event: 'headline', data: 'big', room: 'mirror-room', recipients: 1 },
      timestamp: ISO,
    });
  });

  it('reaches only subscribed sockets, and stops at unsubscribe', async () => {
    const watch = watchUnwanted(bystander, ['kafka-event']);
    const reachedMonitor = waitFor<KafkaEventPayload>(monitor, 'kafka-event');
    await post('/api/push', { userId: 'bystander', event: 'for:bystander', data: {} });
    await reachedMonitor;
    // The bystander got its own push (after which a kafka-event would already have come).
    await watch.expectNothingBefore(() => emitWithAck(bystander, 'ping', {}));

    const late = await connect(t.url, { token: signToken({ userId: 'late-monitor' }) });
    await emitWithAck(late, 'subscribe', 'kafka-events');
    await emitWithAck(late, 'unsubscribe', 'kafka-events');
    const afterLeaving = watchUnwanted(late, ['kafka-event']);
    const monitorGot = waitFor<KafkaEventPayload>(monitor, 'kafka-event');
    await post('/api/broadcast', { event: 'after:unsubscribe', data: {} });
    await monitorGot;
    // The broadcast itself reaches `late` after any kafka-event the server would have sent it.
    await afterLeaving.expectNothingBefore(() => emitWithAck(late, 'ping', {}));
  });

  it('GET /socket/status lists kafka-event and kafka-events as seed 004 does', async () => {
    const res = await request(t.url).get('/socket/status').expect(200);
    expect(res.body.events).toEqual(expect.arrayContaining(['notification', 'connected', 'pong', 'kafka-event']));
    expect(res.body.rooms).toEqual(expect.arrayContaining(['user:{userId}', 'kafka-events']));
  });
});
