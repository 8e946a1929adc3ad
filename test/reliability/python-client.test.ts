import { fileURLToPath } from 'node:url';
import request from 'supertest';
import { expect, it } from 'vitest';
import type { ServerToClientEvents } from '../../src/contracts/events.js';
import { connectClient, emitWithAck, openClient, waitFor, type TestSocket } from '../support/client.js';
import { findPython, pythonSkipReason, runPythonClient } from '../support/python-client.js';
import { startServer, type TestServer } from '../support/server.js';
import { TEST_SECRET, signToken } from '../support/tokens.js';

/**
 * Item 14 of issue 10 with a real non-JavaScript client: Debian's python3-socketio, whose
 * client calls a handler with every argument of the event. A one-parameter handler, as a
 * Python application writes it, raised TypeError (and lost the event) for every event
 * while the server appended Socket.IO's recovery offset to all of them.
 */

const SCRIPT = fileURLToPath(new URL('./python/wire_client.py', import.meta.url));

/**
 * How each server event reaches the Python client here. Typed against the contract, so
 * an event added to ServerToClientEvents fails the type check until it is listed.
 */
const SERVER_EVENTS: Record<keyof ServerToClientEvents, 'exercised' | { notExercised: string }> = {
  connection_status: 'exercised',
  'system:welcome': 'exercised',
  connected: 'exercised',
  notification: 'exercised',
  error: 'exercised',
  'register:ack': 'exercised',
  registration_success: 'exercised',
  registration_error: 'exercised',
  pong: 'exercised',
  message: 'exercised',
  'server:response': 'exercised',
  'message:ack': 'exercised',
  'client:message': 'exercised',
  'action:result': 'exercised',
  'room:join:ack': 'exercised',
  'room:leave:ack': 'exercised',
  'system:state_recovered': { notExercised: 'only clients that opt in to recovery are recovered; python-socketio does not' },
  'system:state_recovery_failed': 'exercised',
  session_created: 'exercised',
  new_chat_session: 'exercised',
  session_error: 'exercised',
  message_sent: 'exercised',
  new_message: 'exercised',
  receiver_unavailable: 'exercised',
  message_error: 'exercised',
  message_read: 'exercised',
  message_delivered: 'exercised',
  'chat:pending': 'exercised',
  typing: 'exercised',
  'system:shutdown': 'exercised',
  'notification:new': 'exercised',
  'notification:unread-count': 'exercised',
  'notification:marked-read': 'exercised',
  'notification:deleted': 'exercised',
  'notification:list:ack': 'exercised',
  'notification:read:ack': 'exercised',
  'notification:read-all:ack': 'exercised',
  'notification:delete:ack': 'exercised',
  'kafka-event': 'exercised',
  broadcast: 'exercised',
  'test:notification:ack': 'exercised',
  'job:assigned': 'exercised',
  'job:started': 'exercised',
  'job:completed': 'exercised',
  'job:status-changed': 'exercised',
};

/** Events of the publishers' choosing that the test pushes over HTTP. */
const PUSHED_EVENTS = ['order:shipped', 'system:notification', 'headline', 'invoice:due'];

const python = findPython();

