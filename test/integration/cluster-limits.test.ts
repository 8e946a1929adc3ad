import request from 'supertest';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ChatMessage } from '../../src/contracts/chat.js';
import type { MessageSent } from '../../src/contracts/events.js';
import { connectClient, connectError, emitWithAck, waitFor, type TestSocket } from '../support/client.js';
import { CLUSTER_KEY, clusterSkipReason, startCluster, type TestCluster } from '../support/cluster.js';
import { eventually } from '../support/eventually.js';
import { redisServerMissing, startOwnRedis, type OwnRedis } from '../support/redis-server-process.js';
import { signedHeaders } from '../support/signing.js';
import { signToken } from '../support/tokens.js';

/**
 * Issue 13: rate limits and signature nonces are shared through Redis. Requests and
 * connections alternate between two real node processes: a limit of N allows N in all,
 * not N per node, and a signed request accepted by one node is a replay on the other.
 * Each check mirrors its single-node test (protection.test.ts, socket-auth.test.ts,
 * api-keys-and-signatures.test.ts, chat-quotas.test.ts).
 */

const skipped = await clusterSkipReason();
/** More API keys, so that each test below spends from an HTTP count of its own. */
const SIGNING_KEYS = { v1: 'cluster-signing-v1-key-0123456789abcdef', v2: 'cluster-signing-v2-key-0123456789abcdef' };
const SIGNING_KEY = SIGNING_KEYS.v2;
const sockets: TestSocket[] = [];
afterEach(() => {
  for (const socket of sockets.splice(0)) socket.close();
});

describe.skipIf(skipped !== undefined)('cluster mode: HTTP and connection limits and nonces across nodes', () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await startCluster('cluster_limits', 2, {
      API_KEYS: `${CLUSTER_KEY},${SIGNING_KEYS.v1},${SIGNING_KEYS.v2}`,
      RATE_LIMIT_HTTP_PER_MINUTE: '6',
      RATE_LIMIT_WS_CONNECTIONS_PER_MINUTE: '4',
    });
  }, 60_000);
  afterAll(async () => {
    await cluster?.close();
  });

  const node = (i: number) => cluster.nodes[i % cluster.nodes.length]!.url;

  it('answers the 7th request of a key in a minute with 429, whichever node gets it, with RateLimit headers counting down across nodes', async () => {
    for (let i = 0; i < 6; i++) {
      const ok = await request(node(i)).get('/api/status').set('X-API-Key', CLUSTER_KEY).expect(200);
      expect(ok.headers['ratelimit-limit']).toBe('6');
      expect(ok.headers['ratelimit-remaining']).toBe(String(5 - i));
    }
    for (let i = 6; i < 8; i++) {
      const res = await request(node(i)).get('/api/status').set('X-API-Key', CLUSTER_KEY).expect(429);
      expect(res.body).toMatchObject({ success: false, error: 'Rate limit exceeded', code: 'RATE_LIMITED' });
      expect(res.body.retryAfter).toBeGreaterThan(0);
      expect(res.body.retryAfter).toBeLessThanOrEqual(60);
      expect(res.headers['retry-after']).toBe(String(res.body.retryAfter));
      expect(res.headers['ratelimit-remaining']).toBe('0');
    }
    for (const url of [node(0), node(1)]) {
      expect((await request(url).get('/metrics')).text).toMatch(/socket_server_rate_limited_total\{scope="http"\} 1$/m);
    }
  });

  it('counts callers without a valid key by IP across nodes too', async () => {
    const codes: number[] = [];
    for (let i = 0; i < 7; i++) codes.push((await request(node(i)).get('/api/status').set('X-API-Key', 'wrong')).status);
    expect(codes).toEqual([401, 401, 401, 401, 401, 401, 429]);
  });

  it('refuses the 5th new socket from one address in a minute with RATE_LIMITED, whichever node it reaches', async () => {
    for (let i = 0; i < 4; i++) sockets.push(await connectClient(node(i), { auth: { token: signToken({ userId: `conn-${i}` }) } }));
    for (let i = 4; i < 6; i++) {
      const err = await connectError(node(i), { auth: { token: signToken({ userId: `conn-${i}` }) } });
      expect(err.data?.code).toBe('RATE_LIMITED');
      expect(err.data?.retryAfter).toBeGreaterThan(0);
      expect(err.data?.retryAfter).toBeLessThanOrEqual(60);
    }
    for (const url of [node(0), node(1)]) {
      expect((await request(url).get('/metrics')).text).toMatch(/socket_server_rate_limited_total\{scope="ws_connection"\} 1$/m);
    }
  });

  it.each(['v1', 'v2'] as const)('refuses a %s signed request replayed byte for byte on the other node, as the same node refuses it', async (version) => {
    const path = '/api/status';
    const headers = signedHeaders(SIGNING_KEYS[version], version, { method: 'GET', path });
    await request(node(0)).get(path).set(headers).expect(200);
    const elsewhere = await request(node(1)).get(path).set(headers).expect(401);
    const here = await request(node(0)).get(path).set(headers).expect(401);
    expect(elsewhere.body).toMatchObject({
      success: false,
      code: 'INVALID_SIGNATURE',
      error: version === 'v1' ? 'This v1 signature was already used (a replay)' : 'X-Request-Nonce was already used',
    });
    expect({ code: elsewhere.body.code, error: elsewhere.body.error }).toEqual({ code: here.body.code, error: here.body.error });
    // A request signed anew is accepted by either node.
    await request(node(1)).get(path).set(signedHeaders(SIGNING_KEYS[version], version, { method: 'GET', path })).expect(200);
  });
});

