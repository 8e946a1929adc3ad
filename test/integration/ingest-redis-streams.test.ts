import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { createClient } from 'redis';
import { io } from 'socket.io-client';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { KafkaEventPayload, NotificationListReply, NotificationRecord } from '../../src/contracts/events.js';
import { systemClock } from '../../src/domain/clock.js';
import type { InboxStore } from '../../src/domain/inbox-store.js';
import { AppError } from '../../src/errors.js';
import { createLogger } from '../../src/observability/logger.js';
import type { ServerOverrides } from '../../src/server.js';
import { createSqliteInboxStore } from '../../src/storage/sqlite/sqlite-inbox-store.js';
import { connectClient, emitWithAck, waitFor, type TestSocket } from '../support/client.js';
import { redisServerMissing, startOwnRedis } from '../support/redis-server-process.js';
import {
  REDIS_URL,
  connectRedis,
  deleteKeys,
  killConnections,
  pendingOf,
  redisUnavailable,
  requireRedis,
  uniquePrefix,
  type TestRedis,
} from '../support/redis.js';
import { restartServer, startServer, type TestServer } from '../support/server.js';
import { TEST_SECRET, signToken } from '../support/tokens.js';
import { eventually } from '../support/eventually.js';

/**
 * The ingest on the machine's real Redis: seed 004's topics, each a stream, consumed by a
 * consumer group. Every test has streams and a group of its own (a unique
 * INGEST_STREAM_PREFIX), so no test sees another's entries, nor an earlier run's.
 */

const KEY = 'ingest-test-key-0123456789';
const ISO = expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
const unavailable = await redisUnavailable();

let redis: TestRedis | undefined;
const prefixes: string[] = [];
const servers: TestServer[] = [];
const sockets: TestSocket[] = [];

beforeAll(async () => {
  if (unavailable === undefined) redis = await connectRedis();
});
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.close();
  for (const server of servers.splice(0)) await server.close();
});
afterAll(async () => {
  if (redis !== undefined) {
    for (const prefix of prefixes) await deleteKeys(redis, prefix);
    redis.destroy();
  }
});

interface Ingesting {
  t: TestServer;
  prefix: string;
  group: string;
  stream: (topic: string) => string;
  /** XADDs an entry (the `value` as given: a string is sent as is, anything else as JSON) and returns its id. */
  add(topic: string, value: unknown, extra?: Record<string, string>): Promise<string>;
  connect(userId: string, claims?: Record<string, unknown>): Promise<TestSocket>;
  metrics(): Promise<string>;
}

async function startIngesting(name: string, env: Record<string, string> = {}, overrides: ServerOverrides = {}): Promise<Ingesting> {
  const prefix = uniquePrefix(name);
  prefixes.push(prefix);
  const group = `group-${prefix.replaceAll(':', '-')}`;
  const t = await startServer(
    {
      JWT_SECRET: TEST_SECRET,
      API_KEYS: KEY,
      INGEST_REDIS_URL: REDIS_URL,
      INGEST_STREAM_PREFIX: prefix,
      INGEST_GROUP: group,
      INGEST_CLAIM_IDLE_MS: '300',
      RATE_LIMIT_HTTP_PER_MINUTE: '100000',
      ...env,
    },
    overrides,
  );
  servers.push(t);
  return {
    t,
    prefix,
    group,
    stream: (topic) => `${prefix}${topic}`,
    async add(topic, value, extra = {}) {
      const fields: Record<string, string> = { ...extra };
      if (value !== undefined) fields.value = typeof value === 'string' ? value : JSON.stringify(value);
      return redis!.xAdd(`${prefix}${topic}`, '*', fields);
    },
    async connect(userId, claims = {}) {
      const socket = await connectClient(t.url, { auth: { token: signToken({ userId, ...claims }) } });
      sockets.push(socket);
      return socket;
    },
    async metrics() {
      return (await request(t.url).get('/metrics').expect(200)).text;
    },
  };
}

