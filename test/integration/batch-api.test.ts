import request from 'supertest';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, emitWithAck, waitFor, watchUnwanted, type TestSocket } from '../support/client.js';
import { startServer, type TestServer } from '../support/server.js';
import { signedHeaders } from '../support/signing.js';
import { TEST_SECRET, signToken } from '../support/tokens.js';

/** POST /api/batch (issue 14): many pushes, broadcasts and room emits in one request, each answered alone. */

const KEY = 'batch-api-key-0123456789abcdef';

interface ItemResult {
  op?: string;
  status: number;
  body: Record<string, unknown>;
  replayed?: true;
}

describe('POST /api/batch', () => {
  let t: TestServer;
  const sockets: TestSocket[] = [];
  beforeAll(async () => {
    t = await startServer({ JWT_SECRET: TEST_SECRET, API_KEYS: KEY, RATE_LIMIT_HTTP_PER_MINUTE: '100000' });
  });
  afterAll(() => t.close());
  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.close();
  });

  const connectAs = async (userId: string) => {
    const socket = await connectClient(t.url, { auth: { token: signToken({ userId }) } });
    sockets.push(socket);
    return socket;
  };
  const batch = (body: unknown) => request(t.url).post('/api/batch').set('X-API-Key', KEY).send(body as object);

  it('runs push, broadcast and room items in order and answers each as its own endpoint would', async () => {
    const ann = await connectAs('batch-ann');
    await emitWithAck(ann, 'room:join', { room: 'batch-room' });
    const seen: [string, unknown][] = [];
    for (const event of ['b:push', 'b:broadcast', 'b:room']) ann.on(event as never, ((payload: unknown) => seen.push([event, payload])) as never);
    const last = waitFor(ann, 'b:room');
    const res = await batch({
      items: [
        { op: 'push', userId: 'batch-ann', event: 'b:push', data: { n: 1 } },
        { op: 'broadcast', event: 'b:broadcast', data: { n: 2 } },
        { op: 'room', room: 'batch-room', event: 'b:room', data: { n: 3 } },
      ],
    }).expect(200);
    await last;
    expect(seen).toEqual([
      ['b:push', { n: 1 }],
      ['b:broadcast', { n: 2 }],
      ['b:room', { n: 3 }],
    ]);
    expect(res.body).toMatchObject({ success: true, succeeded: 3, failed: 0 });
    const results = res.body.results as ItemResult[];
    expect(results.map((r) => [r.op, r.status])).toEqual([
      ['push', 200],
      ['broadcast', 200],
      ['room', 200],
    ]);
    expect(results[0]!.body).toEqual({ success: true, delivered: true, recipients: 1, messageId: expect.any(String), timestamp: expect.any(String) });
    expect(results[2]!.body).toEqual({ success: true, recipients: 1, messageId: expect.any(String), timestamp: expect.any(String) });
  });

  it('fails a bad item alone, with its code, and runs the others', async () => {
    const bob = await connectAs('batch-bob');
    const first = await batch({ items: [{ op: 'push', userId: 'batch-bob', idempotencyKey: 'k-1', event: 'b:once', data: 1 }] }).expect(200);
    expect((first.body.results as ItemResult[])[0]!.status).toBe(200);
    const delivered = waitFor(bob, 'b:ok');
    const res = await batch({
      items: [
        { op: 'push', event: 'b:ok' },
        { op: 'teleport', userId: 'batch-bob' },
        'not an object',
        { op: 'push', userId: 'batch-bob', idempotencyKey: 'k-1', event: 'b:once', data: 2 },
        { op: 'push', userId: 'batch-bob', idempotencyKey: 'k-1', event: 'b:once', data: 1 },
        { op: 'room', event: 'b:ok' },
        { op: 'push', userId: 'batch-bob', event: 'b:ok', data: 'fine' },
      ],
    }).expect(200);
    expect(await delivered).toBe('fine');
    const results = res.body.results as ItemResult[];
    expect(results.map((r) => [r.op, r.status, r.body.code])).toEqual([
      ['push', 400, 'INVALID_REQUEST'],
      ['teleport', 400, 'INVALID_REQUEST'],
      [undefined, 400, 'INVALID_REQUEST'],
      ['push', 422, 'IDEMPOTENCY_KEY_REUSED'],
      ['push', 200, undefined],
      ['room', 400, 'INVALID_REQUEST'],
      ['push', 200, undefined],
    ]);
    expect(results[0]!.body.error).toMatch(/items\[0\] is invalid: userId: exactly one of userId or userIds is required/);
    expect(results[1]!.body.error).toMatch(/items\[1\]: op must be one of push, broadcast, room/);
    expect(results[4]!.replayed).toBe(true);
    expect(res.body).toMatchObject({ succeeded: 2, failed: 5 });
  });

  it('stores persisted pushes run in parallel, answering their notification ids in item order', async () => {
    const items = Array.from({ length: 50 }, (_unused, i) => ({ op: 'push', userId: `batch-inbox-${i % 5}`, persist: true, data: { title: `n${i}` } }));
    const res = await batch({ items, parallel: true }).expect(200);
    const results = res.body.results as ItemResult[];
    expect(results.every((r) => r.status === 200 && Array.isArray(r.body.notificationIds))).toBe(true);
    for (let user = 0; user < 5; user += 1) {
      const list = await request(t.url).get(`/api/users/batch-inbox-${user}/notifications?limit=100`).set('X-API-Key', KEY).expect(200);
      const expected = results.filter((_r, i) => i % 5 === user).map((r) => (r.body.notificationIds as string[])[0]);
      expect(list.body.notifications.map((n: { id: string }) => n.id).sort()).toEqual([...expected].sort());
      expect(list.body.unreadCount).toBe(10);
    }
  });

  it('refuses an empty batch and one of more than 1,000 items as a whole', async () => {
    expect((await batch({ items: [] }).expect(400)).body.code).toBe('INVALID_REQUEST');
    const tooMany = Array.from({ length: 1001 }, () => ({ op: 'broadcast', event: 'x' }));
    expect((await batch({ items: tooMany }).expect(400)).body.code).toBe('INVALID_REQUEST');
    expect((await batch({ items: 'x' }).expect(400)).body.code).toBe('INVALID_REQUEST');
  });
});