describe.skipIf(skipped !== undefined)('cluster mode: chat quotas across nodes', () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await startCluster('cluster_chat_quotas', 2, { CHAT_MESSAGES_PER_USER_PER_MINUTE: '4', CHAT_SESSIONS_PER_PEER_PER_HOUR: '2' });
  }, 60_000);
  afterAll(async () => {
    await cluster?.close();
  });

  const node = (i: number) => cluster.nodes[i]!.url;
  const bearer = (userId: string) => `Bearer ${signToken({ userId })}`;
  const connectAs = async (i: number, userId: string) => {
    const socket = await connectClient(node(i), { auth: { token: signToken({ userId }) } });
    sockets.push(socket);
    return socket;
  };

  it('counts a user’s messages over sockets and REST on both nodes in one window', async () => {
    const created = await request(node(0))
      .post('/api/sessions')
      .set('X-API-Key', CLUSTER_KEY)
      .send({ machineId: 'm', senderUserId: 'quota-alice', receiverUserId: 'quota-bob' })
      .expect(201);
    const sessionId = (created.body as { sessionId: string }).sessionId;
    const onFirst = await connectAs(0, 'quota-alice');
    const onSecond = await connectAs(1, 'quota-alice');
    const restSend = (i: number, message: string) =>
      request(node(i)).post(`/api/sessions/${sessionId}/messages`).set('Authorization', bearer('quota-alice')).send({ message });

    expect(await emitWithAck<MessageSent>(onFirst, 'send_message', { sessionId, message: 'one' })).toMatchObject({ seq: 1 });
    expect(await emitWithAck<MessageSent>(onSecond, 'send_message', { sessionId, message: 'two' })).toMatchObject({ seq: 2 });
    await restSend(0, 'three').expect(201);
    await restSend(1, 'four').expect(201);

    const messageError = waitFor(onSecond, 'message_error');
    const refused = await emitWithAck<Record<string, unknown>>(onSecond, 'send_message', { sessionId, message: 'five' });
    expect(refused).toMatchObject({ success: false, code: 'RATE_LIMITED' });
    expect(refused.retryAfter).toBeGreaterThan(0);
    expect(refused.retryAfter).toBeLessThanOrEqual(60);
    expect(await messageError).toMatchObject({ code: 'RATE_LIMITED' });
    const rest = await restSend(0, 'five');
    expect(rest.status).toBe(429);
    expect(rest.body).toMatchObject({ success: false, code: 'RATE_LIMITED' });

    const stored = await request(node(1)).get(`/api/sessions/${sessionId}/messages`).set('X-API-Key', CLUSTER_KEY).expect(200);
    expect(stored.body.messages.map((m: ChatMessage) => m.message)).toEqual(['one', 'two', 'three', 'four']);
  });

  it('counts new sessions to one user over both nodes in one window', async () => {
    const alice = await connectAs(0, 'peer-alice');
    const createOverRest = (i: number) =>
      request(node(i)).post('/api/sessions').set('Authorization', bearer('peer-alice')).send({ machineId: 'm', receiverUserId: 'peer-bob' });

    expect(await emitWithAck(alice, 'create_chat_session', { machineId: 'm', receiverUserId: 'peer-bob' })).toMatchObject({ sessionId: expect.any(String) });
    await createOverRest(1).expect(201);
    expect(await emitWithAck(alice, 'create_chat_session', { machineId: 'm', receiverUserId: 'peer-bob' })).toMatchObject({
      success: false,
      code: 'RATE_LIMITED',
    });
    const rest = await createOverRest(1);
    expect(rest.status).toBe(429);
    expect(rest.body).toMatchObject({ code: 'RATE_LIMITED' });
    expect(rest.body.retryAfter).toBeGreaterThan(60);
    expect(rest.body.retryAfter).toBeLessThanOrEqual(3600);
    // Another receiver has a window of its own.
    await request(node(1)).post('/api/sessions').set('Authorization', bearer('peer-alice')).send({ machineId: 'm', receiverUserId: 'peer-carol' }).expect(201);
  });
});

