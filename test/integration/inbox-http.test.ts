import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MarkedReadPayload, NotificationRecord, UnreadCountPayload } from '../../src/contracts/events.js';
import { connectClient, waitFor, watchUnwanted, type TestSocket } from '../support/client.js';
import { startServer, type TestServer } from '../support/server.js';
import { TEST_SECRET, signToken } from '../support/tokens.js';

/**
 * The notification inbox over REST: a stored push (`persist`), reading it back later, read
 * and delete reaching every device of the user, another user's inbox refused with 404,
 * tenants kept apart, and bad input answered 400 with a code.
 */

const KEY = 'inbox-http-key-0123456789';
const INBOX_EVENTS = ['notification:new', 'notification:unread-count', 'notification:marked-read', 'notification:deleted'];

let t: TestServer;
const sockets: TestSocket[] = [];

beforeAll(async () => {
  t = await startServer({ JWT_SECRET: TEST_SECRET, API_KEYS: KEY, RATE_LIMIT_HTTP_PER_MINUTE: '100000' });
});
afterAll(async () => {
  for (const socket of sockets) socket.close();
  await t?.close();
});

const bearer = (userId: string, tenantId?: string) => `Bearer ${signToken(tenantId === undefined ? { userId } : { userId, tenantId })}`;

interface PushAnswer {
  success: true;
  delivered: boolean;
  recipients: number;
  messageId: string;
  timestamp: string;
  notificationIds?: string[];
}

async function push(body: Record<string, unknown>): Promise<PushAnswer> {
  const res = await request(t.url).post('/api/push').set('X-API-Key', KEY).send(body).expect(200);
  return res.body as PushAnswer;
}

/** Stores one notification for `userId` and resolves with its id. */
async function stored(userId: string, title: string, extra: Record<string, unknown> = {}): Promise<string> {
  const answer = await push({ userId, persist: true, data: { type: 'info', title, message: `${title} body` }, ...extra });
  expect(answer.notificationIds).toHaveLength(1);
  return answer.notificationIds![0]!;
}

async function connectAs(userId: string, tenantId?: string): Promise<TestSocket> {
  const socket = await connectClient(t.url, { auth: { token: signToken(tenantId === undefined ? { userId } : { userId, tenantId }) } });
  sockets.push(socket);
  return socket;
}

interface Page {
  success: true;
  notifications: NotificationRecord[];
  nextBefore?: string;
  unreadCount: number;
}

async function listWithKey(userId: string, query = ''): Promise<Page> {
  const res = await request(t.url).get(`/api/users/${userId}/notifications${query}`).set('X-API-Key', KEY).expect(200);
  return res.body as Page;
}

