import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NotificationRecord, UnreadCountPayload } from '../../src/contracts/events.js';
import type { InboxStore } from '../../src/domain/inbox-store.js';
import { AppError } from '../../src/errors.js';
import { systemClock } from '../../src/domain/clock.js';
import { createLogger } from '../../src/observability/logger.js';
import { createSqliteInboxStore } from '../../src/storage/sqlite/sqlite-inbox-store.js';
import { connectClient, waitFor, watchUnwanted, type TestSocket } from '../support/client.js';
import { startServer, type TestServer } from '../support/server.js';
import { TEST_SECRET, signToken } from '../support/tokens.js';

/**
 * `POST /api/push` with `persist` at its edges: an idempotent retry, 1,000 users in one
 * durable write, and a store that cannot write.
 */

const KEY = 'inbox-push-key-0123456789';
const DELIVERED = ['notification', 'notification:new', 'notification:unread-count'];

/** An inbox store that counts its appends, and fails them while `failing` is set. */
function instrumented(store: InboxStore) {
  const state = { appends: 0, itemsPerAppend: [] as number[], failing: false };
  const wrapped: InboxStore = {
    ...store,
    async append(items, options) {
      state.appends += 1;
      state.itemsPerAppend.push(items.length);
      if (state.failing) throw new AppError('STORAGE_UNAVAILABLE', 'Storage unavailable: disk full');
      return store.append(items, options);
    },
  };
  return { store: wrapped, state };
}

let t: TestServer;
let spy: ReturnType<typeof instrumented>;
let storeDir: string;
const sockets: TestSocket[] = [];

beforeAll(async () => {
  // The embedded store the server uses by default, with appends counted.
  storeDir = await mkdtemp(path.join(tmpdir(), 'inbox-push-'));
  spy = instrumented(
    createSqliteInboxStore({
      file: path.join(storeDir, 'inbox.sqlite'),
      maxPerUser: 1000,
      retentionMs: 90 * 24 * 3600 * 1000,
      clock: systemClock,
      logger: createLogger({ level: 'silent', pretty: false }),
    }),
  );
  t = await startServer({ JWT_SECRET: TEST_SECRET, API_KEYS: KEY, RATE_LIMIT_HTTP_PER_MINUTE: '100000' }, { inboxStore: spy.store });
});
afterAll(async () => {
  for (const socket of sockets) socket.close();
  await t?.close();
  await rm(storeDir, { recursive: true, force: true });
});

const post = (body: Record<string, unknown>) => request(t.url).post('/api/push').set('X-API-Key', KEY).send(body);

async function connectAs(userId: string): Promise<TestSocket> {
  const socket = await connectClient(t.url, { auth: { token: signToken({ userId }) } });
  sockets.push(socket);
  return socket;
}

async function inboxOf(userId: string): Promise<NotificationRecord[]> {
  const res = await request(t.url).get(`/api/users/${userId}/notifications?limit=100`).set('X-API-Key', KEY).expect(200);
  return (res.body as { notifications: NotificationRecord[] }).notifications;
}

/** Resolves once `socket` got a push of the event `sentinel`, sent after everything before it. */
async function sentinelTo(userId: string, socket: TestSocket): Promise<void> {
  const arrived = waitFor(socket, 'sentinel');
  await post({ userId, event: 'sentinel' }).expect(200);
  await arrived;
}

