import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import type { NotificationRecord } from '../../src/contracts/events.js';
import { io } from 'socket.io-client';
import { waitFor, type TestSocket } from '../support/client.js';
import { createTestClock, type TestClock } from '../support/clock.js';
import { startServer, type TestServer } from '../support/server.js';
import { TEST_SECRET, signToken } from '../support/tokens.js';

/**
 * How long the inbox keeps a notification: `ttlSeconds` per push, INBOX_TTL_DAYS for all,
 * INBOX_MAX_PER_USER per inbox. Time is the test clock's, moved forward instead of waited
 * for; an expired notification leaves lists and counts with no restart.
 */

const KEY = 'inbox-retention-key-0123456789';
const DAY_MS = 24 * 3600 * 1000;

let t: TestServer | undefined;
const sockets: TestSocket[] = [];

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.close();
  await t?.close();
  t = undefined;
});

async function start(clock: TestClock, env: Record<string, string> = {}): Promise<TestServer> {
  t = await startServer({ JWT_SECRET: TEST_SECRET, API_KEYS: KEY, ...env }, { clock });
  return t;
}

async function push(server: TestServer, body: Record<string, unknown>): Promise<string[]> {
  const res = await request(server.url).post('/api/push').set('X-API-Key', KEY).send({ persist: true, ...body }).expect(200);
  return res.body.notificationIds as string[];
}

async function inbox(server: TestServer, userId: string): Promise<{ notifications: NotificationRecord[]; unreadCount: number }> {
  const res = await request(server.url).get(`/api/users/${userId}/notifications`).set('X-API-Key', KEY).expect(200);
  return res.body as { notifications: NotificationRecord[]; unreadCount: number };
}

async function unreadCount(server: TestServer, userId: string): Promise<number> {
  const res = await request(server.url).get(`/api/users/${userId}/notifications/unread-count`).set('X-API-Key', KEY).expect(200);
  return (res.body as { count: number }).count;
}

describe('ttlSeconds', () => {
  it('sets expiresAt, and the notification leaves lists and counts once it passes', async () => {
    const clock = createTestClock();
    const server = await start(clock);
    const [short] = await push(server, { userId: 'ttl', ttlSeconds: 60, data: { title: 'short' } });
    const [kept] = await push(server, { userId: 'ttl', data: { title: 'kept' } });

    const before = await inbox(server, 'ttl');
    expect(before.unreadCount).toBe(2);
    const record = before.notifications.find((n) => n.id === short)!;
    expect(Date.parse(record.expiresAt!) - Date.parse(record.createdAt)).toBe(60_000);

    clock.advance(59_999);
    expect(await unreadCount(server, 'ttl')).toBe(2);
    clock.advance(1);
    const after = await inbox(server, 'ttl');
    expect(after.notifications.map((n) => n.id)).toEqual([kept]);
    expect(after.unreadCount).toBe(1);
    expect(await unreadCount(server, 'ttl')).toBe(1);
    // Gone means gone for every route: it can no longer be read or deleted.
    await request(server.url).post('/api/users/ttl/notifications/read').set('X-API-Key', KEY).send({ ids: [short] }).expect(404);
    await request(server.url).delete(`/api/users/ttl/notifications/${short}`).set('X-API-Key', KEY).expect(404);
  });

  it('never keeps a notification beyond INBOX_TTL_DAYS', async () => {
    const clock = createTestClock();
    const server = await start(clock, { INBOX_TTL_DAYS: '1' });
    const [id] = await push(server, { userId: 'capped-ttl', ttlSeconds: 10 * 24 * 3600 });
    const [record] = (await inbox(server, 'capped-ttl')).notifications;
    expect(record!.id).toBe(id);
    expect(Date.parse(record!.expiresAt!) - Date.parse(record!.createdAt)).toBe(DAY_MS);
  });
});

describe('INBOX_TTL_DAYS', () => {
  it('removes notifications older than the retention period, for sockets too', async () => {
    const clock = createTestClock();
    const server = await start(clock, { INBOX_TTL_DAYS: '2' });
    await push(server, { userId: 'old', data: { title: 'old' } });
    clock.advance(DAY_MS);
    const [recent] = await push(server, { userId: 'old', data: { title: 'recent' } });
    clock.advance(DAY_MS);
    expect((await inbox(server, 'old')).notifications.map((n) => n.id)).toEqual([recent]);

    // A socket connecting now is told the count without the expired one.
    const token = signToken({ userId: 'old' }, { ttlSeconds: 10 * 24 * 3600 });
    const socket: TestSocket = io(server.url, { transports: ['websocket'], reconnection: false, forceNew: true, auth: { token } });
    sockets.push(socket);
    // Listening before the connection exists: the count may come in the same read as CONNECT.
    expect(await waitFor(socket, 'notification:unread-count')).toEqual({ count: 1 });

    clock.advance(DAY_MS);
    expect(await inbox(server, 'old')).toEqual({ success: true, notifications: [], unreadCount: 0 });
  });
});

describe('INBOX_MAX_PER_USER', () => {
  it('drops the oldest read notification first, then the oldest', async () => {
    const clock = createTestClock();
    const server = await start(clock, { INBOX_MAX_PER_USER: '3' });
    const [a] = await push(server, { userId: 'full' });
    const [b] = await push(server, { userId: 'full' });
    const [c] = await push(server, { userId: 'full' });
    await request(server.url).post('/api/users/full/notifications/read').set('X-API-Key', KEY).send({ ids: [b] }).expect(200);
    const [d] = await push(server, { userId: 'full' });
    expect((await inbox(server, 'full')).notifications.map((n) => n.id)).toEqual([d, c, a]);
    const [e] = await push(server, { userId: 'full' });
    expect((await inbox(server, 'full')).notifications.map((n) => n.id)).toEqual([e, d, c]);
    expect(await unreadCount(server, 'full')).toBe(3);
  });
});
