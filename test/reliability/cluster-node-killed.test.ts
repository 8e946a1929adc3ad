import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatMessage, MessagePage } from '../../src/contracts/chat.js';
import type { AckFailure } from '../../src/contracts/error-codes.js';
import type { MessageSent, SessionCreated } from '../../src/contracts/events.js';
import { CLUSTER_KEY, clusterSkipReason, startCluster, type TestCluster } from '../support/cluster.js';
import { eventually } from '../support/eventually.js';
import { signToken } from '../support/tokens.js';
import { readAllNotifications } from './support/inbox-pages.js';
import { startRoamingClient, type RoamingClient } from './support/roaming-client.js';

/**
 * Issue 13, "Faults": 3 nodes and no load balancer (each client knows the three URLs and
 * picks the next when its node goes away); chat and stored pushes on every node; one node
 * SIGKILLed mid-burst. Its clients reconnect to the others, nothing acknowledged is lost,
 * a client de-duplicating by id sees each item once, and the survivors serve on without
 * an error.
 */

const skipped = await clusterSkipReason();

/** Three users per node; user i sends to user i+1, who is always on another node. */
const USERS = 9;
const MESSAGES_PER_SENDER = 40;
const PUSHES = 180;
const PUSH_LANES = 3;
/** node-3 dies... */
const KILLED = 2;
/** ...once this share of the traffic has been acknowledged. */
const KILL_AT = 0.35;

const userIdOf = (i: number) => `roamer-${i}`;
const startNodeOf = (i: number) => i % 3;

interface AckedMessage {
  sessionId: string;
  receiver: number;
  clientMessageId: string;
  messageId: string;
  seq: number;
  /** The node that acknowledged it (an index into cluster.nodes). */
  node: number;
}

interface AnsweredPush {
  user: number;
  notificationId: string;
}

/** Sends one chat message; rejects when the socket drops before the ack (its node died), never waiting out a timer. */
function sendMessage(client: RoamingClient, payload: { sessionId: string; message: string; clientMessageId: string }): Promise<MessageSent | AckFailure> {
  const { socket } = client;
  return new Promise((resolve, reject) => {
    if (!socket.connected) return reject(new Error('not connected'));
    const onDrop = () => reject(new Error('the socket dropped before the ack'));
    socket.once('disconnect', onDrop);
    socket.emit('send_message', payload, (reply) => {
      socket.off('disconnect', onDrop);
      resolve(reply);
    });
  });
}

/** A session's whole history over REST, page after page. */
async function readHistory(url: string, sessionId: string): Promise<ChatMessage[]> {
  const all: ChatMessage[] = [];
  let after = 0;
  for (;;) {
    const res = await fetch(`${url}/api/sessions/${sessionId}/messages?after=${after}&limit=500`, { headers: { 'X-API-Key': CLUSTER_KEY } });
    if (res.status !== 200) throw new Error(`GET history of ${sessionId} answered ${res.status}: ${await res.text()}`);
    const page = (await res.json()) as MessagePage;
    all.push(...page.messages);
    if (page.nextAfter === undefined) return all;
    after = page.nextAfter;
  }
}

const duplicatesIn = (counts: Map<string, number>) => [...counts.values()].reduce((sum, times) => sum + times - 1, 0);

