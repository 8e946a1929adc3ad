import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { io } from 'socket.io-client';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import type { ChatSessionSummary } from '../../src/contracts/chat.js';
import type { MessageSent, NewMessagePayload } from '../../src/contracts/events.js';
import { connectClient, emitWithAck, waitFor, type TestSocket } from '../support/client.js';
import { restartServer, startServer, type TestServer } from '../support/server.js';
import { TEST_SECRET, signToken } from '../support/tokens.js';

/**
 * Item 13 of issue 10: user ids are keys of the `cursors` object in memory and in
 * session.json. A user named `__proto__` used to lose their cursors on restart (assigning
 * that key to an ordinary object sets its prototype instead of adding a property, so the
 * cursor vanished from the file): unread counts jumped and messages were offered again.
 */

const ENV = { JWT_SECRET: TEST_SECRET };
const PAIRS: [string, string][] = [
  ['__proto__', 'constructor'],
  ['hasOwnProperty', 'toString'],
];

let t: TestServer | undefined;
const sockets: TestSocket[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.close();
  await t?.close();
  t = undefined;
});

async function connectAs(server: TestServer, userId: string): Promise<TestSocket> {
  const socket = await connectClient(server.url, { auth: { token: signToken({ userId }) } });
  sockets.push(socket);
  return socket;
}

/** A socket with its listeners still to be added: it connects on `connect()`. */
function unconnected(server: TestServer, userId: string): TestSocket {
  const socket: TestSocket = io(server.url, { auth: { token: signToken({ userId }) }, transports: ['websocket'], reconnection: false, forceNew: true, autoConnect: false });
  sockets.push(socket);
  return socket;
}

const bearer = (userId: string) => `Bearer ${signToken({ userId })}`;

async function sessionsOf(server: TestServer, userId: string): Promise<ChatSessionSummary[]> {
  const res = await request(server.url).get(`/api/users/${encodeURIComponent(userId)}/sessions`).set('Authorization', bearer(userId)).expect(200);
  return (res.body as { sessions: ChatSessionSummary[] }).sessions;
}

/**
 * `sender` sends three messages while `receiver` is offline; the receiver connects (the
 * three are delivered offline), reads up to 2 and answers once (delivered live).
 */
async function converse(server: TestServer, sender: string, receiver: string): Promise<string> {
  const from = await connectAs(server, sender);
  const { sessionId } = await emitWithAck<{ sessionId: string }>(from, 'create_chat_session', { machineId: 'm', receiverUserId: receiver });
  for (const text of ['one', 'two', 'three']) await emitWithAck<MessageSent>(from, 'send_message', { sessionId, message: text });

  const to = unconnected(server, receiver);
  const offline: NewMessagePayload[] = [];
  const third = new Promise<void>((resolve) =>
    to.on('new_message', (payload) => {
      offline.push(payload);
      if (payload.message.seq === 3) resolve();
    }),
  );
  to.connect();
  await third;
  expect(offline.map((p) => p.message.message)).toEqual(['one', 'two', 'three']);
  // The receipt of the offline delivery is what tells that the delivered cursor is stored.
  await waitFor(from, 'message_delivered');

  expect(await emitWithAck(to, 'message_read', { sessionId, seq: 2 })).toEqual({ success: true, sessionId, seq: 2 });
  const live = waitFor<NewMessagePayload>(from, 'new_message');
  expect(await emitWithAck<MessageSent>(to, 'send_message', { sessionId, message: 'four' })).toMatchObject({ seq: 4, delivered: true });
  expect((await live).message.seq).toBe(4);
  return sessionId;
}

describe('user ids that are names of Object.prototype members', () => {
  it('keeps cursors and unread counts of __proto__, constructor, hasOwnProperty and toString across a restart', async () => {
    t = await startServer(ENV);
    const sessionIds = new Map<string, string>();
    for (const [sender, receiver] of PAIRS) sessionIds.set(sender, await converse(t, sender, receiver));

    const expected = (sender: string, receiver: string) => ({
      sender: { unreadCount: 1, cursor: { delivered: 4, read: 0 } },
      receiver: { unreadCount: 1, cursor: { delivered: 3, read: 2 } },
      cursors: { [sender]: { delivered: 4, read: 0 }, [receiver]: { delivered: 3, read: 2 } },
    });
    const check = async (server: TestServer) => {
      for (const [sender, receiver] of PAIRS) {
        const want = expected(sender, receiver);
        const [ofSender] = await sessionsOf(server, sender);
        const [ofReceiver] = await sessionsOf(server, receiver);
        expect(ofSender?.sessionId).toBe(sessionIds.get(sender));
        expect(ofSender).toMatchObject({ unreadCount: want.sender.unreadCount, messageCount: 4 });
        expect(ofReceiver).toMatchObject({ unreadCount: want.receiver.unreadCount, messageCount: 4 });
        // Own properties, not inherited ones: `{}.constructor` exists on every object.
        for (const summary of [ofSender, ofReceiver]) {
          expect(Object.keys(summary!.cursors).sort()).toEqual([sender, receiver].sort());
        }
        expect(ofSender!.cursors[sender]).toEqual(want.sender.cursor);
        expect(ofSender!.cursors[receiver]).toEqual(want.receiver.cursor);
      }
    };

    await check(t);
    // Closed gracefully: the deferred delivered cursor of the live answer is flushed too.
    t = await restartServer(t, ENV);
    await check(t);

    // On disk, each participant's cursor is an own key of session.json's `cursors`.
    for (const [sender, receiver] of PAIRS) {
      const file = path.join(t.dataDir, sessionIds.get(sender)!, 'session.json');
      const stored = JSON.parse(await readFile(file, 'utf8')) as { cursors: Record<string, unknown> };
      expect(Object.keys(stored.cursors).sort()).toEqual([sender, receiver].sort());
      expect(Object.hasOwn(stored.cursors, sender) && Object.hasOwn(stored.cursors, receiver)).toBe(true);
    }
  });

  it('does not offer delivered messages again to __proto__ after a restart', async () => {
    t = await startServer(ENV);
    const sessionId = await converse(t, 'constructor', '__proto__');
    t = await restartServer(t, ENV);

    // Whatever offline delivery pushes at connect comes before the sentinel message,
    // which is sent after the connection and answered to its sender only once stored.
    const proto = unconnected(t, '__proto__');
    const received: number[] = [];
    proto.on('new_message', (payload) => received.push(payload.message.seq));
    const connected = waitFor(proto, 'connected');
    proto.connect();
    await connected;
    const constructorSocket = await connectAs(t, 'constructor');
    const sentinel = waitFor<NewMessagePayload>(proto, 'new_message');
    // The first new_message __proto__ receives must be the sentinel (seq 5), not seqs 1-3 again.
    await emitWithAck<MessageSent>(constructorSocket, 'send_message', { sessionId, message: 'sentinel' });
    expect((await sentinel).message.seq).toBe(5);
    expect(received).toEqual([5]);
  });
});
