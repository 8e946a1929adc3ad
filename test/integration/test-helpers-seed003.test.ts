import { io } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AckFailure, SocketErrorPayload } from '../../src/contracts/error-codes.js';
import type { NotificationListReply, NotificationRecord, UnreadCountPayload } from '../../src/contracts/events.js';
import type { TestNotificationReply } from '../../src/contracts/test-helpers.js';
import { connectClient, emitWithAck, waitFor, watchUnwanted, type TestSocket } from '../support/client.js';
import { restartServer, startServer, type TestServer } from '../support/server.js';
import { TEST_SECRET, signToken } from '../support/tokens.js';

/**
 * Seed 003's `test:notification` over real sockets: the seed's own emit (no ack), and with
 * an ack. The notification is stored in the caller's inbox (it survives a restart) and
 * reaches every socket of the caller, and only the caller, as `notification:new` and
 * `notification:unread-count`; the answer is `{ success: true, notification }` on the ack
 * and on `test:notification:ack`.
 */

/** The seed's example, exactly. */
const SEED_PAYLOAD = { type: 'job_assigned', priority: 'HIGH', title: 'Test Notification', message: 'This is a test' } as const;
const INBOX_EVENTS = ['notification', 'notification:new', 'notification:unread-count'];
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

let t: TestServer;
const sockets: TestSocket[] = [];

beforeAll(async () => {
  t = await startServer({ JWT_SECRET: TEST_SECRET, ALLOW_ANONYMOUS: 'true' });
});
afterAll(async () => {
  for (const socket of sockets) socket.close();
  await t?.close();
});

/** Seed 003's client: `auth: { token, tenantId }`. Resolves with the socket and the count it was sent on connect. */
async function connectAs(userId: string, tenantId?: string): Promise<{ socket: TestSocket; count: number }> {
  const token = signToken(tenantId === undefined ? { userId } : { userId, tenantId });
  const socket: TestSocket = io(t.url, { transports: ['websocket'], reconnection: false, forceNew: true, auth: { token, tenantId } });
  sockets.push(socket);
  const count = waitFor<UnreadCountPayload>(socket, 'notification:unread-count');
  await waitFor(socket, 'connect');
  return { socket, count: (await count).count };
}

/** Emits with an ack and resolves with it; the reply event must carry the same object. */
async function ask<T>(socket: TestSocket, payload?: unknown): Promise<T> {
  const reply = waitFor<T>(socket, 'test:notification:ack');
  const ack = payload === undefined ? await emitWithAck<T>(socket, 'test:notification') : await emitWithAck<T>(socket, 'test:notification', payload);
  expect(await reply).toEqual(ack);
  return ack;
}

const recordOf = (userId: string, fields: Record<string, unknown>) => ({
  id: expect.any(String),
  userId,
  ...fields,
  event: 'notification',
  createdAt: expect.stringMatching(ISO),
  readAt: null,
});

