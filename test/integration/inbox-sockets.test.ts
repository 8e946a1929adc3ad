import { io } from 'socket.io-client';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AckFailure, SocketErrorPayload } from '../../src/contracts/error-codes.js';
import type {
  MarkedReadPayload,
  NotificationListReply,
  NotificationReadReply,
  NotificationRecord,
  UnreadCountPayload,
} from '../../src/contracts/events.js';
import { connectClient, emitWithAck, waitFor, watchUnwanted, type TestSocket } from '../support/client.js';
import { startServer, type TestServer } from '../support/server.js';
import { TEST_SECRET, signToken } from '../support/tokens.js';

/**
 * The notification inbox over sockets (seed 003): list, read, read-all and delete, each on
 * its ack and its reply event; the change reaching every socket of the user; the unread
 * count on connect and on register; and nothing at all for an id that is not yours.
 */

/** What an inbox change sends to the user's sockets: none of it may reach anyone when a request is refused. */
const INBOX_CHANGES = ['notification:marked-read', 'notification:deleted', 'notification:unread-count', 'notification:new'];

let t: TestServer;
const sockets: TestSocket[] = [];

beforeAll(async () => {
  // Anonymous sockets allowed: `register` binding a user is one of the behaviours tested.
  // More HTTP requests than the default per-minute limit store the notifications.
  t = await startServer({ JWT_SECRET: TEST_SECRET, ALLOW_ANONYMOUS: 'true', RATE_LIMIT_HTTP_PER_MINUTE: '100000' });
});
afterAll(async () => {
  for (const socket of sockets) socket.close();
  await t?.close();
});

/** Stores one notification per call for `userId` (in `tenantId`) and resolves with its id. */
async function store(userId: string, title: string, tenantId?: string): Promise<string> {
  const res = await request(t.url)
    .post('/api/push')
    .send({ userId, ...(tenantId === undefined ? {} : { tenantId }), persist: true, data: { type: 'info', title, message: `${title} body` } })
    .expect(200);
  const ids = (res.body as { notificationIds?: string[] }).notificationIds;
  expect(ids).toHaveLength(1);
  return ids![0]!;
}

/** Connects as `userId` and resolves with the socket and the unread count it was sent on connect. */
async function connectAs(userId: string, tenantId?: string): Promise<{ socket: TestSocket; count: number }> {
  const token = signToken(tenantId === undefined ? { userId } : { userId, tenantId });
  const socket: TestSocket = io(t.url, { transports: ['websocket'], reconnection: false, forceNew: true, auth: { token } });
  sockets.push(socket);
  // Listening before the connection exists: the count may come in the same read as CONNECT.
  const count = waitFor<UnreadCountPayload>(socket, 'notification:unread-count');
  await waitFor(socket, 'connect');
  return { socket, count: (await count).count };
}

/** Sends `event` with an ack and resolves with both the ack and the reply event, which must be equal. */
async function ask<T>(socket: TestSocket, event: string, payload: unknown): Promise<T> {
  const reply = waitFor<T>(socket, `${event}:ack`);
  const ack = await emitWithAck<T>(socket, event, payload);
  expect(await reply).toEqual(ack);
  return ack;
}

const list = (socket: TestSocket, payload: unknown = {}) => ask<NotificationListReply>(socket, 'notification:list', payload);

