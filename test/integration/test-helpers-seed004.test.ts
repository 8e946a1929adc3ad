import { io } from 'socket.io-client';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NotificationPage, NotificationRecord, UnreadCountPayload } from '../../src/contracts/inbox.js';
import type { BroadcastPayload, SocketTestResponse } from '../../src/contracts/test-helpers.js';
import { connectClient, waitFor, watchUnwanted, type TestSocket } from '../support/client.js';
import { startServer, type TestServer } from '../support/server.js';
import { TEST_SECRET, signToken } from '../support/tokens.js';

/**
 * Seed 004's `POST /socket/test/*` endpoints, with the seed's own curl bodies and its JS
 * clients (`auth: { token }` and `?token=`) over real sockets: the `notification` payload
 * exactly as the seed shows it, the answer `{ ok, message, userConnected, note }`, and the
 * notification stored in the caller's inbox, online or not. `broadcast` reaches every
 * socket and stores nothing.
 */

/** Everything the helpers may send a socket: none of it may reach a socket that is not the caller's. */
const HELPER_EVENTS = ['notification', 'notification:new', 'notification:unread-count'];
const CLIENT = { transports: ['websocket'], reconnection: false, forceNew: true };
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

let t: TestServer;
const sockets: TestSocket[] = [];

beforeAll(async () => {
  // Anonymous sockets too: a broadcast reaches them. Many requests: more than the default per-minute limit.
  t = await startServer({ JWT_SECRET: TEST_SECRET, ALLOW_ANONYMOUS: 'true', RATE_LIMIT_HTTP_PER_MINUTE: '100000' });
});
afterAll(async () => {
  for (const socket of sockets) socket.close();
  await t?.close();
});

const tokenOf = (userId: string, tenantId?: string) => signToken(tenantId === undefined ? { userId } : { userId, tenantId });

/** Seed 004's recommended client: the token in `auth`. Resolves with the unread count it is sent on connect too. */
function connectAs(userId: string, tenantId?: string): Promise<{ socket: TestSocket; count: number }> {
  return connectCounting(io(t.url, { ...CLIENT, auth: { token: tokenOf(userId, tenantId) } }));
}

/** Seed 004's option 2: the token in the query string. */
function connectWithQueryToken(userId: string): Promise<{ socket: TestSocket; count: number }> {
  return connectCounting(io(`${t.url}?token=${tokenOf(userId)}`, CLIENT));
}

async function connectCounting(socket: TestSocket): Promise<{ socket: TestSocket; count: number }> {
  sockets.push(socket);
  // Listening before the connection exists: the count may come in the same read as CONNECT.
  const count = waitFor<UnreadCountPayload>(socket, 'notification:unread-count');
  await waitFor(socket, 'connect');
  return { socket, count: (await count).count };
}

/** `POST /socket/test/<kind>` as seed 004's curl sends it, with the caller's own token. */
function post(kind: string, body: unknown, token: string) {
  return request(t.url).post(`/socket/test/${kind}`).set('Authorization', `Bearer ${token}`).set('Content-Type', 'application/json').send(JSON.stringify(body));
}

/** The caller's inbox as the caller reads it over REST. */
async function inboxOf(userId: string, tenantId?: string): Promise<NotificationPage> {
  const res = await request(t.url).get(`/api/users/${userId}/notifications?limit=100`).set('Authorization', `Bearer ${tokenOf(userId, tenantId)}`).expect(200);
  return res.body as NotificationPage;
}

const connected = (message: string, notificationId: string): SocketTestResponse => ({
  ok: true,
  message,
  userConnected: true,
  note: 'User is connected, notification delivered',
  notificationId,
});

/**
 * Sends `kind` with `body` as `userId`, connected with both of seed 004's clients, and
 * checks the payload each socket gets (exactly `expected` plus the inbox's ids and the
 * timestamp), the answer, `notification:new`, the count and the stored record.
 */