describe('a stored push', () => {
  it('is kept for a user with no socket, who lists it later with their own token', async () => {
    const answer = await push({
      userId: 'offline-ann',
      persist: true,
      data: { type: 'warning', title: 'Upcoming Event', message: 'Standup at 10', data: { room: 'Zoom' } },
    });
    expect(answer).toMatchObject({ success: true, delivered: false, recipients: 0, notificationIds: [expect.any(String)] });
    const [id] = answer.notificationIds!;

    const res = await request(t.url).get('/api/users/offline-ann/notifications').set('Authorization', bearer('offline-ann')).expect(200);
    expect(res.body).toEqual({
      success: true,
      unreadCount: 1,
      notifications: [
        {
          id,
          userId: 'offline-ann',
          type: 'warning',
          title: 'Upcoming Event',
          message: 'Standup at 10',
          data: { room: 'Zoom' },
          event: 'notification',
          createdAt: expect.any(String),
          readAt: null,
        },
      ],
    });
    const count = await request(t.url).get('/api/users/offline-ann/notifications/unread-count').set('Authorization', bearer('offline-ann')).expect(200);
    expect(count.body).toEqual({ success: true, count: 1 });
  });

  it('takes type, title, message and priority from data only when valid, keeping everything else in data', async () => {
    const longType = 'x'.repeat(33);
    await stored('fields', 'ignored', { data: { type: longType, priority: 'NOPE', title: 7, url: '/a' } });
    await stored('fields', 'ignored', { data: 'just text', priority: 'HIGH' });
    await stored('fields', 'ignored', { data: { type: 'job_assigned', priority: 'URGENT', title: 'T', message: 'M' } });
    const [plain, text, odd] = (await listWithKey('fields')).notifications;
    expect(plain).toMatchObject({ type: 'job_assigned', priority: 'URGENT', title: 'T', message: 'M' });
    expect(plain).not.toHaveProperty('data');
    expect(text).toMatchObject({ type: 'info', priority: 'HIGH', data: 'just text' });
    expect(odd).toMatchObject({ type: 'info', data: { type: longType, priority: 'NOPE', title: 7, url: '/a' } });
    expect(odd).not.toHaveProperty('title');
  });

  it('pages newest first with nextBefore, and filters unread', async () => {
    const ids = [await stored('pager', 'one'), await stored('pager', 'two'), await stored('pager', 'three')];
    const first = await listWithKey('pager', '?limit=2');
    expect(first.notifications.map((n) => n.id)).toEqual([ids[2], ids[1]]);
    expect(first.nextBefore).toEqual(expect.any(String));
    const second = await listWithKey('pager', `?limit=2&before=${encodeURIComponent(first.nextBefore!)}`);
    expect(second.notifications.map((n) => n.id)).toEqual([ids[0]]);
    expect(second).not.toHaveProperty('nextBefore');

    await request(t.url).post('/api/users/pager/notifications/read').set('X-API-Key', KEY).send({ ids: [ids[1]] }).expect(200);
    const unread = await listWithKey('pager', '?unreadOnly=true');
    expect(unread.notifications.map((n) => n.id)).toEqual([ids[2], ids[0]]);
    expect(unread.unreadCount).toBe(2);
  });

  it('defaults to stored when PERSIST_NOTIFICATIONS=true, and persist:false still only delivers', async () => {
    const persisting = await startServer({ API_KEYS: KEY, PERSIST_NOTIFICATIONS: 'true' });
    try {
      const byDefault = await request(persisting.url).post('/api/push').set('X-API-Key', KEY).send({ userId: 'd' }).expect(200);
      expect(byDefault.body.notificationIds).toEqual([expect.any(String)]);
      const notStored = await request(persisting.url).post('/api/push').set('X-API-Key', KEY).send({ userId: 'd', persist: false }).expect(200);
      expect(notStored.body).not.toHaveProperty('notificationIds');
      const page = await request(persisting.url).get('/api/users/d/notifications').set('X-API-Key', KEY).expect(200);
      expect(page.body.notifications).toHaveLength(1);
    } finally {
      await persisting.close();
    }
  });

  it('is not stored without persist (the default), and the answer keeps its shape', async () => {
    const answer = await push({ userId: 'not-kept', data: { title: 'gone' } });
    expect(Object.keys(answer).sort()).toEqual(['delivered', 'messageId', 'recipients', 'success', 'timestamp']);
    expect((await listWithKey('not-kept')).notifications).toEqual([]);
  });
});

