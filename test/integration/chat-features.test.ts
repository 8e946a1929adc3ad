import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MessageSent, NewMessagePayload } from '../../src/contracts/events.js';
import { connectClient, emitWithAck, serverSawDisconnect, waitFor, watchUnwanted, type TestSocket } from '../support/client.js';
import { startServer, type TestServer } from '../support/server.js';
import { TEST_SECRET, signToken } from '../support/tokens.js';

const KEY = 'chat-test-key-0123456789';

describe('chat with tokens: identity, read receipts, idempotency, typing, unread counts', () => {
  let t: TestServer;
  let alice: TestSocket;
  let bob: TestSocket;
  let sessionId: string;

  beforeAll(async () => {
    t = await startServer({ JWT_SECRET: TEST_SECRET, API_KEYS: KEY, ALLOW_ANONYMOUS: 'false' });
    alice = await connectClient(t.url, { auth: { token: signToken({ userId: 'alice' }) } });
    bob = await connectClient(t.url, { auth: { token: signToken({ userId: 'bob' }) } });
    const created = await emitWithAck<{ sessionId: string }>(alice, 'create_chat_session', { machineId: 'm-a', receiverUserId: 'bob' });
    sessionId = created.sessionId;
  });
  afterAll(async () => {
    alice.close();
    bob.close();
    await t.close();
  });

  it('takes the sender from the token; a different senderUserId is FORBIDDEN', async () => {
    const ack = await emitWithAck<MessageSent>(alice, 'send_message', { sessionId, message: 'from the token' });
    expect(ack).toMatchObject({ seq: 1, delivered: true });
    const error = waitFor(alice, 'message_error');
    expect(await emitWithAck(alice, 'send_message', { sessionId, senderUserId: 'bob', message: 'spoof' })).toMatchObject({ success: false, code: 'FORBIDDEN' });
    expect(await error).toMatchObject({ code: 'FORBIDDEN', error: expect.any(String) });
  });

  it('refuses a session the user is not part of with NOT_FOUND, and a bad id with INVALID_REQUEST', async () => {
    const mallory = await connectClient(t.url, { auth: { token: signToken({ userId: 'mallory' }) } });
    expect(await emitWithAck(mallory, 'send_message', { sessionId, message: 'hi' })).toMatchObject({ success: false, code: 'NOT_FOUND' });
    expect(await emitWithAck(mallory, 'message_read', { sessionId, seq: 1 })).toMatchObject({ success: false, code: 'NOT_FOUND' });
    expect(await emitWithAck(mallory, 'send_message', { sessionId: '../../etc', message: 'hi' })).toMatchObject({ code: 'INVALID_REQUEST' });
    expect(await emitWithAck(alice, 'create_chat_session', { machineId: 'm', receiverUserId: 'alice' })).toMatchObject({ code: 'INVALID_REQUEST' });
    mallory.close();
  });

  it('refuses a message over MAX_MESSAGE_BYTES with PAYLOAD_TOO_LARGE and an empty one with INVALID_REQUEST', async () => {
    expect(await emitWithAck(alice, 'send_message', { sessionId, message: 'é'.repeat(5121) })).toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    expect(await emitWithAck(alice, 'send_message', { sessionId, message: '' })).toMatchObject({ code: 'INVALID_REQUEST' });
  });

  it('stores one message per clientMessageId: a retry returns the first', async () => {
    const first = await emitWithAck<MessageSent>(alice, 'send_message', { sessionId, message: 'once', clientMessageId: 'c-1' });
    const retry = await emitWithAck<MessageSent>(alice, 'send_message', { sessionId, message: 'once', clientMessageId: 'c-1' });
    expect(first.duplicate).toBe(false);
    expect(retry).toMatchObject({ messageId: first.messageId, seq: first.seq, duplicate: true, delivered: true });
    const page = await request(t.url).get(`/api/sessions/${sessionId}/messages`).set('X-API-Key', KEY).expect(200);
    expect(page.body.messages.filter((m: { clientMessageId?: string }) => m.clientMessageId === 'c-1')).toHaveLength(1);
  });

  it('relays typing to the other participant only', async () => {
    const typing = waitFor(bob, 'typing');
    const echo = watchUnwanted(alice, ['typing']);
    expect(await emitWithAck(alice, 'typing', { sessionId })).toEqual({ success: true });
    expect(await typing).toEqual({ sessionId, userId: 'alice' });
    await echo.expectNothingBefore();
  });

  it('counts unread messages and clears them with read receipts that reach the sender', async () => {
    const unreadBefore = await request(t.url).get('/api/users/bob/sessions').set('X-API-Key', KEY).expect(200);
    expect(unreadBefore.body.sessions[0]).toMatchObject({ sessionId, messageCount: 2, unreadCount: 2 });
    const receipt = waitFor(alice, 'message_read');
    expect(await emitWithAck(bob, 'message_read', { sessionId, seq: 1 })).toEqual({ success: true, sessionId, seq: 1 });
    expect(await receipt).toEqual({ sessionId, seq: 1, readerUserId: 'bob' });
    const after = await request(t.url).get('/api/users/bob/sessions').set('X-API-Key', KEY).expect(200);
    expect(after.body.sessions[0].unreadCount).toBe(1);
    // Cursors never move backwards.
    expect(await emitWithAck(bob, 'message_read', { sessionId, seq: 0 })).toMatchObject({ seq: 1 });
    expect((await request(t.url).get(`/api/sessions/${sessionId}`).set('X-API-Key', KEY)).body.cursors.bob).toMatchObject({ read: 1 });
  });

  it('delivers messages sent while the receiver was offline, oldest first, on reconnect', async () => {
    const carolToken = signToken({ userId: 'carol' });
    const created = await emitWithAck<{ sessionId: string }>(alice, 'create_chat_session', { machineId: 'm-a', receiverUserId: 'carol' });
    for (const text of ['one', 'two', 'three']) {
      expect(await emitWithAck(alice, 'send_message', { sessionId: created.sessionId, message: text })).toMatchObject({ delivered: false });
    }
    const { io } = await import('socket.io-client');
    const deliveredReceipt = waitFor(alice, 'message_delivered');
    const carol: TestSocket = io(t.url, { auth: { token: carolToken }, transports: ['websocket'], forceNew: true });
    const received: NewMessagePayload[] = [];
    const all = new Promise<void>((resolve) => {
      carol.on('new_message', (payload) => {
        received.push(payload);
        if (received.length === 3) resolve();
      });
    });
    await all;
    expect(received.map((p) => [p.sessionId, p.message.message, p.message.seq])).toEqual([
      [created.sessionId, 'one', 1],
      [created.sessionId, 'two', 2],
      [created.sessionId, 'three', 3],
    ]);
    expect(await deliveredReceipt).toEqual({ sessionId: created.sessionId, seq: 3, receiverUserId: 'carol' });
    const gone = serverSawDisconnect(t.server.io, carol);
    carol.close();
    await gone;
    // Delivered now: the next connection is handed only what came after. Offline delivery
    // goes oldest first, so a message offered again would arrive before this one.
    expect(await emitWithAck(alice, 'send_message', { sessionId: created.sessionId, message: 'four' })).toMatchObject({ delivered: false });
    const again: TestSocket = io(t.url, { auth: { token: carolToken }, transports: ['websocket'], forceNew: true });
    const first = await waitFor<NewMessagePayload>(again, 'new_message');
    expect([first.sessionId, first.message.message, first.message.seq]).toEqual([created.sessionId, 'four', 4]);
    again.close();
  });
});