describe('notification:list', () => {
  it('pages the inbox newest first with nextBefore, filters unread, and gives the exact unread count', async () => {
    const ids = [await store('lister', 'one'), await store('lister', 'two'), await store('lister', 'three')];
    const { socket, count } = await connectAs('lister');
    expect(count).toBe(3);

    const first = await list(socket, { limit: 2 });
    expect(first).toMatchObject({ success: true, unreadCount: 3, nextBefore: expect.any(String) });
    expect(first.notifications.map((n) => n.title)).toEqual(['three', 'two']);
    expect(first.notifications[0]).toMatchObject({ id: ids[2], userId: 'lister', type: 'info', message: 'three body', event: 'notification', readAt: null });

    const second = await list(socket, { limit: 2, before: first.nextBefore });
    expect(second.notifications.map((n) => n.id)).toEqual([ids[0]]);
    expect(second.nextBefore).toBeUndefined();

    await ask(socket, 'notification:read', { notificationId: ids[1] });
    const unread = await list(socket, { unreadOnly: true });
    expect(unread.notifications.map((n) => n.id)).toEqual([ids[2], ids[0]]);
    expect(unread.unreadCount).toBe(2);
  });

  it('lists 20 by default, with no payload at all', async () => {
    const { socket } = await connectAs('default-page');
    for (let i = 0; i < 21; i++) await store('default-page', `n${i}`);
    const reply = waitFor<NotificationListReply>(socket, 'notification:list:ack');
    socket.emit('notification:list');
    const page = await reply;
    expect(page.notifications).toHaveLength(20);
    expect(page.unreadCount).toBe(21);
    expect(page.nextBefore).toBeDefined();
  });

  it.each([
    ['a limit over 100', { limit: 101 }],
    ['a limit of 0', { limit: 0 }],
    ['a before that is not an id', { before: { $gt: '' } }],
    ['an unreadOnly that is not a boolean', { unreadOnly: 'yes' }],
  ])('refuses %s with INVALID_REQUEST on the ack, the reply event and error', async (_case, payload) => {
    const { socket } = await connectAs('bad-lister');
    const error = waitFor<SocketErrorPayload>(socket, 'error');
    const failure = await ask<AckFailure>(socket, 'notification:list', payload);
    expect(failure).toMatchObject({ success: false, code: 'INVALID_REQUEST' });
    expect(await error).toMatchObject({ event: 'notification:list', code: 'INVALID_REQUEST' });
  });
});

describe('two sockets of one user stay in sync', () => {
  it('read on one: both get notification:marked-read then the new count; the reader also its ack', async () => {
    const ids = [await store('sync', 'a'), await store('sync', 'b'), await store('sync', 'c')];
    const phone = await connectAs('sync');
    const laptop = await connectAs('sync');
    expect([phone.count, laptop.count]).toEqual([3, 3]);

    const laptopMarked = waitFor<MarkedReadPayload>(laptop.socket, 'notification:marked-read');
    const laptopCount = waitFor<UnreadCountPayload>(laptop.socket, 'notification:unread-count');
    const phoneCount = waitFor<UnreadCountPayload>(phone.socket, 'notification:unread-count');
    const read = await ask<NotificationReadReply>(phone.socket, 'notification:read', { notificationId: ids[0] });
    expect(read).toEqual({ success: true, notificationId: ids[0], changed: 1, readAt: expect.any(String) });
    expect(await laptopMarked).toEqual({ notificationIds: [ids[0]], readAt: read.readAt });
    expect(await laptopCount).toEqual({ count: 2 });
    expect(await phoneCount).toEqual({ count: 2 });
    expect((await list(laptop.socket)).notifications.find((n) => n.id === ids[0])?.readAt).toBe(read.readAt);

    // Read again: nothing changes, nobody is told.
    const quiet = watchUnwanted(laptop.socket, INBOX_CHANGES);
    expect(await ask(phone.socket, 'notification:read', { notificationId: ids[0] })).toMatchObject({ success: true, changed: 0 });
    await quiet.expectNothingBefore();

    const deleted = waitFor(laptop.socket, 'notification:deleted');
    const afterDelete = waitFor<UnreadCountPayload>(laptop.socket, 'notification:unread-count');
    expect(await ask(phone.socket, 'notification:delete', { notificationId: ids[1] })).toEqual({ success: true, notificationId: ids[1] });
    expect(await deleted).toEqual({ notificationId: ids[1] });
    expect(await afterDelete).toEqual({ count: 1 });
    expect((await list(phone.socket)).notifications.map((n) => n.id)).toEqual([ids[2], ids[0]]);

    const all = waitFor<MarkedReadPayload>(laptop.socket, 'notification:marked-read');
    const zero = waitFor<UnreadCountPayload>(laptop.socket, 'notification:unread-count');
    const readAll = await ask(phone.socket, 'notification:read-all', {});
    expect(readAll).toEqual({ success: true, all: true, changed: 1, readAt: expect.any(String) });
    expect(await all).toEqual({ all: true, changed: 1, readAt: expect.any(String) });
    expect(await zero).toEqual({ count: 0 });
    expect((await list(laptop.socket, { unreadOnly: true })).notifications).toEqual([]);
  });

  it('a change made over REST reaches the sockets with the same events', async () => {
    const id = await store('rest-sync', 'over rest');
    const { socket } = await connectAs('rest-sync');
    const marked = waitFor<MarkedReadPayload>(socket, 'notification:marked-read');
    const count = waitFor<UnreadCountPayload>(socket, 'notification:unread-count');
    await request(t.url).post('/api/users/rest-sync/notifications/read').send({ ids: [id] }).expect(200);
    expect(await marked).toMatchObject({ notificationIds: [id] });
    expect(await count).toEqual({ count: 0 });
  });
});

