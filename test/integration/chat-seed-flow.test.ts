/**
 * Seed 001's flow end to end, as its README describes it: two clients register with a
 * machine id and user id, one creates a session, they exchange messages, the receiver
 * goes offline and the sender is told, and the REST API reads it all back. Clients use
 * the seed's event names and payloads and no token (development mode).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, waitFor, type TestSocket } from '../support/client.js';
import { startServer, type TestServer } from '../support/server.js';

describe('seed 001 chat flow', () => {
  let t: TestServer;
  let alice: TestSocket;
  let bob: TestSocket;
  let sessionId: string;
  const emit = (socket: TestSocket, event: string, payload: unknown) =>
    (socket as unknown as { emit(event: string, payload: unknown): void }).emit(event, payload);

  beforeAll(async () => {
    t = await startServer();
    alice = await connectClient(t.url);
    bob = await connectClient(t.url);
  });
  afterAll(async () => {
    alice.close();
    bob.close();
    await t.close();
  });

  it('registers both users', async () => {
    const a = waitFor(alice, 'registration_success');
    const b = waitFor(bob, 'registration_success');
    emit(alice, 'register_user', { machineId: 'machine_abc123', userId: 'user_alice' });
    emit(bob, 'register_user', { machineId: 'machine_def456', userId: 'user_bob' });
    expect(await a).toEqual({ userId: 'user_alice', machineId: 'machine_abc123', socketId: alice.id });
    expect(await b).toMatchObject({ userId: 'user_bob', machineId: 'machine_def456' });
  });

  it('creates a session: the creator gets session_created, the receiver new_chat_session, and a folder appears', async () => {
    const created = waitFor<{ sessionId: string; session: Record<string, unknown> }>(alice, 'session_created');
    const invited = waitFor<Record<string, unknown>>(bob, 'new_chat_session');
    emit(alice, 'create_chat_session', { machineId: 'machine_abc123', senderUserId: 'user_alice', receiverUserId: 'user_bob' });
    const { sessionId: id, session } = await created;
    sessionId = id;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(session).toMatchObject({
      sessionId: id,
      machineId: 'machine_abc123',
      senderUserId: 'user_alice',
      receiverUserId: 'user_bob',
      createdAt: expect.any(String),
      participants: ['user_alice', 'user_bob'],
    });
    expect(await invited).toEqual({ sessionId: id, senderUserId: 'user_alice', receiverUserId: 'user_bob', createdAt: session.createdAt });
    const onDisk = JSON.parse(await readFile(path.join(t.dataDir, id, 'session.json'), 'utf8')) as Record<string, unknown>;
    expect(onDisk).toMatchObject({ sessionId: id, senderUserId: 'user_alice', receiverUserId: 'user_bob', participants: ['user_alice', 'user_bob'] });
  });

  it('sends a message: message_sent to the sender, new_message to the receiver, a line in messages.jsonl', async () => {
    const sent = waitFor<Record<string, unknown>>(alice, 'message_sent');
    const received = waitFor<{ sessionId: string; message: Record<string, unknown> }>(bob, 'new_message');
    emit(alice, 'send_message', {
      sessionId,
      machineId: 'machine_abc123',
      senderUserId: 'user_alice',
      receiverUserId: 'user_bob',
      message: 'Hello, Bob!',
    });
    const ack = await sent;
    expect(ack).toEqual({ sessionId, messageId: expect.any(String), seq: 1, timestamp: expect.any(String), delivered: true, duplicate: false });
    const { message } = await received;
    expect(message).toMatchObject({
      id: ack.messageId,
      seq: 1,
      senderUserId: 'user_alice',
      receiverUserId: 'user_bob',
      message: 'Hello, Bob!',
      machineId: 'machine_abc123',
      timestamp: ack.timestamp,
    });
    const lines = (await readFile(path.join(t.dataDir, sessionId, 'messages.jsonl'), 'utf8')).trim().split('\n');
    expect(lines.map((line) => JSON.parse(line) as { message: string })).toEqual([expect.objectContaining({ message: 'Hello, Bob!' })]);
  });

  it('answers in the other direction too', async () => {
    const received = waitFor<{ message: { message: string } }>(alice, 'new_message');
    emit(bob, 'send_message', { sessionId, machineId: 'machine_def456', senderUserId: 'user_bob', receiverUserId: 'user_alice', message: 'Hi Alice' });
    expect((await received).message.message).toBe('Hi Alice');
  });

  it('tells the sender when the receiver is offline, and still stores the message', async () => {
    const gone = waitFor(bob, 'disconnect');
    bob.close();
    await gone;
    for (let i = 0; i < 50 && (await request(t.url).get('/api/users/user_bob/presence')).body.online; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const unavailable = waitFor<Record<string, unknown>>(alice, 'receiver_unavailable');
    const sent = waitFor<Record<string, unknown>>(alice, 'message_sent');
    emit(alice, 'send_message', { sessionId, machineId: 'machine_abc123', senderUserId: 'user_alice', receiverUserId: 'user_bob', message: 'Are you there?' });
    const ack = await sent;
    expect(ack).toMatchObject({ delivered: false, seq: 3 });
    expect(await unavailable).toEqual({ sessionId, receiverUserId: 'user_bob', messageId: ack.messageId, stored: true });
  });

  it('reads the session back over REST in the seed Session Data Structure', async () => {
    const res = await request(t.url).get(`/api/sessions/${sessionId}`).expect(200);
    expect(res.body).toMatchObject({
      sessionId,
      machineId: 'machine_abc123',
      senderUserId: 'user_alice',
      receiverUserId: 'user_bob',
      createdAt: expect.any(String),
      participants: ['user_alice', 'user_bob'],
    });
    expect(res.body.messages.map((m: { message: string }) => m.message)).toEqual(['Hello, Bob!', 'Hi Alice', 'Are you there?']);
    expect(res.body.messages[0]).toEqual(
      expect.objectContaining({ id: expect.any(String), senderUserId: 'user_alice', receiverUserId: 'user_bob', message: 'Hello, Bob!', timestamp: expect.any(String), machineId: 'machine_abc123' }),
    );
    const list = await request(t.url).get('/api/users/user_bob/sessions').expect(200);
    expect(list.body.sessions).toEqual([
      expect.objectContaining({ sessionId, messageCount: 3, unreadCount: 2, lastMessage: expect.objectContaining({ message: 'Are you there?' }) }),
    ]);
    const status = await request(t.url).get('/api/status').expect(200);
    expect(status.body).toMatchObject({ activeConnections: 1, activeUsers: 1 });
  });

  it('delivers what the receiver missed when they come back', async () => {
    const { io } = await import('socket.io-client');
    const back: TestSocket = io(t.url, { transports: ['websocket'], forceNew: true });
    const missed = new Promise<string[]>((resolve) => {
      back.on('new_message', ({ message }) => resolve([message.message]));
    });
    await waitFor(back, 'connection_status');
    emit(back, 'register_user', { machineId: 'machine_def456', userId: 'user_bob' });
    expect(await missed).toEqual(['Are you there?']);
    back.close();
  });
});