describe('live delivery to every device', () => {
  it('sends each socket of the user notification:new, the count, and its own event carrying the id', async () => {
    const phone = await connectAs('devices');
    const laptop = await connectAs('devices');
    const news = [phone, laptop].map((socket) => waitFor<NotificationRecord>(socket, 'notification:new'));
    const counts = [phone, laptop].map((socket) => waitFor<UnreadCountPayload>(socket, 'notification:unread-count'));
    const own = [phone, laptop].map((socket) => waitFor<Record<string, unknown>>(socket, 'job:assigned'));
    const answer = await push({ userId: 'devices', persist: true, event: 'job:assigned', data: { title: 'Job 5', jobId: 5 } });
    expect(answer).toMatchObject({ delivered: true, recipients: 2 });
    const [id] = answer.notificationIds!;
    for (const record of await Promise.all(news)) expect(record).toMatchObject({ id, userId: 'devices', title: 'Job 5', data: { jobId: 5 }, event: 'job:assigned' });
    expect(await Promise.all(counts)).toEqual([{ count: 1 }, { count: 1 }]);
    expect(await Promise.all(own)).toEqual([
      { title: 'Job 5', jobId: 5, id, notificationId: id },
      { title: 'Job 5', jobId: 5, id, notificationId: id },
    ]);
  });

  it('keeps the publisher id in the payload and wraps data that is not an object', async () => {
    const socket = await connectAs('ids');
    const withId = waitFor<Record<string, unknown>>(socket, 'notification');
    const [first] = (await push({ userId: 'ids', persist: true, data: { id: 42, title: 'mine' } })).notificationIds!;
    expect(await withId).toEqual({ id: 42, title: 'mine', notificationId: first });
    const text = waitFor<Record<string, unknown>>(socket, 'notification');
    const [second] = (await push({ userId: 'ids', persist: true, data: 'hello' })).notificationIds!;
    expect(await text).toEqual({ data: 'hello', id: second, notificationId: second });
  });

  it('reaches both devices with REST read, read-all and delete', async () => {
    const ids = [await stored('sync', 'a'), await stored('sync', 'b'), await stored('sync', 'c')];
    const phone = await connectAs('sync');
    const laptop = await connectAs('sync');
    const both = <T>(event: string) => Promise.all([phone, laptop].map((socket) => waitFor<T>(socket, event)));

    let marked = both<MarkedReadPayload>('notification:marked-read');
    let counts = both<UnreadCountPayload>('notification:unread-count');
    const read = await request(t.url).post('/api/users/sync/notifications/read').set('Authorization', bearer('sync')).send({ ids: [ids[0]] }).expect(200);
    expect(read.body).toEqual({ success: true, changed: 1 });
    const [first] = await marked;
    expect(first).toEqual({ notificationIds: [ids[0]], readAt: expect.any(String) });
    expect(await marked).toEqual([first, first]);
    expect(await counts).toEqual([{ count: 2 }, { count: 2 }]);

    const deleted = both('notification:deleted');
    counts = both<UnreadCountPayload>('notification:unread-count');
    const removed = await request(t.url).delete(`/api/users/sync/notifications/${ids[1]}`).set('X-API-Key', KEY).expect(200);
    expect(removed.body).toEqual({ success: true, notificationId: ids[1] });
    expect(await deleted).toEqual([{ notificationId: ids[1] }, { notificationId: ids[1] }]);
    expect(await counts).toEqual([{ count: 1 }, { count: 1 }]);

    marked = both<MarkedReadPayload>('notification:marked-read');
    counts = both<UnreadCountPayload>('notification:unread-count');
    const all = await request(t.url).post('/api/users/sync/notifications/read').set('X-API-Key', KEY).send({ all: true }).expect(200);
    expect(all.body).toEqual({ success: true, changed: 1 });
    expect(await marked).toEqual([
      { all: true, changed: 1, readAt: expect.any(String) },
      { all: true, changed: 1, readAt: expect.any(String) },
    ]);
    expect(await counts).toEqual([{ count: 0 }, { count: 0 }]);
    expect((await listWithKey('sync')).notifications.map((n) => [n.id, n.readAt === null])).toEqual([
      [ids[2], false],
      [ids[0], false],
    ]);
  });

  it('tells nobody when a read changes nothing', async () => {
    const id = await stored('quiet', 'q');
    await request(t.url).post('/api/users/quiet/notifications/read').set('X-API-Key', KEY).send({ ids: [id] }).expect(200);
    const socket = await connectAs('quiet');
    const watch = watchUnwanted(socket, INBOX_EVENTS);
    const again = await request(t.url).post('/api/users/quiet/notifications/read').set('X-API-Key', KEY).send({ ids: [id] }).expect(200);
    expect(again.body).toEqual({ success: true, changed: 0 });
    await watch.expectNothingBefore();
  });
});

