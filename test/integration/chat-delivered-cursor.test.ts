import request from 'supertest';
import { io } from 'socket.io-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { MessageSent, NewMessagePayload } from '../../src/contracts/events.js';
import { connectClient, emitWithAck, serverSawDisconnect, waitFor, watchUnwanted, type TestSocket } from '../support/client.js';
import { startServer, type TestServer } from '../support/server.js';
import { TEST_SECRET, signToken } from '../support/tokens.js';

/**
 * The receiver's delivered cursor, which decides what offline delivery hands a user at
 * connect: it moves where a socket of theirs is handed a message (the node holding the
 * socket), and a retried send of a message no socket was handed hands it over then.
 */

const KEY = 'chat-cursor-key-0123456789';

describe('the delivered cursor of chat', () => {
  let t: TestServer;
  let alice: TestSocket;
  const extra: TestSocket[] = [];

  beforeAll(async () => {
    // One message per connect, so that a connect can leave one undelivered on purpose.
    t = await startServer({ JWT_SECRET: TEST_SECRET, API_KEYS: KEY, CHAT_OFFLINE_MAX_MESSAGES: '1' });
    alice = await connectClient(t.url, { auth: { token: signToken({ userId: 'alice' }) } });
  });
  afterEach(async () => {
    for (const socket of extra.splice(0)) {
      if (!socket.connected) continue;
      const gone = serverSawDisconnect(t.server.io, socket);
      socket.close();
      await gone;
    }
  });
  afterAll(async () => {
    alice.close();
    await t.close();
  });

  const sessionWith = async (receiverUserId: string) =>
    (await emitWithAck<{ sessionId: string }>(alice, 'create_chat_session', { machineId: 'm', receiverUserId })).sessionId;
  const send = (sessionId: string, message: string, clientMessageId?: string) =>
    emitWithAck<MessageSent>(alice, 'send_message', { sessionId, message, ...(clientMessageId === undefined ? {} : { clientMessageId }) });
  /** Connects as `userId`, listening from before the connect: offline delivery starts as it connects. */
  const arrive = (userId: string) => {
    const socket: TestSocket = io(t.url, { auth: { token: signToken({ userId }) }, transports: ['websocket'], forceNew: true, reconnection: false });
    extra.push(socket);
    return socket;
  };
  const leave = async (socket: TestSocket) => {
    const gone = serverSawDisconnect(t.server.io, socket);
    socket.close();
    await gone;
  };

  it('does not offer a message handed to a socket live again at the next connect', async () => {
    const sessionId = await sessionWith('bob');
    const bob = arrive('bob');
    await waitFor(bob, 'connection_status');
    const live = waitFor<NewMessagePayload>(bob, 'new_message');
    expect(await send(sessionId, 'live')).toMatchObject({ delivered: true });
    expect((await live).message.message).toBe('live');
    await leave(bob);

    expect(await send(sessionId, 'while away')).toMatchObject({ delivered: false });
    const back = arrive('bob');
    // Offline delivery goes oldest first: a message offered again would come before this one.
    const first = await waitFor<NewMessagePayload>(back, 'new_message');
    expect([first.message.message, first.message.seq]).toEqual(['while away', 2]);
  });

  it('hands a retried message to the receiver when no socket of theirs was handed it, and not otherwise', async () => {
    const sessionId = await sessionWith('carol');
    await send(sessionId, 'one', 'c-1');
    await send(sessionId, 'two', 'c-2');
    // Carol connects and is handed only the first (CHAT_OFFLINE_MAX_MESSAGES=1).
    const carol = arrive('carol');
    const first = waitFor<NewMessagePayload>(carol, 'new_message');
    const pending = waitFor(carol, 'chat:pending');
    expect((await first).message.message).toBe('one');
    // Sent once her cursor was moved past the first.
    expect(await pending).toMatchObject({ sessions: [{ sessionId, after: 1, pending: 1 }] });

    // The retry of the one she was not handed hands it to her now.
    const handed = waitFor<NewMessagePayload>(carol, 'new_message');
    expect(await send(sessionId, 'two', 'c-2')).toMatchObject({ seq: 2, duplicate: true, delivered: true });
    expect((await handed).message).toMatchObject({ seq: 2, message: 'two', clientMessageId: 'c-2' });

    // Retries of the ones she was handed are answered, and hand her nothing.
    const unwanted = watchUnwanted(carol, ['new_message']);
    expect(await send(sessionId, 'one', 'c-1')).toMatchObject({ seq: 1, duplicate: true, delivered: true });
    expect(await send(sessionId, 'two', 'c-2')).toMatchObject({ seq: 2, duplicate: true, delivered: true });
    await unwanted.expectNothingBefore();
  });

  it('lets a publisher push its own event named new_message, of any shape, to a user who is also chatting', async () => {
    const sessionId = await sessionWith('dave');
    const dave = await connectClient(t.url, { auth: { token: signToken({ userId: 'dave' }) } });
    extra.push(dave);
    const received: unknown[] = [];
    const fourArrived = new Promise<void>((resolve) =>
      dave.on('new_message', (payload) => {
        received.push(payload);
        if (received.length === 4) resolve();
      }),
    );
    const shapes = ['text', { message: null }, { sessionId, message: { seq: 'x', receiverUserId: 'dave' } }];
    for (const data of shapes) await request(t.url).post('/api/push').set('X-API-Key', KEY).send({ userId: 'dave', event: 'new_message', data }).expect(200);
    expect(await send(sessionId, 'still chatting')).toMatchObject({ delivered: true });
    await fourArrived;
    expect(received.slice(0, 3)).toEqual(shapes);
    expect((received[3] as NewMessagePayload).message.message).toBe('still chatting');
  });
});
