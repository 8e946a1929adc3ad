import request from 'supertest';
import { io } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import type { ChatSessionSummary, ChatMessage } from '../../src/contracts/chat.js';
import type { ChatPendingPayload, MessageSent, NewChatSessionPayload, NewMessagePayload } from '../../src/contracts/events.js';
import type { ServerOverrides } from '../../src/server.js';
import { createMemoryChatStore } from '../../src/storage/memory/memory-chat-store.js';
import { connectClient, emitWithAck, waitFor, watchUnwanted, type TestSocket } from '../support/client.js';
import { createTestClock, type TestClock } from '../support/clock.js';
import { restartServer, startServer, type TestServer } from '../support/server.js';
import { TEST_SECRET, signToken } from '../support/tokens.js';

/**
 * Item 3 of issue 10: one user with default limits created 2,000 sessions with 10 KB
 * messages aimed at one victim, whose session list became a 20 MB body and whose next
 * connect pushed 20 MB of `new_message`. Now: per-user quotas (sessions created, messages
 * a minute, new sessions to one user an hour) on sockets and REST alike, a paged session
 * list, and a total cap on what offline delivery pushes at connect.
 */

const KEY = 'quota-test-key-0123456789';
const MINUTE = 60_000;
const DAY_SECONDS = 24 * 3600;

let t: TestServer | undefined;
const sockets: TestSocket[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.close();
  await t?.close();
  t = undefined;
});

/** A server on a clock that only moves when the test moves it. */
async function start(env: Record<string, string>, overrides: ServerOverrides = {}): Promise<{ server: TestServer; clock: TestClock }> {
  const clock = createTestClock();
  t = await startServer({ JWT_SECRET: TEST_SECRET, API_KEYS: KEY, RATE_LIMIT_HTTP_PER_MINUTE: '100000', ...env }, { clock, ...overrides });
  return { server: t, clock };
}

// Tokens outlive every move of the test clock.
const tokenOf = (userId: string) => signToken({ userId }, { ttlSeconds: 7 * DAY_SECONDS });
const bearer = (userId: string) => `Bearer ${tokenOf(userId)}`;

async function connectAs(server: TestServer, userId: string): Promise<TestSocket> {
  const socket = await connectClient(server.url, { auth: { token: tokenOf(userId) } });
  sockets.push(socket);
  return socket;
}

/** A socket whose listeners are added before it connects (offline delivery starts at once). */
function unconnected(server: TestServer, userId: string): TestSocket {
  const socket: TestSocket = io(server.url, { auth: { token: tokenOf(userId) }, transports: ['websocket'], reconnection: false, forceNew: true, autoConnect: false });
  sockets.push(socket);
  return socket;
}

const createOverRest = (server: TestServer, userId: string, receiverUserId: string) =>
  request(server.url).post('/api/sessions').set('Authorization', bearer(userId)).send({ machineId: 'm', receiverUserId });

const createAsBackend = async (server: TestServer, senderUserId: string, receiverUserId: string): Promise<string> => {
  const res = await request(server.url).post('/api/sessions').set('X-API-Key', KEY).send({ machineId: 'm', senderUserId, receiverUserId }).expect(201);
  return (res.body as { sessionId: string }).sessionId;
};

const sendAsBackend = (server: TestServer, sessionId: string, senderUserId: string, message: string) =>
  request(server.url).post(`/api/sessions/${sessionId}/messages`).set('X-API-Key', KEY).send({ senderUserId, message }).expect(201);

async function sessionIdsOf(server: TestServer, userId: string): Promise<string[]> {
  const res = await request(server.url).get(`/api/users/${userId}/sessions?limit=200`).set('X-API-Key', KEY).expect(200);
  return (res.body as { sessions: ChatSessionSummary[] }).sessions.map((s) => s.sessionId);
}