describe('ids as the client has them', () => {
  it('accepts the id as the number seed 003 clients hold, and compares it as a string', async () => {
    const id = await store('numeric', 'numbered');
    // The stores give decimal ids; a client that parsed one to a number sends it back so.
    expect(id).toMatch(/^[1-9]\d*$/);
    const { socket } = await connectAs('numeric');
    expect(await ask(socket, 'notification:read', { notificationId: 987654321 })).toMatchObject({ success: false, code: 'NOT_FOUND' });
    const read = await ask<NotificationReadReply>(socket, 'notification:read', { notificationId: Number(id) });
    expect(read).toMatchObject({ success: true, notificationId: id, changed: 1 });
    expect(await ask(socket, 'notification:delete', { notificationId: Number(id) })).toEqual({ success: true, notificationId: id });
  });

  it.each([
    ['a negative number', -1],
    ['a fraction', 1.5],
    ['an object', { $ne: null }],
    ['an empty string', ''],
    ['a path', '../x'],
  ])('refuses %s as an id with INVALID_REQUEST', async (_case, notificationId) => {
    const { socket } = await connectAs('id-shapes');
    for (const event of ['notification:read', 'notification:delete']) {
      expect(await ask(socket, event, { notificationId })).toMatchObject({ success: false, code: 'INVALID_REQUEST' });
    }
  });
});

describe("someone else's notification", () => {
  it('is NOT_FOUND for read and delete, changes nothing, and tells nobody', async () => {
    const victimId = await store('victim', 'private');
    const victim = await connectAs('victim');
    const sameIdOtherTenant = await connectAs('victim', 'elsewhere');
    const thief = await connectAs('thief');
    const thiefSecond = await connectAs('thief');
    const unknownId = '999999999';

    for (const [event, notificationId] of [
      ['notification:read', victimId],
      ['notification:delete', victimId],
      ['notification:read', unknownId],
      ['notification:delete', unknownId],
    ] as const) {
      for (const actor of [thief.socket, sameIdOtherTenant.socket]) {
        const watches = [victim.socket, thiefSecond.socket, sameIdOtherTenant.socket, thief.socket].map((socket) => watchUnwanted(socket, INBOX_CHANGES));
        const error = waitFor<SocketErrorPayload>(actor, 'error');
        expect(await ask(actor, event, { notificationId })).toMatchObject({ success: false, code: 'NOT_FOUND', requestId: expect.any(String) });
        expect(await error).toMatchObject({ event, code: 'NOT_FOUND' });
        for (const watch of watches) await watch.expectNothingBefore();
      }
    }

    const page = await list(victim.socket);
    expect(page.notifications).toEqual([expect.objectContaining({ id: victimId, readAt: null })]);
    expect(page.unreadCount).toBe(1);
  });

  it('read-all and list reach only the socket owner and tenant', async () => {
    await store('tenant-user', 'in t1', 't1');
    await store('tenant-user', 'no tenant');
    const inT1 = await connectAs('tenant-user', 't1');
    const inT2 = await connectAs('tenant-user', 't2');
    const plain = await connectAs('tenant-user');
    expect([inT1.count, inT2.count, plain.count]).toEqual([1, 0, 1]);
    expect((await list(inT1.socket)).notifications.map((n: NotificationRecord) => [n.title, n.tenantId])).toEqual([['in t1', 't1']]);
    expect((await list(inT2.socket)).notifications).toEqual([]);

    const untouched = [inT1.socket, plain.socket].map((socket) => watchUnwanted(socket, INBOX_CHANGES));
    expect(await ask(inT2.socket, 'notification:read-all', {})).toMatchObject({ success: true, changed: 0 });
    for (const watch of untouched) await watch.expectNothingBefore();
    expect((await list(inT1.socket)).unreadCount).toBe(1);
    expect((await list(plain.socket)).unreadCount).toBe(1);
  });
});