it('a python-socketio client with one-parameter handlers receives every server event with exactly its payload', async (ctx) => {
  // CI installs the package (.ci/run); there a missing client is a failure, never a skip.
  const skip = pythonSkipReason(python);
  if (skip !== undefined) ctx.skip(skip);

  const t: TestServer = await startServer({ JWT_SECRET: TEST_SECRET, CHAT_OFFLINE_MAX_MESSAGES: '1' });
  let peer: TestSocket | undefined;
  let absent: TestSocket | undefined;
  let client: ReturnType<typeof runPythonClient> | undefined;
  try {
    // The peer asks for recovery: its offsets must not leak into what Python gets.
    peer = await connectClient(t.url, { auth: { token: signToken({ userId: 'peer' }), recovery: true } });
    await emitWithAck(peer, 'room:join', { room: 'lobby' });
    // Two messages while Python is offline, with offline delivery capped at one:
    // Python's connect brings one new_message and a chat:pending for the other.
    const offline = await emitWithAck<{ sessionId: string }>(peer, 'create_chat_session', { machineId: 'js', receiverUserId: 'py' });
    for (const text of ['offline 1', 'offline 2']) {
      await emitWithAck(peer, 'send_message', { sessionId: offline.sessionId, message: text });
    }

    // One notification in Python's inbox before it connects: its count at connect, its list.
    const stored = await request(t.url)
      .post('/api/push')
      .send({ userId: 'py', persist: true, data: { type: 'info', title: 'Welcome', message: 'Stored while you were away' } })
      .expect(200);
    const storedId = (stored.body as { notificationIds: string[] }).notificationIds[0]!;

    const names = [...Object.keys(SERVER_EVENTS), ...PUSHED_EVENTS];
    client = runPythonClient(python!, SCRIPT, {
      WIRE_URL: t.url,
      WIRE_TOKEN: signToken({ userId: 'py' }),
      WIRE_PEER: 'peer',
      WIRE_ABSENT: 'absent',
      WIRE_EVENTS: JSON.stringify(names),
    });
    const ready = await client.next('ready', (line) => line.ready === true);

    // The other side of everything Python cannot trigger itself. Each emit is acknowledged
    // after the server has sent Python its event.
    await emitWithAck(peer, 'message', { room: 'lobby', text: 'hi python' });
    await emitWithAck(peer, 'client:message', { content: 'hi python', metadata: { to: 'py' } });
    const live = await emitWithAck<{ sessionId: string }>(peer, 'create_chat_session', { machineId: 'js', receiverUserId: 'py' });
    await emitWithAck(peer, 'send_message', { sessionId: live.sessionId, message: 'live' });
    await emitWithAck(peer, 'typing', { sessionId: live.sessionId });
    await emitWithAck(peer, 'message_read', { sessionId: ready.sessionId, seq: 1 });
    // Python's message to this user was stored; delivering it now tells Python.
    // Listening before it connects: the stored message can come in the same read as CONNECT.
    absent = openClient(t.url, { auth: { token: signToken({ userId: 'absent' }) } });
    await waitFor(absent, 'new_message');
    await client.event('message_delivered');
    await request(t.url).post('/api/push').send({ userId: 'py', event: 'order:shipped', data: { orderId: 7 } }).expect(200);
    await request(t.url).post('/api/broadcast').send({ event: 'system:notification', data: { title: 'Maintenance' } }).expect(200);
    await request(t.url).post('/api/room').send({ room: 'lobby', event: 'headline', data: 'big' }).expect(200);
    await request(t.url).post('/notify').send({ id: 'n-1', timestamp: '2020-01-01T00:00:00.000Z', title: 'Hi' }).expect(200);
    await request(t.url).post('/api/push').send({ userId: 'py', persist: true, event: 'invoice:due', data: { type: 'warning', title: 'Invoice' } }).expect(200);
    await request(t.url)
      .post('/socket/test/broadcast')
      .set('Authorization', `Bearer ${signToken({ userId: 'peer' })}`)
      .send({ title: 'System Announcement', message: 'Server maintenance in 10 minutes' })
      .expect(200);

    // Shutting down sends system:shutdown last, then disconnects: Python then exits.
    peer.close();
    absent.close();
    await t.close();
    const { code, stderr } = await client.exited;
    expect(code, stderr).toBe(0);

    const failed = client.lines.filter((line) => line.error !== undefined);
    expect(failed, 'events python-socketio could not hand to a one-parameter handler').toEqual([]);
    const expected = [...Object.entries(SERVER_EVENTS).filter(([, how]) => how === 'exercised').map(([name]) => name), ...PUSHED_EVENTS];
    const received = new Set(client.lines.map((line) => line.event));
    expect(expected.filter((name) => !received.has(name)), 'events that never reached the handler').toEqual([]);
    expect(client.lines.filter((line) => line.event !== undefined && line.argc !== 1)).toEqual([]);

    const payloadOf = (name: string) => client!.lines.find((line) => line.event === name)?.payload;
    const payloadsOf = (name: string) => client!.lines.filter((line) => line.event === name).map((line) => line.payload);
    expect(payloadOf('order:shipped')).toEqual({ orderId: 7 });
    expect(payloadOf('system:notification')).toEqual({ title: 'Maintenance' });
    expect(payloadOf('headline')).toBe('big');
    // Two `notification` events: test:notification's (below), then /notify's.
    expect(payloadsOf('notification')[1]).toEqual({ id: 'n-1', timestamp: '2020-01-01T00:00:00.000Z', title: 'Hi' });
    expect(payloadOf('connection_status')).toMatchObject({ connected: true, userId: 'py' });
    expect(payloadOf('pong')).toMatchObject({ clientTimestamp: 1 });
    expect(payloadOf('register:ack')).toEqual({ success: true, userId: 'py' });
    expect(payloadOf('registration_error')).toMatchObject({ code: 'FORBIDDEN' });
    expect(payloadOf('error')).toMatchObject({ code: expect.any(String) });
    expect(payloadOf('server:response')).toMatchObject({ success: true, data: { from: 'python' } });
    expect(payloadOf('message')).toMatchObject({ from: 'peer', data: { room: 'lobby', text: 'hi python' } });
    expect(payloadOf('client:message')).toMatchObject({ from: 'peer', content: 'hi python' });
    expect(payloadOf('new_chat_session')).toMatchObject({ senderUserId: 'peer', receiverUserId: 'py' });
    expect(client.lines.filter((line) => line.event === 'new_message').map((line) => line.payload)).toEqual([
      expect.objectContaining({ sessionId: offline.sessionId, message: expect.objectContaining({ message: 'offline 1' }) }),
      expect.objectContaining({ sessionId: live.sessionId, message: expect.objectContaining({ message: 'live' }) }),
    ]);
    expect(payloadOf('chat:pending')).toMatchObject({ sessions: [expect.objectContaining({ sessionId: offline.sessionId, pending: 1 })] });
    expect(payloadOf('typing')).toEqual({ sessionId: live.sessionId, userId: 'peer' });
    expect(payloadOf('message_read')).toMatchObject({ sessionId: ready.sessionId, seq: 1, readerUserId: 'peer' });
    expect(payloadOf('message_delivered')).toMatchObject({ receiverUserId: 'absent', seq: 1 });
    expect(payloadOf('system:shutdown')).toMatchObject({ message: expect.any(String) });
    // The inbox: the count at connect, then Python listed, read, deleted and read all.
    expect(payloadOf('notification:unread-count')).toEqual({ count: 1 });
    expect(payloadOf('notification:list:ack')).toMatchObject({
      success: true,
      unreadCount: 1,
      notifications: [expect.objectContaining({ id: storedId, title: 'Welcome', readAt: null })],
    });
    expect(payloadOf('notification:read:ack')).toMatchObject({ success: true, notificationId: storedId, changed: 1 });
    expect(payloadOf('notification:marked-read')).toMatchObject({ notificationIds: [storedId] });
    expect(payloadOf('notification:deleted')).toEqual({ notificationId: storedId });
    expect(payloadOf('notification:delete:ack')).toEqual({ success: true, notificationId: storedId });
    expect(payloadOf('notification:read-all:ack')).toMatchObject({ success: true, all: true, changed: 0 });
    expect(payloadsOf('notification:new')[1]).toMatchObject({ userId: 'py', event: 'invoice:due', type: 'warning', title: 'Invoice', readAt: null });
    expect(payloadOf('invoice:due')).toMatchObject({ type: 'warning', title: 'Invoice', id: expect.any(String) });
    // The kafka-events mirror of each delivery the test made after Python subscribed.
    const mirrored = payloadsOf('kafka-event') as { topic: string; event: Record<string, unknown>; timestamp: string }[];
    expect(mirrored.map((payload) => payload.topic)).toEqual(expect.arrayContaining(['api.push', 'api.broadcast', 'api.room', 'notify']));
    expect(mirrored.find((payload) => payload.topic === 'api.push')).toEqual({
      topic: 'api.push',
      event: { event: 'order:shipped', data: { orderId: 7 }, userIds: ['py'], recipients: 1 },
      timestamp: expect.any(String),
    });
    // The development helpers: test:notification (seed 003's example) and POST /socket/test/broadcast (seed 004's).
    const stored003 = {
      id: expect.any(String),
      userId: 'py',
      type: 'job_assigned',
      priority: 'HIGH',
      title: 'Test Notification',
      message: 'This is a test',
      event: 'notification',
      createdAt: expect.any(String),
      readAt: null,
    };
    expect(payloadOf('test:notification:ack')).toEqual({ success: true, notification: stored003 });
    const helperId = (payloadOf('test:notification:ack') as { notification: { id: string } }).notification.id;
    expect(payloadsOf('notification:new')[0]).toEqual({ ...stored003, id: helperId });
    expect(payloadsOf('notification')[0]).toEqual({
      type: 'job_assigned',
      priority: 'HIGH',
      title: 'Test Notification',
      message: 'This is a test',
      timestamp: expect.any(String),
      id: helperId,
      notificationId: helperId,
    });
    // Jobs: the one Python created, assigned to itself, started and completed, each answered on the ack.
    const pyJob = { jobId: 1, projectId: 1, jobTypeId: 2, subject: 'Test Job', creatorId: 'py', assigneeId: 'py' };
    expect(payloadOf('job:assigned')).toMatchObject({ ...pyJob, state: 'assigned' });
    expect(payloadOf('job:started')).toMatchObject({ ...pyJob, state: 'started', startedAt: expect.any(String) });
    expect(payloadOf('job:completed')).toMatchObject({ ...pyJob, state: 'completed', note: 'from python' });
    expect(payloadsOf('job:status-changed')).toEqual(
      [['created', 'assigned'], ['assigned', 'started'], ['started', 'completed']].map(([from, to]) => ({ jobId: 1, from, to, at: expect.any(String), by: 'py' })),
    );
    expect(payloadOf('broadcast')).toEqual({ title: 'System Announcement', message: 'Server maintenance in 10 minutes', from: 'peer', timestamp: expect.any(String) });
  } finally {
    client?.child.kill();
    peer?.close();
    absent?.close();
    await t.close();
  }
}, 60_000);