describe('messages per user per minute', () => {
  it('counts a user across sockets and REST, answers RATE_LIMITED with retryAfter on every channel, and stores nothing refused', async () => {
    const { server, clock } = await start({ CHAT_MESSAGES_PER_USER_PER_MINUTE: '3' });
    const sessionId = await createAsBackend(server, 'alice', 'bob');
    const first = await connectAs(server, 'alice');
    const second = await connectAs(server, 'alice');

    await emitWithAck<MessageSent>(first, 'send_message', { sessionId, message: 'one' });
    await emitWithAck<MessageSent>(second, 'send_message', { sessionId, message: 'two' });
    await request(server.url).post(`/api/sessions/${sessionId}/messages`).set('Authorization', bearer('alice')).send({ message: 'three' }).expect(201);

    clock.advance(20_000);
    const messageError = waitFor(first, 'message_error');
    const errorEvent = waitFor(first, 'error');
    expect(await emitWithAck(first, 'send_message', { sessionId, message: 'four' })).toMatchObject({
      success: false,
      error: expect.any(String),
      code: 'RATE_LIMITED',
      retryAfter: 40,
    });
    expect(await messageError).toEqual({ error: expect.any(String), code: 'RATE_LIMITED', retryAfter: 40 });
    expect(await errorEvent).toMatchObject({ event: 'send_message', code: 'RATE_LIMITED', retryAfter: 40 });
    expect(await emitWithAck(second, 'send_message', { sessionId, message: 'four' })).toMatchObject({ code: 'RATE_LIMITED' });
    const rest = await request(server.url).post(`/api/sessions/${sessionId}/messages`).set('Authorization', bearer('alice')).send({ message: 'four' });
    expect(rest.status).toBe(429);
    expect(rest.body).toMatchObject({ success: false, code: 'RATE_LIMITED', retryAfter: 40 });

    // The other participant has a window of their own, and the backend (API key) is not a user.
    const bob = await connectAs(server, 'bob');
    expect(await emitWithAck<MessageSent>(bob, 'send_message', { sessionId, message: 'from bob' })).toMatchObject({ seq: 4 });
    await sendAsBackend(server, sessionId, 'alice', 'from the backend');

    clock.advance(40_000);
    expect(await emitWithAck<MessageSent>(first, 'send_message', { sessionId, message: 'a minute later' })).toMatchObject({ seq: 6 });

    const stored = await request(server.url).get(`/api/sessions/${sessionId}/messages`).set('X-API-Key', KEY).expect(200);
    expect(stored.body.messages.map((m: ChatMessage) => m.message)).toEqual(['one', 'two', 'three', 'from bob', 'from the backend', 'a minute later']);
  });
});

describe('new sessions to one user per hour', () => {
  it('answers RATE_LIMITED with retryAfter, tells the would-be receiver nothing, and lets other receivers and the next hour through', async () => {
    const { server, clock } = await start({ CHAT_SESSIONS_PER_PEER_PER_HOUR: '2' });
    const alice = await connectAs(server, 'alice');
    const bob = await connectAs(server, 'bob');
    let told = 0;
    const bothTold = new Promise<void>((resolve) => bob.on('new_chat_session', () => ++told === 2 && resolve()));

    await emitWithAck(alice, 'create_chat_session', { machineId: 'm', receiverUserId: 'bob' });
    await createOverRest(server, 'alice', 'bob').expect(201);
    await bothTold;
    bob.off('new_chat_session');
    const watch = watchUnwanted(bob, ['new_chat_session']);

    clock.advance(10 * MINUTE);
    const sessionError = waitFor(alice, 'session_error');
    expect(await emitWithAck(alice, 'create_chat_session', { machineId: 'm', receiverUserId: 'bob' })).toMatchObject({
      success: false,
      error: expect.any(String),
      code: 'RATE_LIMITED',
      retryAfter: 50 * 60,
    });
    expect(await sessionError).toEqual({ error: expect.any(String), code: 'RATE_LIMITED', retryAfter: 50 * 60 });
    const rest = await createOverRest(server, 'alice', 'bob');
    expect(rest.status).toBe(429);
    expect(rest.body).toMatchObject({ code: 'RATE_LIMITED', retryAfter: 50 * 60 });
    // Had a refused session been created, bob's sockets would have been told before alice's answer.
    await watch.expectNothingBefore();

    await emitWithAck(alice, 'create_chat_session', { machineId: 'm', receiverUserId: 'carol' });
    // Direction matters: bob opening one to alice is bob's own quota.
    await createOverRest(server, 'bob', 'alice').expect(201);

    clock.advance(50 * MINUTE);
    const next = waitFor<NewChatSessionPayload>(bob, 'new_chat_session');
    const created = await emitWithAck<{ sessionId: string }>(alice, 'create_chat_session', { machineId: 'm', receiverUserId: 'bob' });
    expect((await next).sessionId).toBe(created.sessionId);
    expect((await sessionIdsOf(server, 'alice')).length).toBe(5);
  });
});