describe("another user's inbox", () => {
  it('is 404 with a user token, for every route, and nothing changes or is sent', async () => {
    const id = await stored('owner', 'private');
    const owner = await connectAs('owner');
    const watch = watchUnwanted(owner, INBOX_EVENTS);
    const asMallory = bearer('mallory');
    const attempts = [
      request(t.url).get('/api/users/owner/notifications').set('Authorization', asMallory),
      request(t.url).get('/api/users/owner/notifications/unread-count').set('Authorization', asMallory),
      request(t.url).post('/api/users/owner/notifications/read').set('Authorization', asMallory).send({ all: true }),
      request(t.url).post('/api/users/owner/notifications/read').set('Authorization', asMallory).send({ ids: [id] }),
      request(t.url).delete(`/api/users/owner/notifications/${id}`).set('Authorization', asMallory),
      // Mallory's own inbox does not hold the owner's notification either.
      request(t.url).post('/api/users/mallory/notifications/read').set('Authorization', asMallory).send({ ids: [id] }),
      request(t.url).delete(`/api/users/mallory/notifications/${id}`).set('Authorization', asMallory),
      // Nor does another user's inbox through the API key.
      request(t.url).delete(`/api/users/mallory/notifications/${id}`).set('X-API-Key', KEY),
    ];
    for (const attempt of attempts) {
      const res = await attempt;
      expect(res.status).toBe(404);
      expect(res.body).toMatchObject({ success: false, code: 'NOT_FOUND', requestId: expect.any(String) });
    }
    // A sentinel sent to the owner's sockets the way the unwanted events would have been.
    await watch.expectNothingBefore(async () => {
      const sentinel = waitFor(owner, 'sentinel');
      await push({ userId: 'owner', event: 'sentinel' });
      await sentinel;
    });
    const page = await listWithKey('owner');
    expect(page.notifications.map((n) => [n.id, n.readAt])).toEqual([[id, null]]);
  });

  it('is 401 without a key or a token, and 401 with a bad token', async () => {
    await request(t.url).get('/api/users/owner/notifications').expect(401);
    await request(t.url).get('/api/users/owner/notifications').set('Authorization', 'Bearer nope').expect(401);
  });
});

describe('tenants', () => {
  it('keep the same user id apart over REST, by the token claim or the key holder’s tenantId', async () => {
    const inA = await stored('shared-id', 'for a', { tenantId: 'a' });
    const inB = await stored('shared-id', 'for b', { tenantId: 'b' });
    const none = await stored('shared-id', 'no tenant');

    expect((await listWithKey('shared-id', '?tenantId=a')).notifications.map((n) => [n.id, n.tenantId])).toEqual([[inA, 'a']]);
    expect((await listWithKey('shared-id', '?tenantId=b')).notifications.map((n) => n.id)).toEqual([inB]);
    expect((await listWithKey('shared-id')).notifications.map((n) => n.id)).toEqual([none]);

    const asA = bearer('shared-id', 'a');
    const mine = await request(t.url).get('/api/users/shared-id/notifications').set('Authorization', asA).expect(200);
    expect(mine.body.notifications.map((n: NotificationRecord) => n.id)).toEqual([inA]);
    // A token of tenant a cannot name tenant b, nor reach b's notification by id.
    await request(t.url).get('/api/users/shared-id/notifications?tenantId=b').set('Authorization', asA).expect(404);
    await request(t.url).delete(`/api/users/shared-id/notifications/${inB}`).set('Authorization', asA).expect(404);
    await request(t.url).post('/api/users/shared-id/notifications/read').set('Authorization', asA).send({ all: true }).expect(200);
    expect((await listWithKey('shared-id', '?tenantId=b')).unreadCount).toBe(1);
    expect((await listWithKey('shared-id')).unreadCount).toBe(1);
    expect((await listWithKey('shared-id', '?tenantId=a')).unreadCount).toBe(0);
  });

  it('deliver a stored push only to the tenant it names', async () => {
    const a = await connectAs('tenant-live', 'a');
    const b = await connectAs('tenant-live', 'b');
    const got = waitFor<NotificationRecord>(a, 'notification:new');
    const watch = watchUnwanted(b, [...INBOX_EVENTS, 'notification']);
    const id = await stored('tenant-live', 'only a', { tenantId: 'a' });
    expect(await got).toMatchObject({ id, tenantId: 'a' });
    await watch.expectNothingBefore();
  });
});