async function sendConnected(kind: string, body: unknown, userId: string, answer: string, expected: Record<string, unknown>) {
  const viaAuth = await connectAs(userId);
  const viaQuery = await connectWithQueryToken(userId);
  const onSockets = [viaAuth.socket, viaQuery.socket].map((socket) => ({
    notification: waitFor<Record<string, unknown>>(socket, 'notification'),
    created: waitFor<NotificationRecord>(socket, 'notification:new'),
    count: waitFor<UnreadCountPayload>(socket, 'notification:unread-count'),
  }));
  const res = await post(kind, body, tokenOf(userId)).expect(200);
  const id = (res.body as SocketTestResponse).notificationId!;
  expect(res.body).toEqual(connected(answer, id));

  for (const seen of onSockets) {
    const notification = await seen.notification;
    // Seed 004's `{ type, title, message, data?, timestamp }`, and the inbox record's id under both names.
    expect(notification).toEqual({ ...expected, timestamp: expect.stringMatching(ISO), id, notificationId: id });
    const record = await seen.created;
    expect(record).toEqual({
      id,
      userId,
      type: expected.type,
      title: expected.title,
      message: expected.message,
      ...(expected.data === undefined ? {} : { data: expected.data }),
      event: 'notification',
      createdAt: expect.stringMatching(ISO),
      readAt: null,
    });
    expect(await seen.count).toEqual({ count: viaAuth.count + 1 });
  }
  const stored = await inboxOf(userId);
  expect(stored.notifications[0]).toMatchObject({ id, title: expected.title, message: expected.message, readAt: null });
  return { id, notification: await onSockets[0]!.notification };
}

describe('each endpoint with seed 004 body, to a connected caller', () => {
  it('POST /socket/test/notification: the seed curl body', async () => {
    await sendConnected('notification', { type: 'info', title: 'Test', message: 'Hello from Socket.IO!' }, 'paka-39', 'Notification sent via Socket.IO', {
      type: 'info',
      title: 'Test',
      message: 'Hello from Socket.IO!',
    });
  });

  it('POST /socket/test/notification: `data` is delivered and stored', async () => {
    const data = { url: '/releases/1.4.2', nested: { n: 1 } };
    await sendConnected('notification', { type: 'success', title: 'Deployed', message: '1.4.2 is live', data }, 'with-data', 'Notification sent via Socket.IO', {
      type: 'success',
      title: 'Deployed',
      message: '1.4.2 is live',
      data,
    });
  });

  it('POST /socket/test/email: "📧 New Email", From and Subject on two lines, data { from, subject, id }', async () => {
    await sendConnected('email', { from: 'sender@example.com', subject: 'Test Email' }, 'mailer', 'Email notification sent', {
      type: 'info',
      title: '📧 New Email',
      message: 'From: sender@example.com\nSubject: Test Email',
      data: { from: 'sender@example.com', subject: 'Test Email', id: 'test-email-id' },
    });
    // The seed's example notification, with its id.
    await sendConnected('email', { from: 'john@example.com', subject: 'Meeting Tomorrow', id: 'abc123' }, 'mailer', 'Email notification sent', {
      type: 'info',
      title: '📧 New Email',
      message: 'From: john@example.com\nSubject: Meeting Tomorrow',
      data: { from: 'john@example.com', subject: 'Meeting Tomorrow', id: 'abc123' },
    });
  });

  it('POST /socket/test/event: "📅 Upcoming Event", `<title> at <time>`, type warning', async () => {
    const body = { title: 'Team Meeting', time: '2025-12-08T15:00:00Z', location: 'Conference Room A' };
    await sendConnected('event', body, 'planner', 'Event notification sent', {
      type: 'warning',
      title: '📅 Upcoming Event',
      message: 'Team Meeting at 2025-12-08T15:00:00Z',
      data: body,
    });
  });

  it('POST /socket/test/alarm: "⏰ Alarm" with the title as the message, type warning', async () => {
    const before = Date.now();
    const { notification } = await sendConnected('alarm', { title: 'Wake up!' }, 'sleeper', 'Alarm notification sent', {
      type: 'warning',
      title: '⏰ Alarm',
      message: 'Wake up!',
      data: { title: 'Wake up!', time: expect.stringMatching(ISO) },
    });
    // No time in the body: the alarm is now.
    const time = Date.parse((notification.data as { time: string }).time);
    expect(time).toBeGreaterThanOrEqual(before - 1);
    expect(time).toBeLessThanOrEqual(Date.now());
  });
});