describe.skipIf(skipped !== undefined)('cluster mode: a node SIGKILLed mid-burst', () => {
  let cluster: TestCluster;
  const clients: RoamingClient[] = [];

  beforeAll(async () => {
    cluster = await startCluster('cluster_node_killed', 3, {
      RATE_LIMIT_WS_MESSAGES_PER_MINUTE: '10000000',
      RATE_LIMIT_WS_CONNECTIONS_PER_MINUTE: '10000000',
      CHAT_MESSAGES_PER_USER_PER_MINUTE: '10000000',
    });
  }, 60_000);
  afterAll(async () => {
    for (const client of clients.splice(0)) client.close();
    await cluster?.close();
  });

  it('moves the dead node’s clients to the survivors, loses nothing acknowledged, and the survivors serve on without an error', async () => {
    const urls = cluster.nodes.map((node) => node.url);
    for (let i = 0; i < USERS; i++) clients.push(startRoamingClient(urls, startNodeOf(i), userIdOf(i), signToken({ userId: userIdOf(i) })));
    await Promise.all(clients.map((client) => client.connected()));

    // One session per sender, with the next user, created by the sender over its socket.
    const sessions = await Promise.all(
      clients.map(async (client, i) => {
        const receiverUserId = userIdOf((i + 1) % USERS);
        const created: SessionCreated | AckFailure = await client.socket.timeout(5_000).emitWithAck('create_chat_session', { machineId: `m-${i}`, receiverUserId });
        if ('code' in created) throw new Error(`create_chat_session: ${created.code} ${created.error}`);
        return created.sessionId;
      }),
    );

    const acked: AckedMessage[] = [];
    const answered: AnsweredPush[] = [];
    /** Anything a node answered with other than success: none is expected, before the kill or after. */
    const errors: string[] = [];
    let retriedMessages = 0;
    let retriedPushes = 0;
    let replayedPushes = 0;
    let duplicateAcks = 0;

    let killedAt: number | undefined;
    let killedExit: Promise<unknown> | undefined;
    const readyAfterKill: Promise<number[]>[] = [];
    const survivors = cluster.nodes.filter((_node, index) => index !== KILLED);
    const total = USERS * MESSAGES_PER_SENDER + PUSHES;
    const onProgress = () => {
      if (killedAt !== undefined || acked.length + answered.length < KILL_AT * total) return;
      killedAt = Date.now();
      const victim = cluster.nodes[KILLED]!;
      killedExit = new Promise((resolve) => victim.child.once('exit', resolve));
      victim.child.kill('SIGKILL');
      // The survivors stay ready through it.
      readyAfterKill.push(Promise.all(survivors.map(async (node) => (await fetch(`${node.url}/ready`)).status)));
    };

    const sender = async (i: number) => {
      const client = clients[i]!;
      for (let n = 0; n < MESSAGES_PER_SENDER; n++) {
        const clientMessageId = `${client.userId}-${n}`;
        // A message whose node died before the ack is sent again, with the same clientMessageId, to the next node.
        for (;;) {
          await client.connected();
          const node = client.node();
          let reply: MessageSent | AckFailure;
          try {
            reply = await sendMessage(client, { sessionId: sessions[i]!, message: clientMessageId, clientMessageId });
          } catch {
            retriedMessages += 1;
            continue;
          }
          if ('code' in reply) {
            errors.push(`send_message by ${client.userId} on node-${node + 1}: ${reply.code} ${reply.error}`);
          } else {
            if (reply.duplicate) duplicateAcks += 1;
            acked.push({ sessionId: sessions[i]!, receiver: (i + 1) % USERS, clientMessageId, messageId: reply.messageId, seq: reply.seq, node });
          }
          onProgress();
          break;
        }
      }
    };

    const pusher = async (lane: number) => {
      for (let k = lane; k < PUSHES; k += PUSH_LANES) {
        const user = k % USERS;
        // A push whose node died before answering goes again, with the same idempotency key, to the next live node.
        for (let attempt = 0; ; attempt++) {
          const live = killedAt === undefined ? cluster.nodes : survivors;
          // Each user is pushed to from every node in turn, its own and the others.
          const node = cluster.nodes.indexOf(live[(k + Math.floor(k / USERS) + attempt) % live.length]!);
          let status: number;
          let body: { notificationIds?: string[]; code?: string };
          let replayed: boolean;
          try {
            const res = await fetch(`${cluster.nodes[node]!.url}/api/push`, {
              method: 'POST',
              headers: { 'Content-Type': 'application/json', 'X-API-Key': CLUSTER_KEY },
              body: JSON.stringify({ userId: userIdOf(user), persist: true, event: 'burst', data: { title: `push ${k}` }, idempotencyKey: `push-${k}` }),
            });
            status = res.status;
            replayed = res.headers.get('idempotent-replayed') === 'true';
            body = (await res.json()) as typeof body;
          } catch {
            retriedPushes += 1;
            continue;
          }
          if (status !== 200 || body.notificationIds?.length !== 1) {
            errors.push(`push ${k} on node-${node + 1}: ${status} ${JSON.stringify(body)}`);
          } else {
            if (replayed) replayedPushes += 1;
            answered.push({ user, notificationId: body.notificationIds[0]! });
          }
          onProgress();
          break;
        }
      }
    };

    const started = Date.now();
    await Promise.all([...clients.map((_client, i) => sender(i)), ...Array.from({ length: PUSH_LANES }, (_unused, lane) => pusher(lane))]);
    const burstMs = Date.now() - started;
    expect(killedAt).toBeDefined();
    await killedExit;
    expect(cluster.nodes[KILLED]!.child.signalCode).toBe('SIGKILL');

    // The survivors: every answer a success (socket acks and HTTP alike), ready throughout.
    expect(errors).toEqual([]);
    expect(await Promise.all(readyAfterKill)).toEqual([[200, 200]]);
    for (const node of survivors) expect((await fetch(`${node.url}/ready`)).status).toBe(200);
    // Nor did they log an error (pino's levels 50 and 60) at any point.
    for (const node of survivors) expect(node.output().split('\n').filter((line) => /"level":(50|60)\b/.test(line))).toEqual([]);
    expect(acked).toHaveLength(USERS * MESSAGES_PER_SENDER);
    expect(answered).toHaveLength(PUSHES);

    // The dead node's clients, and only they, reconnected: to a survivor.
    const moved = clients.filter((_client, i) => startNodeOf(i) === KILLED);
    const stayed = clients.filter((_client, i) => startNodeOf(i) !== KILLED);
    for (const client of moved) {
      expect(client.reconnectedAt.length).toBeGreaterThan(0);
      expect(client.node()).not.toBe(KILLED);
    }
    for (const client of stayed) expect(client.reconnectedAt).toEqual([]);
    const reconnectMs = moved.map((client) => client.reconnectedAt[0]! - killedAt!);

    // Storage: every acknowledged message in its session's history with its id and seq;
    // no clientMessageId stored twice (the retries); seqs 1..n without a gap; nothing
    // in it that the test did not send. Read from a survivor.
    const reader = survivors[0]!.url;
    const stored = new Map<string, ChatMessage>();
    for (const [i, sessionId] of sessions.entries()) {
      const history = await readHistory(reader, sessionId);
      expect(history.map((message) => message.seq)).toEqual(history.map((_message, index) => index + 1));
      const clientIds = history.map((message) => message.clientMessageId);
      expect(new Set(clientIds).size).toBe(history.length);
      expect(clientIds.every((id) => id?.startsWith(`${userIdOf(i)}-`))).toBe(true);
      for (const message of history) stored.set(message.id, message);
    }
    const lostMessages = acked.filter((message) => stored.get(message.messageId)?.seq !== message.seq);
    expect(lostMessages).toEqual([]);
    // Every message stored was acknowledged in the end (those whose first ack died with the node were retried).
    expect(stored.size).toBe(acked.length);

    // Storage: every answered push in its user's inbox, once; nothing else there.
    const inboxes = await Promise.all(clients.map((client) => readAllNotifications(reader, client.userId, CLUSTER_KEY)));
    const inboxIds = new Set(inboxes.flat().map((record) => record.id));
    expect(inboxes.flat()).toHaveLength(inboxIds.size);
    expect(answered.filter((push) => !inboxes[push.user]!.some((record) => record.id === push.notificationId))).toEqual([]);
    expect(inboxIds.size).toBe(PUSHES);

    // Clients of the dead node: what was not handed to them live came with the offline
    // delivery of the node they reconnected to; afterwards, live again.
    const ackedTo = (client: RoamingClient) => acked.filter((message) => userIdOf(message.receiver) === client.userId);
    const missingFor = (client: RoamingClient) => ackedTo(client).filter((message) => !client.messages.has(message.messageId));
    await eventually(async () => moved.every((client) => missingFor(client).length === 0), 'the moved clients were handed every message to them').catch(() => undefined);
    expect(moved.map((client) => [client.userId, missingFor(client)])).toEqual(moved.map((client) => [client.userId, []]));

    // Clients that stayed: every acknowledged message was handed to them live, those the
    // dead node acknowledged in its last moment included: a node acknowledges a message
    // only once Redis took its publish (socket-gateway.ts), so it outlives the node.
    await eventually(async () => stayed.every((client) => missingFor(client).length === 0), 'the staying clients got every message live').catch(() => undefined);
    expect(stayed.map((client) => [client.userId, missingFor(client)])).toEqual(stayed.map((client) => [client.userId, []]));
    const missedLiveFromKilled = stayed.reduce((sum, client) => sum + missingFor(client).filter((message) => message.node === KILLED).length, 0);

    // Nothing was handed to a client that is not stored (no phantom of a refused or
    // rolled-back message or push), and what each client got of its inbox (live, or read
    // after its reconnect) merged with one more read over its socket, de-duplicated by
    // id, is each of its answered pushes once.
    for (const [i, client] of clients.entries()) {
      expect([...client.messages.keys()].filter((id) => !stored.has(id))).toEqual([]);
      expect([...client.notifications.keys(), ...client.listed.keys()].filter((id) => !inboxIds.has(id))).toEqual([]);
      const seen = new Set([...client.notifications.keys(), ...client.listed.keys(), ...(await client.readInbox())]);
      expect(client.failures).toEqual([]);
      expect([...seen].sort()).toEqual(answered.filter((push) => push.user === i).map((push) => push.notificationId).sort());
    }

    // Raw duplicates (what a client that did not de-duplicate would have seen twice): chat
    // messages offered again at a reconnect; notifications both live and in the read after a reconnect.
    const chatDuplicates = clients.reduce((sum, client) => sum + duplicatesIn(client.messages), 0);
    const liveNotifications = clients.reduce((sum, client) => sum + client.notifications.size, 0);
    const notificationDuplicates = clients.reduce(
      (sum, client) =>
        sum + duplicatesIn(client.notifications) + duplicatesIn(client.listed) + [...client.listed.keys()].filter((id) => client.notifications.has(id)).length,
      0,
    );
    console.log(
      `cluster SIGKILL: burst ${burstMs} ms; node-${KILLED + 1} killed after ${Math.round(KILL_AT * 100)}% of the traffic; ` +
        `chat ${acked.length} acknowledged (${duplicateAcks} of them as duplicates of a stored retry, ${retriedMessages} resent after a drop), ${stored.size} stored, ${lostMessages.length} lost; ` +
        `pushes ${answered.length} answered (${replayedPushes} replayed, ${retriedPushes} resent), ${inboxIds.size} stored; ` +
        `${missedLiveFromKilled} messages acknowledged by the dead node not handed live to a staying client; ` +
        `raw duplicates handed to clients: chat ${chatDuplicates}, notifications ${notificationDuplicates} (of ${liveNotifications} live); ` +
        `reconnect after the kill: ${reconnectMs.join(', ')} ms`,
    );
  }, 60_000);
});

if (skipped !== undefined) {
  describe('cluster mode: a node SIGKILLed mid-burst', () => {
    it.skip(`skipped: ${skipped}`, () => undefined);
  });
}