describe('the unread count when a socket gets its user', () => {
  it('is exact on connect, not capped at 100', async () => {
    for (let i = 0; i < 101; i++) await store('many', `n${i}`);
    expect((await connectAs('many')).count).toBe(101);
  });

  it('is 0 for a user with an empty inbox', async () => {
    expect((await connectAs('nobody-wrote')).count).toBe(0);
  });

  it.each([
    ['register', { userId: 'registers' }, 'register:ack'],
    ['register_user', { userId: 'registers-user', machineId: 'm1' }, 'registration_success'],
  ])('comes after %s binds an anonymous socket to a user', async (event, payload, replyEvent) => {
    await store(payload.userId, 'before register');
    await store(payload.userId, 'before register, again');
    const socket = await connectClient(t.url);
    sockets.push(socket);
    const count = waitFor<UnreadCountPayload>(socket, 'notification:unread-count');
    const reply = waitFor(socket, replyEvent);
    socket.emit(event as 'register', payload);
    await reply;
    expect(await count).toEqual({ count: 2 });
  });

  it('is not sent to an anonymous socket, which is refused with UNAUTHORIZED', async () => {
    const socket = await connectClient(t.url);
    sockets.push(socket);
    const watch = watchUnwanted(socket, ['notification:unread-count']);
    for (const [event, payload] of [
      ['notification:list', {}],
      ['notification:read', { notificationId: '1' }],
      ['notification:read-all', {}],
      ['notification:delete', { notificationId: '1' }],
    ] as const) {
      const error = waitFor<SocketErrorPayload>(socket, 'error');
      expect(await ask(socket, event, payload)).toMatchObject({ success: false, code: 'UNAUTHORIZED' });
      expect(await error).toMatchObject({ event, code: 'UNAUTHORIZED' });
    }
    await watch.expectNothingBefore();
  });
});

describe('live delivery of a stored push', () => {
  it('reaches every socket of the user as notification:new and the count, besides its own event', async () => {
    const a = await connectAs('live');
    const b = await connectAs('live');
    const news = [a, b].map(({ socket }) => waitFor<NotificationRecord>(socket, 'notification:new'));
    const counts = [a, b].map(({ socket }) => waitFor<UnreadCountPayload>(socket, 'notification:unread-count'));
    const own = waitFor<Record<string, unknown>>(a.socket, 'notification');
    const id = await store('live', 'hello');
    for (const record of await Promise.all(news)) expect(record).toMatchObject({ id, userId: 'live', title: 'hello', readAt: null });
    expect(await Promise.all(counts)).toEqual([{ count: 1 }, { count: 1 }]);
    expect(await own).toMatchObject({ title: 'hello', id });
  });
});