describe('defaults for what the body leaves out (missing or empty)', () => {
  it.each([
    ['notification', {}, { type: 'info', title: '🧪 Test Notification', message: 'This is a test notification via Socket.IO!' }],
    ['notification', { type: '', title: '', message: '' }, { type: 'info', title: '🧪 Test Notification', message: 'This is a test notification via Socket.IO!' }],
    [
      'email',
      {},
      {
        type: 'info',
        title: '📧 New Email',
        message: 'From: Test Sender <test@example.com>\nSubject: Test Email Subject',
        data: { from: 'Test Sender <test@example.com>', subject: 'Test Email Subject', id: 'test-email-id' },
      },
    ],
    ['alarm', { time: '07:00' }, { type: 'warning', title: '⏰ Alarm', message: 'Test Alarm', data: { title: 'Test Alarm', time: '07:00' } }],
  ])('%s %j', async (kind, body, expected) => {
    const userId = `defaults-${kind}`;
    const { socket } = await connectAs(userId);
    const notification = waitFor<Record<string, unknown>>(socket, 'notification');
    await post(kind, body, tokenOf(userId)).expect(200);
    expect(await notification).toEqual({ ...expected, timestamp: expect.stringMatching(ISO), id: expect.any(String), notificationId: expect.any(String) });
  });

  it('event: a meeting in five minutes in Conference Room A', async () => {
    const { socket } = await connectAs('defaults-event');
    const notification = waitFor<{ message: string; data: { title: string; time: string; location: string } }>(socket, 'notification');
    const before = Date.now();
    await post('event', {}, tokenOf('defaults-event')).expect(200);
    const after = Date.now();
    const { message, data } = await notification;
    expect(data).toEqual({ title: 'Test Meeting', time: expect.stringMatching(ISO), location: 'Conference Room A' });
    expect(message).toBe(`Test Meeting at ${data.time}`);
    // Five minutes after the moment the request was handled.
    expect(Date.parse(data.time)).toBeGreaterThanOrEqual(before + 5 * 60_000);
    expect(Date.parse(data.time)).toBeLessThanOrEqual(after + 5 * 60_000);
  });
});

describe('a caller with no socket connected', () => {
  it.each([
    ['notification', { type: 'info', title: 'Test', message: 'Hello from Socket.IO!' }, 'Notification sent via Socket.IO', 'Test'],
    ['email', { from: 'sender@example.com', subject: 'Test Email' }, 'Email notification sent', '📧 New Email'],
    ['event', { title: 'Team Meeting', time: '2025-12-08T15:00:00Z' }, 'Event notification sent', '📅 Upcoming Event'],
    ['alarm', { title: 'Wake up!' }, 'Alarm notification sent', '⏰ Alarm'],
  ])('%s: userConnected false, stored in the inbox, counted when the user connects', async (kind, body, answer, title) => {
    const userId = `offline-${kind}`;
    const res = await post(kind, body, tokenOf(userId)).expect(200);
    const id = (res.body as SocketTestResponse).notificationId;
    expect(res.body).toEqual({
      ok: true,
      message: answer,
      userConnected: false,
      note: 'User not connected, notification stored in their inbox for when they connect',
      notificationId: expect.any(String),
    });
    const stored = await inboxOf(userId);
    expect(stored.notifications).toEqual([expect.objectContaining({ id, userId, title, event: 'notification', readAt: null })]);
    expect(stored.unreadCount).toBe(1);
    expect((await connectAs(userId)).count).toBe(1);
  });
});

describe('only the caller', () => {
  it("reaches the token's user in the token's tenant, nobody else", async () => {
    const caller = await connectAs('same-id', 'acme');
    const otherTenant = await connectAs('same-id', 'globex');
    const noTenant = await connectAs('same-id');
    const stranger = await connectAs('stranger');
    const watches = [otherTenant.socket, noTenant.socket, stranger.socket].map((socket) => watchUnwanted(socket, HELPER_EVENTS));
    const got = waitFor<Record<string, unknown>>(caller.socket, 'notification');

    const res = await post('email', { from: 'a@acme.test', subject: 'Tenant mail' }, tokenOf('same-id', 'acme')).expect(200);
    expect(res.body).toMatchObject({ userConnected: true });
    expect(await got).toMatchObject({ title: '📧 New Email', message: 'From: a@acme.test\nSubject: Tenant mail' });
    for (const watch of watches) await watch.expectNothingBefore();

    expect((await inboxOf('same-id', 'acme')).notifications).toEqual([expect.objectContaining({ tenantId: 'acme', title: '📧 New Email' })]);
    expect((await inboxOf('same-id', 'globex')).notifications).toEqual([]);
    expect((await inboxOf('same-id')).notifications).toEqual([]);
  });
});