describe('POST /api/batch and the rate limit: one unit per item', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startServer({ JWT_SECRET: TEST_SECRET, API_KEYS: KEY, RATE_LIMIT_HTTP_PER_MINUTE: '10' });
  });
  afterAll(() => t.close());

  it('spends a unit per item, and refuses whole, running nothing, a batch that does not fit', async () => {
    const carl = await connectClient(t.url, { auth: { token: signToken({ userId: 'batch-carl' }) } });
    try {
      const eight = Array.from({ length: 8 }, (_unused, i) => ({ op: 'push', userId: 'batch-carl', event: 'b:counted', data: i }));
      const ok = await request(t.url).post('/api/batch').set('X-API-Key', KEY).send({ items: eight }).expect(200);
      expect(ok.headers['ratelimit-remaining']).toBe('2');
      const unwanted = watchUnwanted(carl, ['b:refused']);
      const three = Array.from({ length: 3 }, () => ({ op: 'push', userId: 'batch-carl', event: 'b:refused', data: 'no' }));
      const refused = await request(t.url).post('/api/batch').set('X-API-Key', KEY).send({ items: three }).expect(429);
      expect(refused.body).toMatchObject({ code: 'RATE_LIMITED', retryAfter: expect.any(Number) });
      await unwanted.expectNothingBefore();
    } finally {
      carl.close();
    }
  });
});

describe('POST /api/batch with REQUIRE_SIGNED_REQUESTS=true', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startServer({ JWT_SECRET: TEST_SECRET, API_KEYS: KEY, REQUIRE_SIGNED_REQUESTS: 'true' });
  });
  afterAll(() => t.close());

  it('takes one signature for the whole batch, and refuses the batch unsigned', async () => {
    const body = JSON.stringify({ items: [{ op: 'broadcast', event: 'b:signed' }, { op: 'room', room: 'r', event: 'b:signed' }] });
    const headers = signedHeaders(KEY, 'v2', { method: 'POST', path: '/api/batch', body });
    const signed = await request(t.url).post('/api/batch').set(headers).set('Content-Type', 'application/json').send(body).expect(200);
    expect(signed.body).toMatchObject({ succeeded: 2, failed: 0 });
    const unsigned = await request(t.url).post('/api/batch').set('X-API-Key', KEY).set('Content-Type', 'application/json').send(body).expect(401);
    expect(unsigned.body.code).toBe('INVALID_SIGNATURE');
  });
});