describe('chat REST API', () => {
  let t: TestServer;
  let sessionId: string;
  const aliceToken = () => signToken({ userId: 'alice' });
  const api = () => request(t.url);

  beforeAll(async () => {
    t = await startServer({ JWT_SECRET: TEST_SECRET, API_KEYS: KEY });
    const res = await api().post('/api/sessions').set('X-API-Key', KEY).send({ machineId: 'backend', senderUserId: 'alice', receiverUserId: 'bob' }).expect(201);
    sessionId = res.body.sessionId;
  });
  afterAll(() => t.close());

  it('creates and sends from a backend with the same events and guarantees as the socket path', async () => {
    const bob = await connectClient(t.url, { auth: { token: signToken({ userId: 'bob' }) } });
    const live = waitFor<NewMessagePayload>(bob, 'new_message');
    const res = await api()
      .post(`/api/sessions/${sessionId}/messages`)
      .set('X-API-Key', KEY)
      .send({ senderUserId: 'alice', message: 'from the backend', clientMessageId: 'b-1' })
      .expect(201);
    expect(res.body).toMatchObject({ success: true, sessionId, seq: 1, delivered: true, duplicate: false, message: { message: 'from the backend' } });
    expect((await live).message.id).toBe(res.body.messageId);
    const retry = await api().post(`/api/sessions/${sessionId}/messages`).set('X-API-Key', KEY).send({ senderUserId: 'alice', message: 'from the backend', clientMessageId: 'b-1' }).expect(200);
    expect(retry.body).toMatchObject({ messageId: res.body.messageId, duplicate: true });
    bob.close();
    expect((await api().post(`/api/sessions/${sessionId}/messages`).set('X-API-Key', KEY).send({ message: 'x' }).expect(400)).body.code).toBe('INVALID_REQUEST');
  });

  it('pages messages with after/limit and a nextAfter cursor', async () => {
    for (let i = 2; i <= 5; i++) {
      await api().post(`/api/sessions/${sessionId}/messages`).set('Authorization', `Bearer ${aliceToken()}`).send({ message: `m${i}` }).expect(201);
    }
    const first = await api().get(`/api/sessions/${sessionId}/messages?limit=2`).set('X-API-Key', KEY).expect(200);
    expect(first.body.messages.map((m: { seq: number }) => m.seq)).toEqual([1, 2]);
    expect(first.body.nextAfter).toBe(2);
    const last = await api().get(`/api/sessions/${sessionId}/messages?after=4&limit=2`).set('X-API-Key', KEY).expect(200);
    expect(last.body.messages.map((m: { seq: number }) => m.seq)).toEqual([5]);
    expect(last.body.nextAfter).toBeUndefined();
    const viaSession = await api().get(`/api/sessions/${sessionId}?after=3&limit=1`).set('X-API-Key', KEY).expect(200);
    expect(viaSession.body).toMatchObject({ sessionId, nextAfter: 4, messages: [expect.objectContaining({ seq: 4 })] });
    expect((await api().get(`/api/sessions/${sessionId}/messages?limit=501`).set('X-API-Key', KEY).expect(400)).body.code).toBe('INVALID_REQUEST');
  });

  it("scopes a user's Bearer token to that user's sessions: someone else's is 404, not 403", async () => {
    await api().get(`/api/sessions/${sessionId}`).set('Authorization', `Bearer ${aliceToken()}`).expect(200);
    const mallory = signToken({ userId: 'mallory' });
    const res = await api().get(`/api/sessions/${sessionId}`).set('Authorization', `Bearer ${mallory}`).expect(404);
    expect(res.body.code).toBe('NOT_FOUND');
    await api().get(`/api/sessions/${sessionId}/messages`).set('Authorization', `Bearer ${mallory}`).expect(404);
    await api().delete(`/api/sessions/${sessionId}`).set('Authorization', `Bearer ${mallory}`).expect(404);
    expect((await api().get('/api/users/alice/sessions').set('Authorization', `Bearer ${mallory}`).expect(200)).body.sessions).toEqual([]);
    const own = await api().get('/api/users/alice/sessions').set('Authorization', `Bearer ${aliceToken()}`).expect(200);
    expect(own.body.sessions).toHaveLength(1);
    const tenantAlice = signToken({ userId: 'alice', tenantId: 'other' });
    await api().get(`/api/sessions/${sessionId}`).set('Authorization', `Bearer ${tenantAlice}`).expect(404);
  });

  it('scopes Bearer requests in development too, where the API is otherwise open', async () => {
    const dev = await startServer({ JWT_SECRET: TEST_SECRET });
    try {
      const created = await request(dev.url).post('/api/sessions').send({ machineId: 'm', senderUserId: 'alice', receiverUserId: 'bob' }).expect(201);
      const id = created.body.sessionId as string;
      await request(dev.url).get(`/api/sessions/${id}`).expect(200);
      await request(dev.url).get(`/api/sessions/${id}`).set('Authorization', `Bearer ${signToken({ userId: 'mallory' })}`).expect(404);
    } finally {
      await dev.close();
    }
  });

  it('refuses path traversal in session ids with 400 before touching storage', async () => {
    for (const id of ['..%2F..%2Fetc%2Fpasswd', '..%2F', '%2e%2e', '..', `${sessionId}%2F..`, 'x'.repeat(37)]) {
      const res = await api().get(`/api/sessions/${id}`).set('X-API-Key', KEY);
      expect([res.status, res.body.code], id).toEqual([400, 'INVALID_REQUEST']);
    }
    expect((await api().get('/api/sessions/..%2F..%2Fetc%2Fpasswd').set('X-API-Key', KEY)).status).toBe(400);
    expect((await api().delete('/api/sessions/..%2F').set('X-API-Key', KEY)).status).toBe(400);
    expect((await api().post('/api/sessions/..%2F/messages').set('X-API-Key', KEY).send({ senderUserId: 'a', message: 'x' })).status).toBe(400);
  });

  it('answers unknown sessions with 404 and deletes sessions', async () => {
    await api().get('/api/sessions/00000000-0000-4000-8000-000000000000').set('X-API-Key', KEY).expect(404);
    await api().delete(`/api/sessions/${sessionId}`).set('Authorization', `Bearer ${aliceToken()}`).expect(200);
    await api().get(`/api/sessions/${sessionId}`).set('X-API-Key', KEY).expect(404);
  });
});
