import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { io } from 'socket.io-client';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatMessage, ChatSession } from '../../src/contracts/chat.js';
import type {
  MarkedReadPayload,
  MessageSent,
  NotificationListReply,
  NotificationReadReply,
  NotificationRecord,
  UnreadCountPayload,
} from '../../src/contracts/events.js';
import type { JobRecord, JobReply } from '../../src/contracts/jobs.js';
import { emitWithAck, waitFor, watchUnwanted, type TestSocket } from '../support/client.js';
import { CLUSTER_KEY, clusterSkipReason, startCluster, type TestCluster } from '../support/cluster.js';
import { eventually } from '../support/eventually.js';
import { findPython, pythonSkipReason, runPythonClient, type WireLine } from '../support/python-client.js';
import { signToken } from '../support/tokens.js';

/**
 * Issue 13's cross-node features with three real server processes on one Redis and one
 * PostgreSQL schema: rooms and the seed 003 alias room, the `message` relay,
 * `client:message`, chat, the inbox, jobs, offline delivery to a user who comes back on
 * another node, and a python-socketio client getting events published on another node.
 * Each test uses user ids of its own. Counts (`recipients`, `receiver_unavailable`) are
 * checked by cluster-presence.test.ts; here, that the events arrive, with exactly their payloads.
 */

const skipped = await clusterSkipReason();
const python = findPython();
const LISTEN_SCRIPT = fileURLToPath(new URL('./python/listen_client.py', import.meta.url));
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** An id no other test (nor an earlier run against the same services) uses. */
const uid = (label: string) => `${label}-${randomUUID().slice(0, 8)}`;

/** Every payload of `event` that reaches `socket` from now on. */
function record<T = unknown>(socket: TestSocket, event: string): T[] {
  const seen: T[] = [];
  (socket as unknown as { on(event: string, listener: (payload: T) => void): void }).on(event, (payload) => seen.push(payload));
  return seen;
}

