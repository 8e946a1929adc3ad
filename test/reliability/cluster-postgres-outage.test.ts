import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatMessage, MessagePage } from '../../src/contracts/chat.js';
import type { AckFailure } from '../../src/contracts/error-codes.js';
import type { MessageSent, NewMessagePayload } from '../../src/contracts/events.js';
import type { NotificationRecord } from '../../src/contracts/inbox.js';
import { connectClient, emitWithAck, waitFor, type TestSocket } from '../support/client.js';
import { CLUSTER_KEY, clusterSkipReason, startCluster, type ClusterNode, type TestCluster } from '../support/cluster.js';
import { eventually } from '../support/eventually.js';
import { DATABASE_URL } from '../support/postgres.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';
import { signToken } from '../support/tokens.js';
import { readAllNotifications } from './support/inbox-pages.js';

/**
 * Issue 13, "Faults": PostgreSQL out of reach under a 2-node cluster while Redis stays up.
 * Both nodes reach PostgreSQL through a TCP proxy (the shared server is never touched);
 * cutting it resets every connection and refuses new ones. Chat sends and stored pushes
 * run on both nodes across the cut: each is acknowledged (and then stored) or refused
 * with STORAGE_UNAVAILABLE, never a 500; nothing started during the outage is stored or
 * delivered; /ready fails on both; after the proxy is back both nodes recover by
 * themselves, the refused requests succeed when retried, and everything acknowledged is there.
 */

const skipped = await clusterSkipReason();

/** Attempts per lane: a socket lane and a REST lane of chat sends, a lane of stored pushes. */
const ATTEMPTS = 25;
/** The cut comes once this many attempts were acknowledged. */
const CUT_AFTER = 15;

/** `url` reaching PostgreSQL through the proxy on 127.0.0.1:`port` instead. */
function throughProxy(url: string, port: number): string {
  const parsed = new URL(url);
  parsed.hostname = '127.0.0.1';
  parsed.port = String(port);
  return parsed.toString();
}

type Lane = 'socket' | 'rest' | 'push';

interface Attempt {
  lane: Lane;
  /** clientMessageId or idempotency key (the push's title too): what a retry sends again. */
  key: string;
  node: ClusterNode;
  /** Started once the cut was complete: nothing of it can reach PostgreSQL. */
  duringOutage: boolean;
  outcome?: { acked: true; id: string; seq?: number } | { acked: false; code: string };
}

interface Answer {
  status: number;
  body: { success?: boolean; code?: string; messageId?: string; seq?: number; notificationIds?: string[] };
}