describe('sessions a user created, in total', () => {
  it('answers FORBIDDEN beyond the total, counts from the store (after a restart too), and frees a place on delete', async () => {
    const env = { CHAT_MAX_SESSIONS_PER_USER: '3' };
    let { server } = await start(env);
    const alice = await connectAs(server, 'alice');
    for (const receiver of ['bob', 'carol']) await emitWithAck(alice, 'create_chat_session', { machineId: 'm', receiverUserId: receiver });
    const third = (await createOverRest(server, 'alice', 'dave').expect(201)).body as { sessionId: string };

    const sessionError = waitFor(alice, 'session_error');
    const refusal = await emitWithAck<Record<string, unknown>>(alice, 'create_chat_session', { machineId: 'm', receiverUserId: 'erin' });
    expect(refusal).toMatchObject({ success: false, error: expect.any(String), code: 'FORBIDDEN' });
    // Waiting does not cure it, so no retryAfter.
    expect(refusal.retryAfter).toBeUndefined();
    expect(await sessionError).toEqual({ error: expect.any(String), code: 'FORBIDDEN' });
    expect((await createOverRest(server, 'alice', 'erin')).body).toMatchObject({ success: false, code: 'FORBIDDEN' });
    // Sessions others opened to a user are not the user's to count: bob still has all three.
    const bob = await connectAs(server, 'bob');
    for (const receiver of ['alice', 'carol', 'dave']) await emitWithAck(bob, 'create_chat_session', { machineId: 'm', receiverUserId: receiver });

    server = t = await restartServer(server, { JWT_SECRET: TEST_SECRET, API_KEYS: KEY, ...env }, { clock: createTestClock() });
    expect((await createOverRest(server, 'alice', 'erin')).status).toBe(403);
    await request(server.url).delete(`/api/sessions/${third.sessionId}`).set('Authorization', bearer('alice')).expect(200);
    await createOverRest(server, 'alice', 'erin').expect(201);
    expect((await createOverRest(server, 'alice', 'frank')).status).toBe(403);
  });

  it('lets concurrent creations of one user through up to the total exactly', async () => {
    const { server } = await start({ CHAT_MAX_SESSIONS_PER_USER: '3' });
    const aliceSockets = await Promise.all([connectAs(server, 'alice'), connectAs(server, 'alice')]);
    const answers = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        i % 2 === 0
          ? emitWithAck<{ sessionId?: string; code?: string }>(aliceSockets[i % 4 === 0 ? 0 : 1]!, 'create_chat_session', { machineId: 'm', receiverUserId: `peer-${i}` })
          : createOverRest(server, 'alice', `peer-${i}`).then((res) => res.body as { sessionId?: string; code?: string }),
      ),
    );
    expect(answers.filter((answer) => answer.sessionId !== undefined)).toHaveLength(3);
    expect(answers.filter((answer) => answer.code === 'FORBIDDEN')).toHaveLength(5);
    expect(await sessionIdsOf(server, 'alice')).toHaveLength(3);
  });
});