describe.skipIf(skipped !== undefined)('cluster mode: features across three nodes', () => {
  let cluster: TestCluster;
  const sockets: TestSocket[] = [];

  beforeAll(async () => {
    cluster = await startCluster('cluster_features', 3);
  }, 90_000);
  afterAll(async () => {
    for (const socket of sockets.splice(0)) socket.close();
    await cluster?.close();
  });

  /**
   * Connects a socket to node `index` (0-based) as the token's user. `before` runs on the
   * socket before it connects: events sent at connect (the unread count, offline chat)
   * may arrive in the same read as the CONNECT packet.
   */
  const connectAs = async (index: number, claims: Record<string, unknown>, before?: (socket: TestSocket) => void) => {
    const socket: TestSocket = io(cluster.nodes[index]!.url, {
      auth: { token: signToken(claims) },
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      autoConnect: false,
    });
    sockets.push(socket);
    before?.(socket);
    const connected = new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', (err) => reject(err));
    });
    socket.connect();
    await connected;
    return socket;
  };
  /** Connects as `claims`' user and resolves with the socket and the unread count it was sent at connect. */
  const connectCounted = async (index: number, claims: Record<string, unknown>) => {
    let count!: Promise<UnreadCountPayload>;
    const socket = await connectAs(index, claims, (s) => (count = waitFor<UnreadCountPayload>(s, 'notification:unread-count')));
    return { socket, count: (await count).count };
  };
  const post = (index: number, path: string, body: object) => request(cluster.nodes[index]!.url).post(path).set('X-API-Key', CLUSTER_KEY).send(body);
  const get = (index: number, path: string) => request(cluster.nodes[index]!.url).get(path).set('X-API-Key', CLUSTER_KEY);
  /** Stores one notification for `userId` through node `index`; resolves with its id. */
  const storeNotification = async (index: number, userId: string, data: object, event?: string) => {
    const res = await post(index, '/api/push', { userId, persist: true, data, ...(event === undefined ? {} : { event }) }).expect(200);
    return (res.body as { notificationIds: string[] }).notificationIds[0]!;
  };
  /**
   * Waits until node `index` counts `connections` sockets of the user, wherever they are. A
   * stored push goes live only to users its node counts (inbox-service.ts), and a node
   * learns of another's sockets through Redis a moment after they connect.
   */
  const countedBy = (index: number, userId: string, connections: number, tenantId?: string) =>
    eventually(async () => {
      const query = tenantId === undefined ? '' : `?tenantId=${encodeURIComponent(tenantId)}`;
      const presence = await get(index, `/api/users/${encodeURIComponent(userId)}/presence${query}`).expect(200);
      return (presence.body as { connections: number }).connections === connections;
    }, `node ${index + 1} counts ${connections} socket(s) of ${userId}`);
  /** The session's messages as stored, read back through node `index`. */
  const storedMessages = async (index: number, sessionId: string) =>
    ((await get(index, `/api/sessions/${sessionId}`).expect(200)).body as { messages: ChatMessage[] }).messages;
  /** A sentinel for `userId`'s sockets, published through node 1 after whatever must not arrive. */
  const sentinelFor = (socket: TestSocket, userId: string) => async () => {
    const arrived = waitFor(socket, 'sentinel');
    await post(0, '/api/push', { userId, event: 'sentinel', data: {} }).expect(200);
    await arrived;
  };

  it('/api/room reaches a room joined on other nodes, and the seed 003 alias room a user on another node', async () => {
    const room = uid('news');
    const [reader2, reader3] = [uid('reader'), uid('reader')];
    const onNode2 = await connectAs(1, { userId: reader2 });
    const onNode3 = await connectAs(2, { userId: reader3 });
    expect(await emitWithAck(onNode2, 'room:join', { room })).toEqual({ success: true, room });
    expect(await emitWithAck(onNode3, 'room:join', { room })).toEqual({ success: true, room });
    const headlines = [waitFor(onNode2, 'headline'), waitFor(onNode3, 'headline')];
    await post(0, '/api/room', { room, event: 'headline', data: { title: 'Cluster up', n: 1 } }).expect(200);
    expect(await Promise.all(headlines)).toEqual([
      { title: 'Cluster up', n: 1 },
      { title: 'Cluster up', n: 1 },
    ]);

    // Seed 003 backends address a user as tenant_{t}:user_{u}: the user in that tenant, on node 3.
    const tenant = uid('acme');
    const user = uid('seed-user');
    const inTenant = await connectAs(2, { userId: user, tenantId: tenant });
    const sameIdNoTenant = await connectAs(1, { userId: user });
    const unwanted = watchUnwanted(sameIdNoTenant, ['job:update']);
    const aliased = waitFor(inTenant, 'job:update');
    await post(0, '/api/room', { room: `tenant_${tenant}:user_${user}`, event: 'job:update', data: { jobId: 5, state: 'started' } }).expect(200);
    expect(await aliased).toEqual({ jobId: 5, state: 'started' });
    // The same user id outside that tenant, on node 2, is not that room.
    await unwanted.expectNothingBefore(sentinelFor(sameIdNoTenant, user));
  });

  it('the message relay reaches the room, and with no room everyone, on the other nodes with exactly its payload', async () => {
    const room = uid('lobby');
    const sender = uid('relay-sender');
    const fromNode1 = await connectAs(0, { userId: sender });
    const members = [await connectAs(1, { userId: uid('member') }), await connectAs(2, { userId: uid('member') })];
    const outsiderId = uid('outsider');
    const outsider = await connectAs(1, { userId: outsiderId });
    for (const socket of [fromNode1, ...members]) await emitWithAck(socket, 'room:join', { room });

    const outsiderWatch = watchUnwanted(outsider, ['message']);
    const inRoom = members.map((socket) => waitFor(socket, 'message'));
    expect(await emitWithAck(fromNode1, 'message', { room, text: 'hi room', n: [1, 2] })).toMatchObject({ success: true });
    for (const payload of await Promise.all(inRoom)) {
      expect(payload).toEqual({ from: sender, data: { room, text: 'hi room', n: [1, 2] }, timestamp: expect.stringMatching(ISO_TIME) });
    }
    // Relayed before the ack, so before this sentinel (both published by node 1, in order).
    await outsiderWatch.expectNothingBefore(sentinelFor(outsider, outsiderId));

    const everywhere = [...members, outsider].map((socket) => waitFor(socket, 'message'));
    expect(await emitWithAck(fromNode1, 'message', { text: 'hi everyone' })).toMatchObject({ success: true });
    for (const payload of await Promise.all(everywhere)) {
      expect(payload).toEqual({ from: sender, data: { text: 'hi everyone' }, timestamp: expect.stringMatching(ISO_TIME) });
    }
  });

  it('client:message to a user reaches each of their devices on other nodes, and to a room its members, with exactly its payload', async () => {
    const sender = uid('cm-sender');
    const receiver = uid('cm-receiver');
    const fromNode1 = await connectAs(0, { userId: sender });
    const devices = [await connectAs(1, { userId: receiver }), await connectAs(2, { userId: receiver })];

    const direct = devices.map((socket) => waitFor(socket, 'client:message'));
    const ack = await emitWithAck<{ success: true; messageId: string }>(fromNode1, 'client:message', {
      content: 'hello',
      type: 'text',
      metadata: { to: receiver, threadId: 't-1' },
    });
    expect(ack).toEqual({ success: true, requestId: expect.any(String), messageId: expect.any(String) });
    for (const payload of await Promise.all(direct)) {
      expect(payload).toEqual({
        messageId: ack.messageId,
        from: sender,
        content: 'hello',
        type: 'text',
        metadata: { to: receiver, threadId: 't-1' },
        timestamp: expect.stringMatching(ISO_TIME),
      });
    }

    const room = uid('cm-room');
    await emitWithAck(fromNode1, 'room:join', { room });
    const member = await connectAs(2, { userId: uid('cm-member') });
    await emitWithAck(member, 'room:join', { room });
    const inRoom = waitFor(member, 'client:message');
    const roomAck = await emitWithAck<{ messageId: string }>(fromNode1, 'client:message', { content: 'to the room', metadata: { room } });
    expect(await inRoom).toEqual({ messageId: roomAck.messageId, from: sender, content: 'to the room', metadata: { room }, timestamp: expect.stringMatching(ISO_TIME) });
  });

  it('chat across nodes: the session, messages both ways, typing and read receipts reach the other node', async () => {
    const alice = uid('alice');
    const bob = uid('bob');
    const aliceOnNode1 = await connectAs(0, { userId: alice });
    const bobOnNode2 = await connectAs(1, { userId: bob });

    const invited = waitFor(bobOnNode2, 'new_chat_session');
    const { sessionId, session } = await emitWithAck<{ sessionId: string; session: ChatSession }>(aliceOnNode1, 'create_chat_session', {
      machineId: 'machine-a',
      receiverUserId: bob,
    });
    expect(await invited).toEqual({ sessionId, senderUserId: alice, receiverUserId: bob, createdAt: session.createdAt });

    const toBob = waitFor<{ sessionId: string; message: ChatMessage }>(bobOnNode2, 'new_message');
    const sent = await emitWithAck<MessageSent>(aliceOnNode1, 'send_message', { sessionId, message: 'Hello, Bob!', clientMessageId: 'c-1' });
    // Bob's socket is on another node: delivered all the same.
    expect(sent).toMatchObject({ sessionId, seq: 1, delivered: true, duplicate: false });
    const [stored] = await storedMessages(2, sessionId);
    expect(stored).toMatchObject({ id: sent.messageId, seq: 1, senderUserId: alice, receiverUserId: bob, message: 'Hello, Bob!', clientMessageId: 'c-1' });
    expect(await toBob).toEqual({ sessionId, message: stored });

    const toAlice = waitFor<{ sessionId: string; message: ChatMessage }>(aliceOnNode1, 'new_message');
    const reply = await emitWithAck<MessageSent>(bobOnNode2, 'send_message', { sessionId, message: 'Hi Alice' });
    expect(await toAlice).toEqual({ sessionId, message: (await storedMessages(0, sessionId))[1] });
    expect(reply).toMatchObject({ seq: 2 });

    const typing = waitFor(aliceOnNode1, 'typing');
    await emitWithAck(bobOnNode2, 'typing', { sessionId });
    expect(await typing).toEqual({ sessionId, userId: bob });

    const receipt = waitFor(aliceOnNode1, 'message_read');
    expect(await emitWithAck(bobOnNode2, 'message_read', { sessionId, seq: 1 })).toEqual({ success: true, sessionId, seq: 1 });
    expect(await receipt).toEqual({ sessionId, seq: 1, readerUserId: bob });
  });

  it('the inbox: a stored push on node 1 reaches both devices on nodes 2 and 3; a read on one reaches the other', async () => {
    const user = uid('inbox-user');
    const phone = await connectCounted(1, { userId: user });
    const laptop = await connectCounted(2, { userId: user });
    expect([phone.count, laptop.count]).toEqual([0, 0]);

    await countedBy(0, user, 2);
    const devices = [phone.socket, laptop.socket];
    const own = devices.map((socket) => waitFor(socket, 'order:shipped'));
    const created = devices.map((socket) => waitFor<NotificationRecord>(socket, 'notification:new'));
    const counts = devices.map((socket) => waitFor<UnreadCountPayload>(socket, 'notification:unread-count'));
    const id = await storeNotification(0, user, { type: 'success', title: 'Shipped', message: 'Order 7 shipped', orderId: 7 }, 'order:shipped');

    const listed = (await emitWithAck<NotificationListReply>(phone.socket, 'notification:list', {})).notifications;
    expect(listed).toEqual([
      { id, userId: user, type: 'success', title: 'Shipped', message: 'Order 7 shipped', data: { orderId: 7 }, event: 'order:shipped', createdAt: expect.any(String), readAt: null },
    ]);
    for (const payload of await Promise.all(own)) {
      expect(payload).toEqual({ type: 'success', title: 'Shipped', message: 'Order 7 shipped', orderId: 7, id, notificationId: id });
    }
    expect(await Promise.all(created)).toEqual([listed[0], listed[0]]);
    expect(await Promise.all(counts)).toEqual([{ count: 1 }, { count: 1 }]);

    const marked = waitFor<MarkedReadPayload>(laptop.socket, 'notification:marked-read');
    const afterRead = waitFor<UnreadCountPayload>(laptop.socket, 'notification:unread-count');
    const read = await emitWithAck<NotificationReadReply>(phone.socket, 'notification:read', { notificationId: id });
    expect(read).toEqual({ success: true, notificationId: id, changed: 1, readAt: expect.stringMatching(ISO_TIME) });
    expect(await marked).toEqual({ notificationIds: [id], readAt: read.readAt });
    expect(await afterRead).toEqual({ count: 0 });
  });

  it('jobs: created over REST on node 1, assigned to a user on node 2, started there; the creator on node 3 is told', async () => {
    const tenant = uid('studio');
    const creator = uid('creator');
    const assignee = uid('assignee');
    const assigneeOnNode2 = await connectAs(1, { userId: assignee, tenantId: tenant });
    const creatorOnNode3 = await connectAs(2, { userId: creator, tenantId: tenant });
    const jobId = uid('job');
    // Node 1 stores the assignee's notification, node 2 the creator's (see countedBy).
    await countedBy(0, assignee, 1, tenant);
    await countedBy(1, creator, 1, tenant);

    const assigned = waitFor<JobRecord>(assigneeOnNode2, 'job:assigned');
    const assigneeChange = waitFor(assigneeOnNode2, 'job:status-changed');
    const creatorChange = waitFor(creatorOnNode3, 'job:status-changed');
    const assignedInbox = waitFor<NotificationRecord>(assigneeOnNode2, 'notification:new');
    const created = await post(0, '/api/jobs', { jobId, tenantId: tenant, projectId: 1, subject: 'Cut stems', creatorId: creator, assigneeId: assignee }).expect(201);
    const job = (created.body as { job: JobRecord }).job;
    expect(job).toMatchObject({ jobId, tenantId: tenant, creatorId: creator, assigneeId: assignee, state: 'assigned' });
    expect(await assigned).toEqual(job);
    const change = { jobId, from: 'created', to: 'assigned', at: job.updatedAt, by: null };
    expect(await assigneeChange).toEqual(change);
    expect(await creatorChange).toEqual(change);
    expect(await assignedInbox).toMatchObject({ userId: assignee, tenantId: tenant, type: 'job_assigned', data: { jobId }, readAt: null });

    const started = waitFor<JobRecord>(creatorOnNode3, 'job:started');
    const startedChange = waitFor(creatorOnNode3, 'job:status-changed');
    const startedInbox = waitFor<NotificationRecord>(creatorOnNode3, 'notification:new');
    const reply = await emitWithAck<JobReply>(assigneeOnNode2, 'job:start', { jobId });
    expect(reply).toMatchObject({ success: true, job: { jobId, state: 'started', startedAt: expect.stringMatching(ISO_TIME) } });
    expect(await started).toEqual(reply.job);
    expect(await startedChange).toEqual({ jobId, from: 'assigned', to: 'started', at: reply.job.startedAt, by: assignee });
    expect(await startedInbox).toMatchObject({ userId: creator, tenantId: tenant, type: 'job_started', data: { jobId }, readAt: null });
  });

  it('a user away from every node gets, on the node they come back to, the chat messages and notifications they missed', async () => {
    const alice = uid('sender');
    const away = uid('away');
    const aliceOnNode1 = await connectAs(0, { userId: alice });
    const { sessionId } = await emitWithAck<{ sessionId: string }>(aliceOnNode1, 'create_chat_session', { machineId: 'machine-a', receiverUserId: away });
    for (const text of ['while you were away', 'and again']) await emitWithAck(aliceOnNode1, 'send_message', { sessionId, message: text });
    const ids = [
      await storeNotification(0, away, { type: 'info', title: 'First' }),
      await storeNotification(0, away, { type: 'warning', title: 'Second' }),
    ];

    // Back, on node 2. Offline delivery hands each message over, then tells the sender (on node 1).
    const handedOver = waitFor(aliceOnNode1, 'message_delivered');
    let count!: Promise<UnreadCountPayload>;
    let missed!: { sessionId: string; message: ChatMessage }[];
    const back = await connectAs(1, { userId: away }, (socket) => {
      count = waitFor<UnreadCountPayload>(socket, 'notification:unread-count');
      missed = record(socket, 'new_message');
    });
    expect(await count).toEqual({ count: 2 });
    expect(await handedOver).toEqual({ sessionId, seq: 2, receiverUserId: away });
    // The messages were emitted to this socket before message_delivered was published; a round trip settles them.
    await emitWithAck(back, 'ping', {});
    const stored = await storedMessages(2, sessionId);
    expect(stored.map((m) => m.message)).toEqual(['while you were away', 'and again']);
    expect(missed).toEqual(stored.map((message) => ({ sessionId, message })));

    const page = await emitWithAck<NotificationListReply>(back, 'notification:list', {});
    expect(page).toMatchObject({ success: true, unreadCount: 2 });
    expect(page.notifications.map((n) => [n.id, n.title, n.readAt])).toEqual([
      [ids[1], 'Second', null],
      [ids[0], 'First', null],
    ]);
  });

  it('a python-socketio client on node 2 gets what node 1 publishes, each event with exactly its payload', async (ctx) => {
    // CI installs the package (.ci/run); there a missing client is a failure, never a skip.
    const skip = pythonSkipReason(python);
    if (skip !== undefined) ctx.skip(skip);

    const py = uid('py');
    const peer = uid('js-peer');
    const room = uid('py-room');
    const peerOnNode1 = await connectAs(0, { userId: peer });
    await emitWithAck(peerOnNode1, 'room:join', { room });
    const events = [
      'order:shipped',
      'maintenance',
      'headline',
      'message',
      'client:message',
      'new_chat_session',
      'new_message',
      'invoice:due',
      'notification:new',
      'notification:unread-count',
      'job:assigned',
    ];
    const client = runPythonClient(python!, LISTEN_SCRIPT, {
      WIRE_URL: cluster.nodes[1]!.url,
      WIRE_TOKEN: signToken({ userId: py }),
      WIRE_EVENTS: JSON.stringify(events),
      WIRE_ROOMS: JSON.stringify([room]),
      WIRE_END: 'wire:end',
    });
    try {
      await client.next('ready', (line) => line.ready === true);
      /** The payload of the `n`th (1-based) `event` the Python client got; bounded, with what it got instead. */
      const nth = async (event: string, n = 1) => {
        let seen = 0;
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<never>((_resolve, reject) => {
          timer = setTimeout(() => reject(new Error(`no "${event}" #${n} within 10 s; the client got: ${JSON.stringify(client.lines)}`)), 10_000);
        });
        try {
          const line = await Promise.race([client.next(`"${event}" #${n}`, (l: WireLine) => l.event === event && ++seen === n), late]);
          return line.payload;
        } finally {
          clearTimeout(timer);
        }
      };
      await countedBy(0, py, 1);
      expect(await nth('notification:unread-count')).toEqual({ count: 0 });

      await post(0, '/api/push', { userId: py, event: 'order:shipped', data: { orderId: 7, items: ['a', 'b'] } }).expect(200);
      expect(await nth('order:shipped')).toEqual({ orderId: 7, items: ['a', 'b'] });
      await post(0, '/api/broadcast', { event: 'maintenance', data: { at: 'noon' } }).expect(200);
      expect(await nth('maintenance')).toEqual({ at: 'noon' });
      await post(0, '/api/room', { room, event: 'headline', data: 'big' }).expect(200);
      expect(await nth('headline')).toBe('big');

      await emitWithAck(peerOnNode1, 'message', { room, text: 'hi python' });
      expect(await nth('message')).toEqual({ from: peer, data: { room, text: 'hi python' }, timestamp: expect.stringMatching(ISO_TIME) });
      const cm = await emitWithAck<{ messageId: string }>(peerOnNode1, 'client:message', { content: 'hi python', metadata: { to: py } });
      expect(await nth('client:message')).toEqual({ messageId: cm.messageId, from: peer, content: 'hi python', metadata: { to: py }, timestamp: expect.stringMatching(ISO_TIME) });

      const { sessionId, session } = await emitWithAck<{ sessionId: string; session: ChatSession }>(peerOnNode1, 'create_chat_session', {
        machineId: 'js',
        receiverUserId: py,
      });
      expect(await nth('new_chat_session')).toEqual({ sessionId, senderUserId: peer, receiverUserId: py, createdAt: session.createdAt });
      await emitWithAck(peerOnNode1, 'send_message', { sessionId, message: 'live' });
      expect(await nth('new_message')).toEqual({ sessionId, message: (await storedMessages(0, sessionId))[0] });

      const id = await storeNotification(0, py, { type: 'warning', title: 'Invoice', message: 'Due today' }, 'invoice:due');
      expect(await nth('invoice:due')).toEqual({ type: 'warning', title: 'Invoice', message: 'Due today', id, notificationId: id });
      expect(await nth('notification:new')).toEqual({
        id,
        userId: py,
        type: 'warning',
        title: 'Invoice',
        message: 'Due today',
        event: 'invoice:due',
        createdAt: expect.stringMatching(ISO_TIME),
        readAt: null,
      });
      expect(await nth('notification:unread-count', 2)).toEqual({ count: 1 });

      const job = (await post(0, '/api/jobs', { jobId: uid('py-job'), subject: 'Review', creatorId: peer, assigneeId: py }).expect(201)).body.job as JobRecord;
      expect(await nth('job:assigned')).toEqual(job);

      await post(0, '/api/push', { userId: py, event: 'wire:end', data: {} }).expect(200);
      const { code, stderr } = await client.exited;
      expect(code, stderr).toBe(0);
      expect(client.lines.filter((line) => line.error !== undefined || line.failed !== undefined)).toEqual([]);
      expect(client.lines.filter((line) => line.event !== undefined && line.argc !== 1)).toEqual([]);
    } finally {
      client.child.kill();
    }
  }, 60_000);
});