/** Collects every `event` the socket receives from now on. */
function collect<T>(socket: TestSocket, event: string): T[] {
  const seen: T[] = [];
  (socket as unknown as { on(event: string, listener: (payload: T) => void): void }).on(event, (payload) => seen.push(payload));
  return seen;
}

const counter = (text: string, name: string, labels: string) => {
  const match = new RegExp(`^${name}\\{${labels}\\} (\\d+)`, 'm').exec(text);
  return match === null ? 0 : Number(match[1]);
};

async function readInbox(t: TestServer, userId: string): Promise<NotificationRecord[]> {
  const res = await request(t.url).get(`/api/users/${userId}/notifications?limit=100`).set('X-API-Key', KEY).expect(200);
  return (res.body as { notifications: NotificationRecord[] }).notifications;
}

describe('ingesting seed 004 topics from Redis Streams', () => {
  it('maps each topic exactly as seed 004 shows, stores it, and mirrors the value to kafka-events', async (ctx) => {
    requireRedis(unavailable, ctx);
    const ingest = await startIngesting('mapping');
    // Seed 004's user ids are numbers: 39 and "39" are one user.
    const user = await ingest.connect('39');
    const monitor = await ingest.connect('monitor');
    await emitWithAck(monitor, 'subscribe', 'kafka-events');

    const cases = [
      {
        topic: 'notification.send',
        value: { userId: 39, type: 'warning', title: 'Heads up', message: 'Disk at 91%', data: { disk: '/var' } },
        payload: { type: 'warning', title: 'Heads up', message: 'Disk at 91%', data: { disk: '/var' } },
      },
      {
        topic: 'notification.send',
        value: { userId: '39', title: 'hi' },
        payload: { type: 'info', title: 'hi', message: '' },
      },
      {
        topic: 'document.processed',
        value: { userId: 39, id: 42, title: 'report.pdf', chunks: 15 },
        payload: { type: 'success', title: '📄 Document Ready', message: 'report.pdf has been processed (15 chunks)', data: { id: 42, title: 'report.pdf', chunks: 15 } },
      },
      {
        topic: 'report.ready',
        value: { userId: 39, type: 'weekly' },
        payload: { type: 'success', title: '📊 Report Ready', message: 'Your weekly report is ready!', data: { type: 'weekly' } },
      },
    ];
    for (const { topic, value, payload } of cases) {
      const notification = waitFor<Record<string, unknown>>(user, 'notification');
      const created = waitFor<NotificationRecord>(user, 'notification:new');
      const mirrored = waitFor<KafkaEventPayload>(monitor, 'kafka-event');
      await ingest.add(topic, value, { key: 'user-39' });
      const received = await notification;
      expect(received, topic).toEqual({ ...payload, timestamp: ISO, id: expect.any(String), notificationId: received.id });
      expect(await created).toMatchObject({
        id: received.id,
        userId: '39',
        event: 'notification',
        type: payload.type,
        title: payload.title,
        message: payload.message,
        readAt: null,
        ...(payload.data !== undefined ? { data: payload.data } : {}),
      });
      expect(await mirrored).toEqual({ topic, event: value, timestamp: ISO });
    }
    const stored = await readInbox(ingest.t, '39');
    expect(stored.map((record) => record.title)).toEqual(['📊 Report Ready', '📄 Document Ready', 'hi', 'Heads up']);
    const metrics = await ingest.metrics();
    expect(counter(metrics, 'ingest_entries_total', 'topic="notification.send",outcome="stored"')).toBe(2);
    expect(counter(metrics, 'ingest_entries_total', 'topic="document.processed",outcome="stored"')).toBe(1);
    expect(metrics).toMatch(/^ingest_source_connected 1$/m);
    for (const topic of ['notification.send', 'document.processed', 'report.ready']) {
      expect((await pendingOf(redis!, ingest.stream(topic), ingest.group)).pending).toBe(0);
    }
  });

  it('delivers each entry exactly once to an online user; a tenant user gets it in their tenant', async (ctx) => {
    requireRedis(unavailable, ctx);
    const ingest = await startIngesting('once');
    const user = await ingest.connect('online-user');
    const tenantUser = await ingest.connect('online-user', { tenantId: 'acme' });
    const seen = collect<Record<string, unknown>>(user, 'notification');
    const seenInTenant = collect<Record<string, unknown>>(tenantUser, 'notification');
    for (let n = 1; n <= 20; n++) await ingest.add('notification.send', { userId: 'online-user', title: `n${n}` });
    const tenantOne = waitFor<Record<string, unknown>>(tenantUser, 'notification');
    await ingest.add('notification.send', { userId: 'online-user', tenantId: 'acme', title: 'for acme' });
    await tenantOne;
    // The sentinel, after everything above on the same stream.
    await eventually(async () => seen.length >= 20, 'the 20 notifications arrived');
    const sentinel = waitFor<Record<string, unknown>>(user, 'notification');
    await ingest.add('notification.send', { userId: 'online-user', title: 'sentinel' });
    expect(await sentinel).toMatchObject({ title: 'sentinel' });
    const titles = seen.map((payload) => payload.title);
    expect(titles.filter((title) => title !== 'sentinel').sort()).toEqual(Array.from({ length: 20 }, (_, i) => `n${i + 1}`).sort());
    expect(new Set(titles).size).toBe(titles.length);
    expect(seenInTenant.map((payload) => payload.title)).toEqual(['for acme']);
    expect((await readInbox(ingest.t, 'online-user')).length).toBe(21);
    expect((await pendingOf(redis!, ingest.stream('notification.send'), ingest.group)).pending).toBe(0);
  });

  it('stores it for an offline user, who gets the count and the notification on connect', async (ctx) => {
    requireRedis(unavailable, ctx);
    // One entry at a time: the sentinel is handled only once the entry before it is stored.
    const ingest = await startIngesting('offline', { INGEST_BATCH_SIZE: '1' });
    const witness = await ingest.connect('witness');
    await ingest.add('report.ready', { userId: 'away', type: 'monthly' });
    const sentinel = waitFor(witness, 'notification');
    await ingest.add('report.ready', { userId: 'witness', type: 'sentinel' });
    await sentinel;

    const away: TestSocket = io(ingest.t.url, { transports: ['websocket'], reconnection: false, forceNew: true, auth: { token: signToken({ userId: 'away' }) } });
    sockets.push(away);
    // Listening before the connection exists: the count may come in the same read as CONNECT.
    const count = waitFor(away, 'notification:unread-count');
    await waitFor(away, 'connect');
    expect(await count).toEqual({ count: 1 });
    const page = await emitWithAck<NotificationListReply>(away, 'notification:list', {});
    expect(page.notifications).toEqual([
      expect.objectContaining({ userId: 'away', type: 'success', title: '📊 Report Ready', message: 'Your monthly report is ready!', data: { type: 'monthly' }, readAt: null }),
    ]);
  });

  it('acknowledges and counts a poison entry (logged with its id) and goes on with the next', async (ctx) => {
    requireRedis(unavailable, ctx);
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    const ingest = await startIngesting('poison', { INGEST_BATCH_SIZE: '1' }, { logger: pino({ level: 'warn' }, sink) });
    const user = await ingest.connect('poisoned');
    const poison = [
      { value: '{"userId": "poisoned", "title": ', reason: 'bad_json' },
      { value: { title: 'no user' }, reason: 'invalid_value' },
      { value: { userId: 'poisoned', title: 5 }, reason: 'invalid_value' },
      { value: { userId: ['poisoned'], title: 'x' }, reason: 'invalid_value' },
      { value: undefined, reason: 'missing_value' },
      // Deeper than MAX_PAYLOAD_DEPTH (32): refused before anything walks it.
      { value: `${'['.repeat(40)}{"userId":"poisoned","title":"deep"}${']'.repeat(40)}`, reason: 'too_deep' },
    ];
    const ids: string[] = [];
    for (const { value } of poison) ids.push(await ingest.add('notification.send', value, value === undefined ? { other: 'field' } : {}));
    // A document without its chunk count is poison too, on another stream.
    ids.push(await ingest.add('document.processed', { userId: 'poisoned', id: 1, title: 'a.pdf' }));

    const good = waitFor<Record<string, unknown>>(user, 'notification');
    await ingest.add('notification.send', { userId: 'poisoned', title: 'still flowing' });
    expect(await good).toMatchObject({ title: 'still flowing' });
    await eventually(async () => (await pendingOf(redis!, ingest.stream('document.processed'), ingest.group)).pending === 0, 'the document entry is acknowledged');
    expect((await pendingOf(redis!, ingest.stream('notification.send'), ingest.group)).pending).toBe(0);

    const metrics = await ingest.metrics();
    expect(counter(metrics, 'ingest_rejected_entries_total', 'topic="notification.send",reason="bad_json"')).toBe(1);
    expect(counter(metrics, 'ingest_rejected_entries_total', 'topic="notification.send",reason="invalid_value"')).toBe(3);
    expect(counter(metrics, 'ingest_rejected_entries_total', 'topic="notification.send",reason="missing_value"')).toBe(1);
    expect(counter(metrics, 'ingest_rejected_entries_total', 'topic="notification.send",reason="too_deep"')).toBe(1);
    expect(counter(metrics, 'ingest_rejected_entries_total', 'topic="document.processed",reason="invalid_value"')).toBe(1);
    expect(counter(metrics, 'ingest_entries_total', 'topic="notification.send",outcome="rejected"')).toBe(6);
    const rejectedIds = lines.filter((line) => line.msg === 'ingest: entry rejected (acknowledged, not retried)').map((line) => line.entryId);
    expect(rejectedIds.sort()).toEqual([...ids].sort());
    // Only the good one reached the inbox; the log never quotes a value.
    expect((await readInbox(ingest.t, 'poisoned')).map((record) => record.title)).toEqual(['still flowing']);
    expect(JSON.stringify(lines)).not.toContain('no user');
  });

  it('leaves an entry the inbox could not store pending (not acknowledged) and delivers it once storage is back', async (ctx) => {
    requireRedis(unavailable, ctx);
    const dir = await mkdtemp(path.join(tmpdir(), 'ingest-storage-'));
    const real = createSqliteInboxStore({
      file: path.join(dir, 'inbox.sqlite'),
      maxPerUser: 1000,
      retentionMs: 90 * 24 * 3600 * 1000,
      clock: systemClock,
      logger: createLogger({ level: 'silent', pretty: false }),
    });
    let failing = true;
    let refused = 0;
    const store: InboxStore = {
      ...real,
      async append(items, options) {
        if (failing) {
          refused += 1;
          throw new AppError('STORAGE_UNAVAILABLE', 'Storage unavailable: disk full');
        }
        return real.append(items, options);
      },
    };
    try {
      const ingest = await startIngesting('storage', {}, { inboxStore: store });
      const user = await ingest.connect('patient');
      const seen = collect<Record<string, unknown>>(user, 'notification');
      const id = await ingest.add('notification.send', { userId: 'patient', title: 'eventually' });
      // Refused, then refused again when claimed: it stays pending.
      await eventually(async () => refused >= 2, 'the entry was tried twice');
      expect(counter(await ingest.metrics(), 'ingest_entries_total', 'topic="notification.send",outcome="failed"')).toBeGreaterThanOrEqual(2);
      const pending = await redis!.xPendingRange(ingest.stream('notification.send'), ingest.group, '-', '+', 10);
      expect(pending.map((entry) => entry.id)).toEqual([id]);

      const delivered = waitFor<Record<string, unknown>>(user, 'notification');
      failing = false;
      expect(await delivered).toMatchObject({ title: 'eventually' });
      await eventually(async () => (await pendingOf(redis!, ingest.stream('notification.send'), ingest.group)).pending === 0, 'the entry is acknowledged');
      // Sentinel: a later entry arrives after anything the retried one could still send.
      const next = waitFor<Record<string, unknown>>(user, 'notification');
      await ingest.add('notification.send', { userId: 'patient', title: 'after' });
      expect(await next).toMatchObject({ title: 'after' });
      expect(seen.map((payload) => payload.title)).toEqual(['eventually', 'after']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('an entry already stored by a consumer that died before acknowledging is acknowledged, not stored or delivered again', async (ctx) => {
    requireRedis(unavailable, ctx);
    const prefix = uniquePrefix('redelivery');
    prefixes.push(prefix);
    const stream = `${prefix}notification.send`;
    const group = `group-${prefix.replaceAll(':', '-')}`;
    // A consumer read the entry and stored it, then died before XACK: the entry is pending
    // with it, and the inbox has it under the ingest's idempotency key.
    await redis!.xGroupCreate(stream, group, '0', { MKSTREAM: true });
    const id = await redis!.xAdd(stream, '*', { value: JSON.stringify({ userId: 'dedup', title: 'stored once' }) });
    expect(await redis!.xReadGroup(group, 'ghost', [{ key: stream, id: '>' }], { COUNT: 10 })).not.toBeNull();
    // What that consumer stored: the push the ingest makes of this entry, under its key (the
    // timestamp is the entry's own time, so the same entry always makes the same push).
    const before = await startServer({ JWT_SECRET: TEST_SECRET, API_KEYS: KEY });
    const timestamp = new Date(Number(id.split('-')[0])).toISOString();
    await request(before.url)
      .post('/api/push')
      .set('X-API-Key', KEY)
      .send({ userId: 'dedup', persist: true, idempotencyKey: `ingest:${stream}:${id}`, data: { type: 'info', title: 'stored once', message: '', timestamp } })
      .expect(200);

    // The same data directory, now ingesting: it claims the ghost's entry once it has been
    // pending INGEST_CLAIM_IDLE_MS, finds it stored, and acknowledges it.
    const t = await restartServer(before, {
      JWT_SECRET: TEST_SECRET,
      API_KEYS: KEY,
      INGEST_REDIS_URL: REDIS_URL,
      INGEST_STREAM_PREFIX: prefix,
      INGEST_GROUP: group,
      INGEST_CLAIM_IDLE_MS: '1500',
    });
    servers.push(t);
    const user = await connectClient(t.url, { auth: { token: signToken({ userId: 'dedup' }) } });
    sockets.push(user);
    const seen = collect<Record<string, unknown>>(user, 'notification');
    await eventually(async () => (await pendingOf(redis!, stream, group)).pending === 0, "the ghost's entry is claimed and acknowledged");
    const next = waitFor<Record<string, unknown>>(user, 'notification');
    await redis!.xAdd(stream, '*', { value: JSON.stringify({ userId: 'dedup', title: 'sentinel' }) });
    expect(await next).toMatchObject({ title: 'sentinel' });
    expect(seen.map((payload) => payload.title)).toEqual(['sentinel']);
    expect((await readInbox(t, 'dedup')).map((record) => record.title)).toEqual(['sentinel', 'stored once']);
    const metrics = (await request(t.url).get('/metrics').expect(200)).text;
    expect(counter(metrics, 'ingest_entries_total', 'topic="notification.send",outcome="duplicate"')).toBe(1);
    expect(counter(metrics, 'ingest_entries_total', 'topic="notification.send",outcome="stored"')).toBe(1);
  });

  it('resumes consuming after its Redis connection is killed (CLIENT KILL), without a restart', async (ctx) => {
    requireRedis(unavailable, ctx);
    const ingest = await startIngesting('kill');
    const user = await ingest.connect('survivor');
    const first = waitFor<Record<string, unknown>>(user, 'notification');
    await ingest.add('notification.send', { userId: 'survivor', title: 'before' });
    expect(await first).toMatchObject({ title: 'before' });

    for (let round = 1; round <= 3; round++) {
      const consumers = await redis!.xInfoConsumers(ingest.stream('notification.send'), ingest.group);
      const names = consumers.map((consumer) => `realtime-notify-ingest:${String(consumer.name)}`);
      expect(names).toHaveLength(1);
      // Mostly it is blocked in XREADGROUP at this moment: the read in flight fails.
      expect(await killConnections(redis!, names[0]!)).toBe(1);
      const after = waitFor<Record<string, unknown>>(user, 'notification', 10_000);
      await ingest.add('notification.send', { userId: 'survivor', title: `after kill ${round}` });
      expect(await after).toMatchObject({ title: `after kill ${round}` });
    }
    expect(await ingest.metrics()).toMatch(/^ingest_source_connected 1$/m);
    expect((await pendingOf(redis!, ingest.stream('notification.send'), ingest.group)).pending).toBe(0);
  });
});

describe('when Redis itself goes away and comes back empty', () => {
  it('keeps serving while it is away, then consumes again, making the lost group anew', async (ctx) => {
    requireRedis(unavailable, ctx);
    const missing = redisServerMissing();
    if (missing !== undefined) return ctx.skip(missing);
    const own = await startOwnRedis();
    const url = own.url;
    const producer = () => createClient({ url, socket: { reconnectStrategy: false } });
    try {
      const t = await startServer({ JWT_SECRET: TEST_SECRET, API_KEYS: KEY, INGEST_REDIS_URL: url, INGEST_CLAIM_IDLE_MS: '1000' });
      servers.push(t);
      const user = await connectClient(t.url, { auth: { token: signToken({ userId: 'steady' }) } });
      sockets.push(user);
      const add = async (title: string) => {
        const client = producer();
        await client.connect();
        try {
          await client.xAdd('notification.send', '*', { value: JSON.stringify({ userId: 'steady', title }) });
        } finally {
          client.destroy();
        }
      };
      const first = waitFor<Record<string, unknown>>(user, 'notification');
      await add('before the outage');
      expect(await first).toMatchObject({ title: 'before the outage' });

      await own.kill();
      await eventually(async () => /^ingest_source_connected 0$/m.test((await request(t.url).get('/metrics')).text), 'the server saw Redis go');
      // Still serving, and still ready: Redis is the ingest's source, not a part of serving.
      expect((await request(t.url).get('/ready').expect(200)).body.status).toBe('ready');
      const meanwhile = waitFor<Record<string, unknown>>(user, 'notification');
      await request(t.url).post('/api/push').set('X-API-Key', KEY).send({ userId: 'steady', data: { title: 'over HTTP' } }).expect(200);
      expect(await meanwhile).toMatchObject({ title: 'over HTTP' });

      // Back, with none of its data: the stream and the group are gone. The entry written
      // before the server notices is still consumed (the group is made again at 0).
      await own.restart();
      const after = waitFor<Record<string, unknown>>(user, 'notification', 15_000);
      await add('after the outage');
      expect(await after).toMatchObject({ title: 'after the outage' });
      expect((await request(t.url).get('/metrics').expect(200)).text).toMatch(/^ingest_source_connected 1$/m);
    } finally {
      await own.kill();
    }
  });
});

describe('with Redis unreachable', () => {
  it('starts, stays ready and serving, and closes promptly', async () => {
    // Nothing listens on port 1: every connection attempt is refused.
    const t = await startServer({ JWT_SECRET: TEST_SECRET, API_KEYS: KEY, INGEST_REDIS_URL: 'redis://127.0.0.1:1' });
    servers.push(t);
    const ready = await request(t.url).get('/ready').expect(200);
    expect(ready.body.status).toBe('ready');
    expect((await request(t.url).get('/metrics').expect(200)).text).toMatch(/^ingest_source_connected 0$/m);
    const socket = await connectClient(t.url, { auth: { token: signToken({ userId: 'still-served' }) } });
    sockets.push(socket);
    const got = waitFor(socket, 'notification');
    await request(t.url).post('/api/push').set('X-API-Key', KEY).send({ userId: 'still-served', data: { title: 'hi' } }).expect(200);
    await got;
    const closing = Date.now();
    servers.splice(servers.indexOf(t), 1);
    await t.close();
    // Not a speed assertion: a close that waited on the unreachable Redis would hit the watchdog (10 s).
    expect(Date.now() - closing).toBeLessThan(9000);
  });
});