describe('the session list, paged', () => {
  const list = (server: TestServer, userId: string, query: string) =>
    request(server.url).get(`/api/users/${userId}/sessions${query}`).set('Authorization', bearer(userId));

  it('answers 50 sessions by default with nextCursor, at most 200 per page, and walks the rest by cursor', async () => {
    const { server, clock } = await start({});
    for (let i = 0; i < 53; i += 1) {
      await createAsBackend(server, `peer-${i}`, 'victim');
      clock.advance(1000);
    }
    const first = await list(server, 'victim', '').expect(200);
    expect(first.body).toMatchObject({ success: true, userId: 'victim', count: 50, nextCursor: expect.any(String) });
    expect(first.body.sessions).toHaveLength(50);
    // Newest first: the last one created leads.
    expect(first.body.sessions[0].senderUserId).toBe('peer-52');
    const rest = await list(server, 'victim', `?cursor=${first.body.nextCursor as string}`).expect(200);
    expect(rest.body.count).toBe(3);
    expect(rest.body.nextCursor).toBeUndefined();
    const walked = [...first.body.sessions, ...rest.body.sessions].map((s: ChatSessionSummary) => s.senderUserId);
    expect(walked).toEqual(Array.from({ length: 53 }, (_, i) => `peer-${52 - i}`));

    for (const query of ['?limit=201', '?limit=0', '?limit=abc', '?cursor=not%20a%20cursor', '?cursor=e30']) {
      const bad = await list(server, 'victim', query);
      expect(bad.status, query).toBe(400);
      expect(bad.body.code, query).toBe('INVALID_REQUEST');
    }
  });

  it('neither repeats nor skips a session that did not move when messages arrive between pages', async () => {
    const { server, clock } = await start({});
    for (let i = 0; i < 7; i += 1) {
      await createAsBackend(server, 'owner', `peer-${i}`);
      clock.advance(1000);
    }
    const before = (await list(server, 'owner', '?limit=200').expect(200)).body.sessions as ChatSessionSummary[];
    const page1 = await list(server, 'owner', '?limit=3').expect(200);
    expect(page1.body.sessions.map((s: ChatSessionSummary) => s.sessionId)).toEqual(before.slice(0, 3).map((s) => s.sessionId));

    // One already seen and one not yet seen become the most recent.
    const moved = [before[1]!.sessionId, before[4]!.sessionId];
    for (const sessionId of moved) {
      clock.advance(1000);
      await sendAsBackend(server, sessionId, 'owner', 'news');
    }
    const seen: string[] = page1.body.sessions.map((s: ChatSessionSummary) => s.sessionId);
    let cursor = page1.body.nextCursor as string | undefined;
    while (cursor !== undefined) {
      const page = await list(server, 'owner', `?limit=3&cursor=${cursor}`).expect(200);
      seen.push(...page.body.sessions.map((s: ChatSessionSummary) => s.sessionId));
      cursor = page.body.nextCursor;
    }
    expect(new Set(seen).size).toBe(seen.length);
    const unmoved = before.map((s) => s.sessionId).filter((id) => !moved.includes(id));
    for (const sessionId of unmoved) expect(seen).toContain(sessionId);
  });
});