async function post(node: ClusterNode, path: string, body: object): Promise<Answer> {
  const res = await fetch(`${node.url}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-API-Key': CLUSTER_KEY }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Answer['body'] };
}

async function readHistory(node: ClusterNode, sessionId: string): Promise<ChatMessage[]> {
  const res = await fetch(`${node.url}/api/sessions/${sessionId}/messages?after=0&limit=500`, { headers: { 'X-API-Key': CLUSTER_KEY } });
  if (res.status !== 200) throw new Error(`GET history answered ${res.status}: ${await res.text()}`);
  const page = (await res.json()) as MessagePage;
  expect(page.nextAfter).toBeUndefined();
  return page.messages;
}

const readiness = async (node: ClusterNode) => {
  const res = await fetch(`${node.url}/ready`);
  return { status: res.status, checks: ((await res.json()) as { checks: Record<string, boolean> }).checks };
};

describe.skipIf(skipped !== undefined)('cluster mode: PostgreSQL out of reach, Redis up', () => {
  let cluster: TestCluster;
  let proxy: TcpProxy;
  let one: ClusterNode;
  let two: ClusterNode;
  const sockets: TestSocket[] = [];

  beforeAll(async () => {
    const target = new URL(DATABASE_URL);
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    // The cluster's schema and Redis prefix, with its nodes added by hand: their DATABASE_URL goes through the proxy.
    cluster = await startCluster('cluster_pg_outage', 0, { RATE_LIMIT_WS_MESSAGES_PER_MINUTE: '10000000', CHAT_MESSAGES_PER_USER_PER_MINUTE: '10000000' });
    const databaseUrl = throughProxy(cluster.schema.url, proxy.port);
    const started = await Promise.all(['node-1', 'node-2'].map((NODE_ID) => cluster.addNode({ NODE_ID, DATABASE_URL: databaseUrl })));
    [one, two] = [started[0]!, started[1]!];
  }, 60_000);
  afterAll(async () => {
    for (const socket of sockets.splice(0)) socket.close();
    await proxy?.restore();
    await cluster?.close();
    await proxy?.close();
  });

  it('refuses with STORAGE_UNAVAILABLE what it cannot commit, stores and delivers nothing of it, and recovers on both nodes without a restart', async () => {
    const pids = [one.child.pid, two.child.pid];
    const alice = await connectClient(one.url, { auth: { token: signToken({ userId: 'alice' }) } });
    const bob = await connectClient(two.url, { auth: { token: signToken({ userId: 'bob' }) } });
    sockets.push(alice, bob);
    const bobGot = { messages: [] as string[], notifications: [] as string[] };
    bob.on('new_message', (payload: NewMessagePayload) => bobGot.messages.push(payload.message.id));
    bob.on('notification:new', (record: NotificationRecord) => bobGot.notifications.push(record.id));
    const { sessionId } = await emitWithAck<{ sessionId: string }>(alice, 'create_chat_session', { machineId: 'm', receiverUserId: 'bob' });

    const attempts: Attempt[] = [];
    let cut: Promise<void> | undefined;
    let cutDone = false;
    const run = async (attempt: Attempt): Promise<void> => {
      const { lane, key, node } = attempt;
      if (lane === 'socket') {
        const reply = await emitWithAck<MessageSent | AckFailure>(alice, 'send_message', { sessionId, message: key, clientMessageId: key });
        attempt.outcome = 'code' in reply ? { acked: false, code: reply.code } : { acked: true, id: reply.messageId, seq: reply.seq };
        return;
      }
      const { status, body } =
        lane === 'rest'
          ? await post(node, `/api/sessions/${sessionId}/messages`, { senderUserId: 'alice', message: key, clientMessageId: key })
          : await post(node, '/api/push', { userId: 'bob', persist: true, idempotencyKey: key, data: { title: key } });
      if (status === 503) attempt.outcome = { acked: false, code: body.code ?? `503 without a code: ${JSON.stringify(body)}` };
      else if ((status === 200 || status === 201) && lane === 'rest') attempt.outcome = { acked: true, id: body.messageId!, seq: body.seq! };
      else if (status === 200 && body.notificationIds?.length === 1) attempt.outcome = { acked: true, id: body.notificationIds[0]! };
      else attempt.outcome = { acked: false, code: `${status} ${JSON.stringify(body)}` };
    };
    const lane = async (name: Lane) => {
      for (let n = 0; n < ATTEMPTS; n++) {
        const attempt: Attempt = { lane: name, key: `${name}-${n}`, node: name === 'socket' ? one : n % 2 === 0 ? two : one, duringOutage: cutDone };
        attempts.push(attempt);
        await run(attempt);
        if (cut === undefined && attempts.filter((a) => a.outcome?.acked).length >= CUT_AFTER) {
          cut = proxy.cut().then(() => {
            cutDone = true;
          });
        }
      }
    };

    // Before: both nodes ready. Then the burst, with PostgreSQL cut in the middle of it.
    expect((await Promise.all([one, two].map(readiness))).map((r) => r.status)).toEqual([200, 200]);
    await Promise.all((['socket', 'rest', 'push'] as const).map(lane));
    await cut;

    // Every answer was a success or STORAGE_UNAVAILABLE (no 500, no other code); everything
    // started during the outage was refused, and something was.
    const refused = attempts.filter((a) => !a.outcome!.acked);
    expect(refused.filter((a) => a.outcome!.acked === false && a.outcome!.code !== 'STORAGE_UNAVAILABLE').map((a) => [a.key, a.outcome])).toEqual([]);
    const duringOutage = attempts.filter((a) => a.duringOutage);
    expect(duringOutage.length).toBeGreaterThan(0);
    expect(duringOutage.filter((a) => a.outcome!.acked).map((a) => a.key)).toEqual([]);

    // Meanwhile: /ready fails on both nodes for their stores, Redis stays up, reads are
    // refused the same way, and a push that stores nothing still reaches a user on the other node.
    for (const node of [one, two]) {
      const ready = await readiness(node);
      expect(ready.status).toBe(503);
      expect(ready.checks).toMatchObject({ chatStore: false, inboxStore: false, redis: true });
      const history = await fetch(`${node.url}/api/sessions/${sessionId}/messages`, { headers: { 'X-API-Key': CLUSTER_KEY } });
      expect([history.status, ((await history.json()) as { code: string }).code]).toEqual([503, 'STORAGE_UNAVAILABLE']);
    }
    const live = waitFor(bob, 'outage-notice');
    expect((await post(one, '/api/push', { userId: 'bob', event: 'outage-notice', data: { live: true } })).status).toBe(200);
    expect(await live).toEqual({ live: true });

    // Back: both nodes ready again by themselves, the same processes.
    await proxy.restore();
    await eventually(async () => (await Promise.all([one, two].map(readiness))).every((r) => r.status === 200), 'both nodes are ready again');
    expect([one.child.pid, two.child.pid]).toEqual(pids);
    expect([one.child.exitCode, two.child.exitCode]).toEqual([null, null]);

    // Nothing started during the outage was stored (what was in flight at the cut may
    // have been: its outcome was unknown to the node, and a retry tells).
    const storedBefore = await readHistory(one, sessionId);
    const inboxBefore = await readAllNotifications(two.url, 'bob', CLUSTER_KEY);
    const storedKeys = new Set([...storedBefore.map((m) => m.clientMessageId), ...inboxBefore.map((r) => r.title)]);
    expect(duringOutage.filter((a) => storedKeys.has(a.key)).map((a) => a.key)).toEqual([]);
    const inFlight = refused.filter((a) => !a.duringOutage);
    const inFlightStored = inFlight.filter((a) => storedKeys.has(a.key)).length;

    // Each refused request, retried as it was, succeeds now.
    for (const attempt of refused) {
      attempt.outcome = undefined;
      await run(attempt);
      expect([attempt.key, attempt.outcome]).toEqual([attempt.key, expect.objectContaining({ acked: true })]);
    }

    // Everything acknowledged is stored, once, under the id its answer named; seqs 1..n
    // with no gap; and the inbox holds exactly the acknowledged pushes.
    const sentinel = new Promise<void>((resolve) =>
      bob.on('new_message', (payload) => {
        if (payload.message.message === 'final') resolve();
      }),
    );
    const final = await emitWithAck<MessageSent>(alice, 'send_message', { sessionId, message: 'final', clientMessageId: 'final' });
    const history = await readHistory(two, sessionId);
    expect(history.map((m) => m.seq)).toEqual(history.map((_m, index) => index + 1));
    const messages = attempts.filter((a) => a.lane !== 'push');
    expect(history.map((m) => [m.clientMessageId, m.id]).sort()).toEqual(
      [...messages.map((a) => [a.key, (a.outcome as { id: string }).id]), ['final', final.messageId]].sort(),
    );
    const inbox = await readAllNotifications(one.url, 'bob', CLUSTER_KEY);
    const pushes = attempts.filter((a) => a.lane === 'push');
    expect(inbox.map((r) => [r.title, r.id]).sort()).toEqual(pushes.map((a) => [a.key, (a.outcome as { id: string }).id]).sort());

    // Bob, on the other node, was handed nothing that is not stored.
    await sentinel;
    const storedIds = new Set([...history.map((m) => m.id), ...inbox.map((r) => r.id)]);
    expect([...bobGot.messages, ...bobGot.notifications].filter((id) => !storedIds.has(id))).toEqual([]);

    console.log(
      `cluster PostgreSQL outage: ${attempts.length} attempts on 2 nodes, ${attempts.length - refused.length} acknowledged, ` +
        `${refused.length} refused with STORAGE_UNAVAILABLE (${duringOutage.length} started during the outage, ${inFlight.length} in flight at the cut, of which ${inFlightStored} had been stored), ` +
        `all refused ones acknowledged on retry; ${history.length} messages and ${inbox.length} notifications stored; ` +
        `bob was handed ${bobGot.messages.length} messages and ${bobGot.notifications.length} notifications, none unstored`,
    );
  }, 60_000);
});

if (skipped !== undefined) {
  describe('cluster mode: PostgreSQL out of reach, Redis up', () => {
    it.skip(`skipped: ${skipped}`, () => undefined);
  });
}