describe('an idempotent push', () => {
  it('answers a retry exactly as the first call, storing and delivering nothing again', async () => {
    const device = await connectAs('retry');
    const first = waitFor<NotificationRecord>(device, 'notification:new');
    const body = { userIds: ['retry', 'retry-offline'], persist: true, idempotencyKey: 'order-42-shipped', data: { title: 'Shipped' } };
    const original = await post(body).expect(200);
    expect(original.headers['idempotent-replayed']).toBeUndefined();
    expect(original.body).toMatchObject({ delivered: true, recipients: 1, notificationIds: [expect.any(String), expect.any(String)] });
    expect((await first).id).toBe(original.body.notificationIds[0]);

    const watch = watchUnwanted(device, DELIVERED);
    const retry = await post(body).expect(200);
    expect(retry.body).toEqual(original.body);
    expect(retry.headers['idempotent-replayed']).toBe('true');
    // A different push under a used key is a client bug: refused, never answered as the first.
    for (const different of [{ data: { title: 'Something else' } }, { userIds: ['retry'] }, { event: 'other' }, { ttlSeconds: 60 }, { priority: 'HIGH' }]) {
      const refused = await post({ ...body, ...different }).expect(422);
      expect(refused.body).toMatchObject({ success: false, code: 'IDEMPOTENCY_KEY_REUSED' });
    }
    await watch.expectNothingBefore(() => sentinelTo('retry', device));

    expect((await inboxOf('retry')).map((n) => n.id)).toEqual([original.body.notificationIds[0]]);
    expect((await inboxOf('retry-offline')).map((n) => n.id)).toEqual([original.body.notificationIds[1]]);
  });

  it('stores once when two calls with the same key race', async () => {
    const body = { userId: 'racer', persist: true, idempotencyKey: 'race-1', data: { title: 'once' } };
    const [a, b] = await Promise.all([post(body).expect(200), post(body).expect(200)]);
    expect(a.body).toEqual(b.body);
    expect(await inboxOf('racer')).toHaveLength(1);
  });

  it('makes an unstored push delivered once too', async () => {
    const device = await connectAs('live-retry');
    const got = waitFor(device, 'ping:job');
    const body = { userId: 'live-retry', persist: false, event: 'ping:job', idempotencyKey: 'live-1', data: { n: 1 } };
    const original = await post(body).expect(200);
    expect(await got).toEqual({ n: 1 });
    expect(original.body).not.toHaveProperty('notificationIds');
    const watch = watchUnwanted(device, ['ping:job']);
    expect((await post(body).expect(200)).body).toEqual(original.body);
    await watch.expectNothingBefore(() => sentinelTo('live-retry', device));
    expect(await inboxOf('live-retry')).toEqual([]);
  });

  it('keeps keys per tenant: the same key in two tenants is two pushes', async () => {
    const body = { userId: 'same-user', persist: true, idempotencyKey: 'tenant-key', data: { title: 'hi' } };
    const a = await post({ ...body, tenantId: 'acme' }).expect(200);
    const b = await post({ ...body, tenantId: 'globex' }).expect(200);
    expect(b.headers['idempotent-replayed']).toBeUndefined();
    expect(b.body.notificationIds).not.toEqual(a.body.notificationIds);
    expect((await post({ ...body, tenantId: 'acme' }).expect(200)).body).toEqual(a.body);
  });

  it('uses different keys as different pushes', async () => {
    await post({ userId: 'two-keys', persist: true, idempotencyKey: 'k-1' }).expect(200);
    await post({ userId: 'two-keys', persist: true, idempotencyKey: 'k-2' }).expect(200);
    expect(await inboxOf('two-keys')).toHaveLength(2);
  });
});

describe('1,000 users in one push', () => {
  it('stores one notification each in one durable write, ids in the order of userIds', async () => {
    const userIds = Array.from({ length: 1000 }, (_, i) => `bulk-${i}`);
    const online = await connectAs('bulk-500');
    const news = waitFor<NotificationRecord>(online, 'notification:new');
    const count = waitFor<UnreadCountPayload>(online, 'notification:unread-count');
    const appendsBefore = spy.state.appends;

    const res = await post({ userIds, persist: true, data: { title: 'Everyone' } }).expect(200);
    expect(spy.state.appends - appendsBefore).toBe(1);
    expect(spy.state.itemsPerAppend.at(-1)).toBe(1000);
    const ids = res.body.notificationIds as string[];
    expect(ids).toHaveLength(1000);
    expect(new Set(ids).size).toBe(1000);
    expect(res.body).toMatchObject({ delivered: true, recipients: 1 });

    for (const index of [0, 500, 999]) {
      expect((await inboxOf(`bulk-${index}`)).map((n) => [n.id, n.userId])).toEqual([[ids[index], `bulk-${index}`]]);
    }
    expect(await news).toMatchObject({ id: ids[500], userId: 'bulk-500' });
    expect(await count).toEqual({ count: 1 });
  });

  it('stores one notification for a user named twice, and gives both places its id', async () => {
    const res = await post({ userIds: ['twice', 'other-once', 'twice'], persist: true }).expect(200);
    const [a, b, c] = res.body.notificationIds as string[];
    expect(a).toBe(c);
    expect(b).not.toBe(a);
    expect(await inboxOf('twice')).toHaveLength(1);
  });
});

describe('a store that cannot write', () => {
  it('answers 503 STORAGE_UNAVAILABLE and delivers nothing', async () => {
    const device = await connectAs('disk-full');
    const watch = watchUnwanted(device, DELIVERED);
    spy.state.failing = true;
    try {
      const res = await post({ userId: 'disk-full', persist: true, data: { title: 'lost?' } }).expect(503);
      expect(res.body).toMatchObject({ success: false, code: 'STORAGE_UNAVAILABLE', requestId: expect.any(String) });
      await watch.expectNothingBefore(() => sentinelTo('disk-full', device));
    } finally {
      spy.state.failing = false;
    }
    expect(await inboxOf('disk-full')).toEqual([]);
    // Once the store writes again, so does the push.
    await post({ userId: 'disk-full', persist: true }).expect(200);
    expect(await inboxOf('disk-full')).toHaveLength(1);
  });
});