describe('offline delivery at connect', () => {
  /** Four sessions from alice to bob with three messages each, sent while bob is offline. */
  async function backlog(server: TestServer, clock: TestClock): Promise<string[]> {
    const sessionIds: string[] = [];
    for (let s = 0; s < 4; s += 1) {
      const sessionId = await createAsBackend(server, 'alice', 'bob');
      sessionIds.push(sessionId);
      for (let m = 1; m <= 3; m += 1) {
        clock.advance(1000);
        await sendAsBackend(server, sessionId, 'alice', `s${s} m${m}`);
      }
    }
    return sessionIds;
  }

  it('pushes at most CHAT_OFFLINE_MAX_MESSAGES, names the rest in chat:pending, and the rest is readable over REST', async () => {
    const { server, clock } = await start({ CHAT_OFFLINE_MAX_MESSAGES: '5' });
    const sessionIds = await backlog(server, clock);

    const bob = unconnected(server, 'bob');
    const pushed: NewMessagePayload[] = [];
    bob.on('new_message', (payload) => pushed.push(payload));
    const pending = waitFor<ChatPendingPayload>(bob, 'chat:pending');
    bob.connect();
    // chat:pending comes after every new_message of this delivery, on the same socket.
    const notice = await pending;
    expect(pushed).toHaveLength(5);
    // Newest activity first: all of the last session, then the oldest two of the one before.
    expect(pushed.map((p) => p.message.message)).toEqual(['s3 m1', 's3 m2', 's3 m3', 's2 m1', 's2 m2']);
    expect(notice).toEqual({
      sessions: [
        { sessionId: sessionIds[2], after: 2, pending: 1 },
        { sessionId: sessionIds[1], after: 0, pending: 3 },
        { sessionId: sessionIds[0], after: 0, pending: 3 },
      ],
      truncated: false,
    });

    const fetched: ChatMessage[] = [];
    for (const { sessionId, after } of notice.sessions) {
      const res = await request(server.url).get(`/api/sessions/${sessionId}/messages?after=${after}`).set('Authorization', bearer('bob')).expect(200);
      fetched.push(...(res.body.messages as ChatMessage[]).filter((m) => m.receiverUserId === 'bob'));
    }
    const all = [...pushed.map((p) => p.message.message), ...fetched.map((m) => m.message)].sort();
    expect(all).toEqual(Array.from({ length: 4 }, (_, s) => [1, 2, 3].map((m) => `s${s} m${m}`)).flat().sort());

    // The session list says the same: what was pushed is delivered, the rest is not.
    const listed = await request(server.url).get('/api/users/bob/sessions').set('Authorization', bearer('bob')).expect(200);
    const undelivered = new Map((listed.body.sessions as ChatSessionSummary[]).map((s) => [s.sessionId, s.undeliveredCount]));
    expect(sessionIds.map((id) => undelivered.get(id))).toEqual([3, 3, 1, 0]);
  });

  it('sends no chat:pending when everything fitted', async () => {
    const { server, clock } = await start({ CHAT_OFFLINE_MAX_MESSAGES: '12' });
    const sessionIds = await backlog(server, clock);
    const alice = await connectAs(server, 'alice');
    const bob = unconnected(server, 'bob');
    const pushed: NewMessagePayload[] = [];
    bob.on('new_message', (payload) => pushed.push(payload));
    const watch = watchUnwanted(bob, ['chat:pending']);
    // The receipt of the last session delivered (the oldest) comes after every push; a
    // chat:pending would follow it on bob's socket before the answer to bob's ping.
    const lastReceipt = new Promise<void>((resolve) =>
      alice.on('message_delivered', (receipt) => {
        if (receipt.sessionId === sessionIds[0]) resolve();
      }),
    );
    bob.connect();
    await lastReceipt;
    await watch.expectNothingBefore();
    expect(pushed).toHaveLength(12);
  });

  it('lists at most 200 sessions in chat:pending and says when there were more', async () => {
    // Filled through the store itself: 404 HTTP requests would only make the test slow.
    const store = createMemoryChatStore();
    const { server } = await start({ CHAT_OFFLINE_MAX_MESSAGES: '1' }, { chatStore: store });
    for (let s = 0; s < 202; s += 1) {
      const { sessionId } = await store.createSession({ machineId: 'm', senderUserId: `peer-${s}`, receiverUserId: 'victim' });
      await store.appendMessage(sessionId, { senderUserId: `peer-${s}`, receiverUserId: 'victim', message: 'hello', machineId: 'm' });
    }
    const victim = unconnected(server, 'victim');
    const pushed: NewMessagePayload[] = [];
    victim.on('new_message', (payload) => pushed.push(payload));
    const pending = waitFor<ChatPendingPayload>(victim, 'chat:pending');
    victim.connect();
    const notice = await pending;
    expect(pushed).toHaveLength(1);
    expect(notice.sessions).toHaveLength(200);
    expect(notice.truncated).toBe(true);
  });
});