describe('POST /socket/test/broadcast', () => {
  it('sends `broadcast` { title, message, from, timestamp } to every socket, stores nothing', async () => {
    const caller = await connectAs('announcer');
    const others = [(await connectAs('listener')).socket, (await connectAs('listener', 'acme')).socket, await connectClient(t.url)];
    sockets.push(others[2]!);
    const everyone = [caller.socket, ...others];
    const received = everyone.map((socket) => waitFor<BroadcastPayload>(socket, 'broadcast'));
    const nothingStored = watchUnwanted(caller.socket, HELPER_EVENTS);
    const before = await inboxOf('announcer');

    const res = await post('broadcast', { title: 'System Announcement', message: 'Server maintenance in 10 minutes' }, tokenOf('announcer')).expect(200);
    const { users, connections } = await (async () => {
      const status = await request(t.url).get('/socket/status').expect(200);
      return { users: status.body.socketio.connectedUsers as number, connections: status.body.socketio.totalConnections as number };
    })();
    expect(res.body).toEqual({
      ok: true,
      message: 'Broadcast sent to all connected users',
      userConnected: true,
      note: `Delivered to ${connections} connected sockets`,
      connectedUsers: users,
    });
    const payloads = await Promise.all(received);
    for (const payload of payloads) {
      expect(payload).toEqual({ title: 'System Announcement', message: 'Server maintenance in 10 minutes', from: 'announcer', timestamp: expect.stringMatching(ISO) });
    }
    expect(new Set(payloads.map((payload) => payload.timestamp)).size).toBe(1);
    await nothingStored.expectNothingBefore();
    expect(await inboxOf('announcer')).toEqual(before);
  });

  it('from a caller with no socket: userConnected false; defaults for a missing title and message', async () => {
    const listener = await connectAs('quiet-listener');
    const got = waitFor<BroadcastPayload>(listener.socket, 'broadcast');
    const res = await post('broadcast', {}, tokenOf('not-connected')).expect(200);
    expect(res.body).toMatchObject({ ok: true, userConnected: false });
    expect(await got).toEqual({
      title: '📢 Broadcast Message',
      message: 'This is a broadcast to all connected users!',
      from: 'not-connected',
      timestamp: expect.stringMatching(ISO),
    });
  });
});

describe('refusals', () => {
  const kinds = ['notification', 'email', 'event', 'alarm', 'broadcast'];

  it.each(kinds)('%s: no token, an expired one, or an API key instead is 401, and nothing is sent', async (kind) => {
    const watcher = await connectAs('refusal-watch');
    const watch = watchUnwanted(watcher.socket, [...HELPER_EVENTS, 'broadcast']);
    const body = { title: 'x' };
    expect((await request(t.url).post(`/socket/test/${kind}`).send(body).expect(401)).body.code).toBe('UNAUTHORIZED');
    const expired = signToken({ userId: 'refusal-watch' }, { ttlSeconds: -100 });
    expect((await post(kind, body, expired).expect(401)).body.code).toBe('TOKEN_EXPIRED');
    expect((await post(kind, body, 'not.a.token').expect(401)).body.code).toBe('UNAUTHORIZED');
    await watch.expectNothingBefore();
    expect((await inboxOf('refusal-watch')).notifications).toEqual([]);
  });

  it.each([
    ['notification', 'a type over 32 characters', { type: 'x'.repeat(33) }],
    ['notification', 'a title that is a number', { title: 42 }],
    ['notification', 'a message that is an array', { message: ['not', 'text'] }],
    ['email', 'a from that is an object', { from: { $ne: null } }],
    ['email', 'an id over 128 characters', { id: 'x'.repeat(129) }],
    ['event', 'a time that is a number', { time: 1733670000 }],
    ['alarm', 'a title over 1000 characters', { title: 'x'.repeat(1001) }],
    ['broadcast', 'a message over 10000 characters', { message: 'x'.repeat(10_001) }],
    ['broadcast', 'an array for a body', []],
  ])('%s with %s is 400 INVALID_REQUEST and sends nothing', async (kind, _what, body) => {
    const caller = await connectAs('bad-body');
    const watch = watchUnwanted(caller.socket, [...HELPER_EVENTS, 'broadcast']);
    const res = await post(kind, body, tokenOf('bad-body')).expect(400);
    expect(res.body).toMatchObject({ success: false, code: 'INVALID_REQUEST' });
    await watch.expectNothingBefore();
    expect((await inboxOf('bad-body')).notifications).toEqual([]);
  });
});

it('/openapi.json documents the five endpoints with a Bearer token', async () => {
  const paths = (await request(t.url).get('/openapi.json').expect(200)).body.paths as Record<string, Record<string, { security?: unknown }>>;
  for (const kind of ['notification', 'email', 'event', 'alarm', 'broadcast']) {
    expect(paths[`/socket/test/${kind}`]?.post?.security).toEqual([{ bearer: [] }]);
  }
});