describe('bad input', () => {
  it.each([
    ['ttlSeconds of 0', { userId: 'x', persist: true, ttlSeconds: 0 }],
    ['a fractional ttlSeconds', { userId: 'x', persist: true, ttlSeconds: 1.5 }],
    ['an empty idempotencyKey', { userId: 'x', idempotencyKey: '' }],
    ['an idempotencyKey of 129 characters', { userId: 'x', idempotencyKey: 'k'.repeat(129) }],
    ['an unknown priority', { userId: 'x', persist: true, priority: 'CRITICAL' }],
    ['persist as a string', { userId: 'x', persist: 'yes' }],
    ['a stored push under an event the inbox sends itself', { userId: 'x', persist: true, event: 'notification:unread-count' }],
  ])('refuses a push with %s: 400 INVALID_REQUEST, nothing stored', async (_case, body) => {
    const res = await request(t.url).post('/api/push').set('X-API-Key', KEY).send(body).expect(400);
    expect(res.body).toMatchObject({ success: false, code: 'INVALID_REQUEST' });
    expect((await listWithKey('x')).notifications).toEqual([]);
  });

  it.each([
    ['a limit over 100', 'GET', '/api/users/u/notifications?limit=101', undefined],
    ['a limit of 0', 'GET', '/api/users/u/notifications?limit=0', undefined],
    ['unreadOnly that is not true or false', 'GET', '/api/users/u/notifications?unreadOnly=yes', undefined],
    ['a before that is not an id', 'GET', '/api/users/u/notifications?before=a%20b', undefined],
    ['a bad tenant', 'GET', '/api/users/u/notifications/unread-count?tenantId=a%2Fb', undefined],
    ['both ids and all', 'POST', '/api/users/u/notifications/read', { ids: ['1'], all: true }],
    ['neither ids nor all', 'POST', '/api/users/u/notifications/read', {}],
    ['all: false', 'POST', '/api/users/u/notifications/read', { all: false }],
    ['an empty ids list', 'POST', '/api/users/u/notifications/read', { ids: [] }],
    ['an id that is not a string', 'POST', '/api/users/u/notifications/read', { ids: [{ $gt: '' }] }],
    ['an id with a slash', 'DELETE', '/api/users/u/notifications/a%2Fb', undefined],
  ])('refuses %s: 400 INVALID_REQUEST', async (_case, method, path, body) => {
    const base = request(t.url);
    const req = method === 'GET' ? base.get(path) : method === 'DELETE' ? base.delete(path) : base.post(path).send(body);
    const res = await req.set('X-API-Key', KEY);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ success: false, code: 'INVALID_REQUEST' });
  });

  it('answers an unknown id with 404 NOT_FOUND', async () => {
    const read = await request(t.url).post('/api/users/u/notifications/read').set('X-API-Key', KEY).send({ ids: ['999999'] }).expect(404);
    expect(read.body).toMatchObject({ code: 'NOT_FOUND' });
    await request(t.url).delete('/api/users/u/notifications/999999').set('X-API-Key', KEY).expect(404);
  });

  it('skips unknown ids among several and marks the rest', async () => {
    const id = await stored('several', 's');
    const res = await request(t.url).post('/api/users/several/notifications/read').set('X-API-Key', KEY).send({ ids: [id, '999999', id] }).expect(200);
    expect(res.body).toEqual({ success: true, changed: 1 });
  });
});

describe('the OpenAPI document', () => {
  it('documents every inbox route, so the HTTP fuzz suite (driven by it) covers them', async () => {
    const doc = (await request(t.url).get('/openapi.json').expect(200)).body as { paths: Record<string, Record<string, unknown>> };
    const operations = Object.entries(doc.paths).flatMap(([path, methods]) => Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`));
    expect(operations).toEqual(
      expect.arrayContaining([
        'GET /api/users/{userId}/notifications',
        'GET /api/users/{userId}/notifications/unread-count',
        'POST /api/users/{userId}/notifications/read',
        'DELETE /api/users/{userId}/notifications/{id}',
        'POST /api/push',
      ]),
    );
    const pushBody = (doc as unknown as { components: { schemas: Record<string, { properties: Record<string, unknown> }> } }).components.schemas.PushRequest!;
    expect(Object.keys(pushBody.properties)).toEqual(expect.arrayContaining(['persist', 'ttlSeconds', 'idempotencyKey', 'priority']));
  });
});