describe('test:notification', () => {
  it("seed 003's emit, with no ack: notification:new and the count on both of the caller's sockets, and the reply event", async () => {
    const phone = await connectAs('dj-7');
    const laptop = await connectAs('dj-7');
    const onBoth = [phone, laptop].map(({ socket }) => ({
      created: waitFor<NotificationRecord>(socket, 'notification:new'),
      count: waitFor<UnreadCountPayload>(socket, 'notification:unread-count'),
    }));
    const reply = waitFor<TestNotificationReply>(phone.socket, 'test:notification:ack');
    phone.socket.emit('test:notification', SEED_PAYLOAD);

    const { notification } = await reply;
    expect(await reply).toEqual({ success: true, notification: recordOf('dj-7', SEED_PAYLOAD) });
    for (const seen of onBoth) {
      expect(await seen.created).toEqual(notification);
      expect(await seen.count).toEqual({ count: 1 });
    }
    const page = await emitWithAck<NotificationListReply>(laptop.socket, 'notification:list', {});
    expect(page).toMatchObject({ success: true, unreadCount: 1, notifications: [notification] });
  });

  it('with an ack: the same answer there; the `notification` event carries it in seed 004 shape', async () => {
    const { socket } = await connectAs('acker');
    const live = waitFor<Record<string, unknown>>(socket, 'notification');
    const reply = await ask<TestNotificationReply>(socket, { ...SEED_PAYLOAD, data: { jobId: 5 } });
    expect(reply).toEqual({ success: true, notification: recordOf('acker', { ...SEED_PAYLOAD, data: { jobId: 5 } }) });
    const id = reply.notification.id;
    expect(await live).toEqual({ ...SEED_PAYLOAD, data: { jobId: 5 }, timestamp: expect.stringMatching(ISO), id, notificationId: id });
  });

  it('reaches only the caller: not another user, nor the same user id in another tenant', async () => {
    const caller = await connectAs('crew', 'studio-a');
    const otherTenant = await connectAs('crew', 'studio-b');
    const noTenant = await connectAs('crew');
    const stranger = await connectAs('someone-else', 'studio-a');
    const watches = [otherTenant.socket, noTenant.socket, stranger.socket].map((socket) => watchUnwanted(socket, INBOX_EVENTS));
    const reply = await ask<TestNotificationReply>(caller.socket, SEED_PAYLOAD);
    expect(reply.notification).toMatchObject({ userId: 'crew', tenantId: 'studio-a' });
    for (const watch of watches) await watch.expectNothingBefore();
    for (const other of [otherTenant, noTenant, stranger]) {
      expect(await emitWithAck(other.socket, 'notification:list', {})).toMatchObject({ notifications: [], unreadCount: 0 });
    }
  });

  it('fills what the payload leaves out: type info, a test title and message; no payload at all too', async () => {
    const { socket } = await connectAs('lazy');
    const defaults = { type: 'info', title: '🧪 Test Notification', message: 'This is a test notification via Socket.IO!' };
    expect(await ask(socket)).toEqual({ success: true, notification: recordOf('lazy', defaults) });
    expect(await ask(socket, {})).toEqual({ success: true, notification: recordOf('lazy', defaults) });
    expect(await ask(socket, { type: '', title: '', message: '' })).toEqual({ success: true, notification: recordOf('lazy', defaults) });
  });

  it.each([
    ['a priority the inbox does not know', { ...SEED_PAYLOAD, priority: 'SOON' }],
    ['a type over 32 characters', { ...SEED_PAYLOAD, type: 'x'.repeat(33) }],
    ['a title that is not text', { ...SEED_PAYLOAD, title: { $ne: null } }],
    ['a payload that is not an object', 'notify me'],
  ])('refuses %s with INVALID_REQUEST on the ack, the reply event and `error`, storing nothing', async (_what, payload) => {
    const { socket } = await connectAs('careless');
    const error = waitFor<SocketErrorPayload>(socket, 'error');
    const nothing = watchUnwanted(socket, INBOX_EVENTS);
    const failure = await ask<AckFailure>(socket, payload);
    expect(failure).toMatchObject({ success: false, code: 'INVALID_REQUEST', requestId: expect.any(String) });
    expect(await error).toMatchObject({ event: 'test:notification', code: 'INVALID_REQUEST' });
    await nothing.expectNothingBefore();
    expect(await emitWithAck(socket, 'notification:list', {})).toMatchObject({ notifications: [], unreadCount: 0 });
  });

  it('an anonymous socket has no inbox (UNAUTHORIZED) until it registers a user', async () => {
    const socket = await connectClient(t.url);
    sockets.push(socket);
    expect(await ask(socket, SEED_PAYLOAD)).toMatchObject({ success: false, code: 'UNAUTHORIZED' });
    await emitWithAck(socket, 'register', { userId: 'registered-dj' });
    expect(await ask(socket, SEED_PAYLOAD)).toEqual({ success: true, notification: recordOf('registered-dj', SEED_PAYLOAD) });
  });
});

it('an acknowledged test notification is stored: it is there after a restart', async () => {
  const { socket } = await connectAs('durable');
  const { notification } = await ask<TestNotificationReply>(socket, SEED_PAYLOAD);
  socket.close();
  t = await restartServer(t, { JWT_SECRET: TEST_SECRET, ALLOW_ANONYMOUS: 'true' });
  const again = await connectAs('durable');
  expect(again.count).toBe(1);
  expect(await emitWithAck(again.socket, 'notification:list', {})).toMatchObject({ notifications: [notification] });
});