describe.skipIf(skipped !== undefined)('cluster mode: limits and nonces while Redis is away', () => {
  let own: OwnRedis | undefined;
  let cluster: TestCluster | undefined;
  afterAll(async () => {
    await cluster?.close();
    await own?.kill();
  });

  it('keeps limiting per node (never a 500), refuses signed requests with 503 SERVICE_UNAVAILABLE, and shares both again once Redis is back', async (ctx) => {
    const missing = redisServerMissing();
    if (missing !== undefined) ctx.skip(missing);
    own = await startOwnRedis();
    cluster = await startCluster('cluster_limits_outage', 1, { REDIS_URL: own.url, API_KEYS: `${CLUSTER_KEY},${SIGNING_KEY}`, RATE_LIMIT_HTTP_PER_MINUTE: '3' });
    const url = cluster.nodes[0]!.url;
    // A route that needs PostgreSQL, not Redis: its answer is the limiter's doing alone.
    const path = '/api/jobs/no-such-job';
    const signed = () => request(url).get(path).set(signedHeaders(SIGNING_KEY, 'v2', { method: 'GET', path }));
    expect((await signed().expect(404)).body.code).toBe('NOT_FOUND');

    await own.kill();
    await eventually(async () => (await request(url).get('/ready')).status === 503, '/ready reports Redis gone');

    const codes: number[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await request(url).get(path).set('X-API-Key', CLUSTER_KEY);
      codes.push(res.status);
      expect(res.headers['ratelimit-limit']).toBe('3');
      if (res.status === 429) expect(res.body.code).toBe('RATE_LIMITED');
    }
    // This node's own count: the limit holds, per node, while Redis is away.
    expect(codes).toEqual([404, 404, 404, 429]);

    const refused = await signed().expect(503);
    expect(refused.body).toMatchObject({ success: false, code: 'SERVICE_UNAVAILABLE' });
    sockets.push(await connectClient(url, { auth: { token: signToken({ userId: 'during-outage' }) } }));

    await own.restart();
    await eventually(async () => (await request(url).get('/ready')).status === 200, '/ready reports Redis back');
    const headers = signedHeaders(SIGNING_KEY, 'v2', { method: 'GET', path });
    await request(url).get(path).set(headers).expect(404);
    expect((await request(url).get(path).set(headers).expect(401)).body.code).toBe('INVALID_SIGNATURE');
    expect(cluster.nodes[0]!.child.exitCode).toBeNull();
  }, 60_000);
});
