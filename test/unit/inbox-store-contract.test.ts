import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { InboxOwner, InboxStore, NewNotification } from '../../src/domain/inbox-store.js';
import { createMemoryInboxStore } from '../../src/storage/memory/memory-inbox-store.js';
import { createPostgresInboxStore } from '../../src/storage/postgres/postgres-inbox-store.js';
import { createSqliteInboxStore } from '../../src/storage/sqlite/sqlite-inbox-store.js';
import { rejectionCode, silentLogger, storeInTempDir } from '../support/chat-store-harness.js';
import { createTestClock, type TestClock } from '../support/clock.js';
import { addPostgresDriver, memoryDriver, type StoreDriver } from '../support/store-drivers.js';

interface StoreSettings {
  clock: TestClock;
  maxPerUser: number;
  retentionMs: number;
}

/** Every InboxStore implementation, each run through the same tests below. */
const drivers: StoreDriver<InboxStore, StoreSettings>[] = [
  {
    name: 'sqlite store',
    create: ({ clock, maxPerUser, retentionMs }) =>
      storeInTempDir('inbox-store-', (dir) =>
        createSqliteInboxStore({ file: path.join(dir, 'inbox.sqlite'), clock, maxPerUser, retentionMs, logger: silentLogger() }),
      ),
  },
  memoryDriver(createMemoryInboxStore),
];
await addPostgresDriver(drivers, 'InboxStore contract', 'inbox_contract', (database, { clock, maxPerUser, retentionMs }) =>
  createPostgresInboxStore({ database, clock, maxPerUser, retentionMs, logger: silentLogger() }),
);

const START = Date.parse('2025-01-01T00:00:00.000Z');
const DAY = 24 * 3600 * 1000;
const RETENTION_MS = 90 * DAY;

const alice: InboxOwner = { userId: 'alice' };
const bob: InboxOwner = { userId: 'bob' };

function note(owner: InboxOwner, fields: Partial<NewNotification> = {}): NewNotification {
  return { ...owner, type: 'info', event: 'notification', ...fields };
}

describe.each(drivers)('InboxStore contract: $name', (driver) => {
  let store: InboxStore;
  let clock: TestClock;
  let cleanup: () => Promise<void>;

  async function open(settings: Partial<StoreSettings> = {}): Promise<void> {
    await cleanup?.();
    clock = createTestClock(START);
    ({ store, cleanup } = await driver.create({ clock, maxPerUser: 1000, retentionMs: RETENTION_MS, ...settings }));
    await store.open();
  }

  /** Appends and returns the records (never a replay: no idempotency key). */
  async function add(...items: NewNotification[]) {
    const result = await store.append(items);
    if (result.replayed) throw new Error('unexpected replay');
    return result.records;
  }

  async function idsOf(owner: InboxOwner, options: { unreadOnly?: boolean } = {}): Promise<string[]> {
    return (await store.list(owner, { limit: 100, ...options })).notifications.map((n) => n.id);
  }

  beforeEach(async () => {
    await open();
  });

  afterEach(async () => {
    await cleanup();
  });

  it('stores each item as a record with an id, createdAt and readAt null, in the order given', async () => {
    const records = await add(
      note(alice, {
        tenantId: 'acme',
        type: 'warning',
        priority: 'HIGH',
        title: 'Disk',
        message: 'almost full',
        data: { used: 0.93, tags: ['a', 'ü'], nested: { ok: null } },
        event: 'alert',
        expiresAt: '2025-01-02T00:00:00.000Z',
      }),
      note(bob),
    );
    expect(records).toEqual([
      {
        id: expect.any(String),
        userId: 'alice',
        tenantId: 'acme',
        type: 'warning',
        priority: 'HIGH',
        title: 'Disk',
        message: 'almost full',
        data: { used: 0.93, tags: ['a', 'ü'], nested: { ok: null } },
        event: 'alert',
        createdAt: '2025-01-01T00:00:00.000Z',
        readAt: null,
        expiresAt: '2025-01-02T00:00:00.000Z',
      },
      { id: expect.any(String), userId: 'bob', type: 'info', event: 'notification', createdAt: '2025-01-01T00:00:00.000Z', readAt: null },
    ]);
    expect(records[0]?.id).not.toBe(records[1]?.id);
    expect(await store.get({ userId: 'alice', tenantId: 'acme' }, records[0]?.id ?? '')).toEqual(records[0]);
    expect(await store.get(bob, records[1]?.id ?? '')).toEqual(records[1]);
    expect(store.isWritable()).toBe(true);
  });

  it('keeps data as JSON gives it back: null, strings, arrays and absent are each their own', async () => {
    const payloads = [null, 'text', 0, false, [1, 'two'], { a: { b: [] } }];
    const records = await add(...payloads.map((data) => note(alice, { data })), note(alice));
    expect(records.map((r) => r.data)).toEqual([...payloads, undefined]);
    expect(records.at(-1)).not.toHaveProperty('data');
    for (const record of records) expect(await store.get(alice, record.id)).toEqual(record);
  });

  it('gives ids that are unique and increase with every append, across inboxes', async () => {
    const seen: string[] = [];
    for (let i = 0; i < 5; i += 1) {
      for (const record of await add(note(alice), note(bob), note({ userId: 'alice', tenantId: 't' }))) seen.push(record.id);
    }
    expect(new Set(seen).size).toBe(seen.length);
    const numeric = seen.map(Number);
    expect(numeric).toEqual([...numeric].sort((a, b) => a - b));
    expect(await idsOf(alice)).toEqual(seen.filter((_, i) => i % 3 === 0).reverse());
  });

  it('pages newest first with nextBefore, and new notifications do not move later pages', async () => {
    const ids = (await add(...Array.from({ length: 7 }, (_, i) => note(alice, { title: `n${i}` })))).map((r) => r.id);
    const first = await store.list(alice, { limit: 3 });
    expect(first.notifications.map((n) => n.id)).toEqual([ids[6], ids[5], ids[4]]);
    expect(first.nextBefore).toBe(ids[4]);

    await add(note(alice, { title: 'arrived while paging' }));
    const second = await store.list(alice, { limit: 3, before: first.nextBefore });
    expect(second.notifications.map((n) => n.id)).toEqual([ids[3], ids[2], ids[1]]);
    const third = await store.list(alice, { limit: 3, before: second.nextBefore });
    expect(third).toEqual({ notifications: [expect.objectContaining({ id: ids[0], title: 'n0' })] });
    expect(await store.list(alice, { limit: 1, before: ids[0] })).toEqual({ notifications: [] });
    // Exactly a page left: no nextBefore pointing at an empty page.
    expect((await store.list(alice, { limit: 2, before: ids[2] })).nextBefore).toBeUndefined();
    expect(await store.list(bob, { limit: 20 })).toEqual({ notifications: [] });
  });

  it('lists only unread ones with unreadOnly, paging the same way', async () => {
    const ids = (await add(...Array.from({ length: 6 }, () => note(alice)))).map((r) => r.id);
    await store.markRead(alice, [ids[1] ?? '', ids[4] ?? ''], '2025-01-01T00:05:00.000Z');
    const unread = [ids[5], ids[3], ids[2], ids[0]];
    expect(await idsOf(alice, { unreadOnly: true })).toEqual(unread);
    const page = await store.list(alice, { limit: 2, unreadOnly: true });
    expect(page.notifications.map((n) => n.id)).toEqual(unread.slice(0, 2));
    expect((await store.list(alice, { limit: 2, unreadOnly: true, before: page.nextBefore })).notifications.map((n) => n.id)).toEqual(unread.slice(2));
    expect((await store.list(alice, { limit: 10 })).notifications.map((n) => n.readAt)).toEqual([
      null,
      '2025-01-01T00:05:00.000Z',
      null,
      null,
      '2025-01-01T00:05:00.000Z',
      null,
    ]);
  });

  it('counts unread exactly, far beyond a hundred, through reads and deletes', async () => {
    const ids = (await add(...Array.from({ length: 250 }, () => note(alice)))).map((r) => r.id);
    await add(note(bob));
    expect(await store.unreadCount(alice)).toBe(250);
    expect(await store.markRead(alice, ids.slice(0, 10), '2025-01-01T01:00:00.000Z')).toEqual(ids.slice(0, 10));
    expect(await store.unreadCount(alice)).toBe(240);
    expect(await store.remove(alice, ids[0] ?? '')).toBe(true); // read: the count stays
    expect(await store.remove(alice, ids[100] ?? '')).toBe(true); // unread: one less
    expect(await store.unreadCount(alice)).toBe(239);
    expect(await store.unreadCount(bob)).toBe(1);
    expect(await store.unreadCount({ userId: 'nobody' })).toBe(0);
    expect(await store.unreadCounts([bob, { userId: 'nobody' }, alice, { userId: 'alice', tenantId: 'other' }, bob])).toEqual([1, 0, 239, 0, 1]);
    expect(await store.unreadCounts([])).toEqual([]);
  });

  it('marks given ids read once, leaving already read, unknown, malformed and foreign ids alone', async () => {
    const [a1, a2, a3] = (await add(note(alice), note(alice), note(alice))).map((r) => r.id);
    const [b1] = (await add(note(bob))).map((r) => r.id);
    if (a1 === undefined || a2 === undefined || a3 === undefined || b1 === undefined) throw new Error('not stored');
    expect(await store.markRead(alice, [a2, a1, a2], '2025-01-01T00:01:00.000Z')).toEqual([a2, a1]);
    expect(await store.markRead(alice, [a1, b1, '999999', 'abc', '', '-1', '01'], '2025-01-01T00:02:00.000Z')).toEqual([]);
    expect((await store.get(alice, a1))?.readAt).toBe('2025-01-01T00:01:00.000Z');
    expect((await store.get(bob, b1))?.readAt).toBeNull();
    expect(await store.unreadCount(bob)).toBe(1);
    expect(await store.get(alice, b1)).toBeUndefined();
    expect(await store.markRead(alice, [], '2025-01-01T00:02:00.000Z')).toEqual([]);

    expect(await store.markRead(alice, 'all', '2025-01-01T00:03:00.000Z')).toEqual([a3]);
    expect(await store.markRead(alice, 'all', '2025-01-01T00:04:00.000Z')).toEqual([]);
    expect(await store.unreadCount(alice)).toBe(0);
    expect(await store.unreadCount(bob)).toBe(1);
    expect((await store.get(alice, a3))?.readAt).toBe('2025-01-01T00:03:00.000Z');
  });

  it('removes the owner’s notification only, once', async () => {
    const [a1, a2] = (await add(note(alice), note(alice))).map((r) => r.id);
    const [b1] = (await add(note(bob))).map((r) => r.id);
    if (a1 === undefined || a2 === undefined || b1 === undefined) throw new Error('not stored');
    expect(await store.remove(alice, b1)).toBe(false);
    expect(await store.remove(alice, 'abc')).toBe(false);
    expect(await store.remove(alice, '987654321')).toBe(false);
    expect(await store.get(bob, b1)).toBeDefined();
    expect(await store.remove(alice, a1)).toBe(true);
    expect(await store.remove(alice, a1)).toBe(false);
    expect(await idsOf(alice)).toEqual([a2]);
    expect(await store.get(alice, a1)).toBeUndefined();
    expect(await store.unreadCount(alice)).toBe(1);
    expect(await store.markRead(alice, [a1], '2025-01-01T00:01:00.000Z')).toEqual([]);
  });

  it('keeps tenants apart: the same user id in two tenants and in none is three inboxes', async () => {
    const inboxes: InboxOwner[] = [{ userId: 'u' }, { userId: 'u', tenantId: 'a' }, { userId: 'u', tenantId: 'b' }];
    const ids = await Promise.all(inboxes.map(async (owner, i) => (await add(...Array.from({ length: i + 1 }, () => note(owner)))).map((r) => r.id)));
    for (const [i, owner] of inboxes.entries()) {
      expect(await idsOf(owner)).toEqual([...(ids[i] ?? [])].reverse());
      expect(await store.unreadCount(owner)).toBe(i + 1);
    }
    expect((await store.list(inboxes[1] as InboxOwner, { limit: 1 })).notifications[0]?.tenantId).toBe('a');
    expect((await store.list(inboxes[0] as InboxOwner, { limit: 1 })).notifications[0]).not.toHaveProperty('tenantId');

    const foreign = ids[2]?.[0] ?? '';
    expect(await store.get(inboxes[1] as InboxOwner, foreign)).toBeUndefined();
    expect(await store.markRead(inboxes[1] as InboxOwner, [foreign], '2025-01-01T00:01:00.000Z')).toEqual([]);
    expect(await store.remove(inboxes[0] as InboxOwner, foreign)).toBe(false);
    expect(await store.markRead(inboxes[1] as InboxOwner, 'all', '2025-01-01T00:01:00.000Z')).toHaveLength(2);
    expect(await Promise.all(inboxes.map((owner) => store.unreadCount(owner)))).toEqual([1, 0, 3]);
  });

  it('keeps the inboxes of users named like Object.prototype members as their own', async () => {
    const owners: InboxOwner[] = ['__proto__', 'constructor', 'toString', 'hasOwnProperty'].map((userId) => ({ userId }));
    owners.push({ userId: '__proto__', tenantId: '__proto__' });
    for (const [i, owner] of owners.entries()) await add(...Array.from({ length: i + 1 }, () => note(owner, { title: owner.userId })));
    for (const [i, owner] of owners.entries()) {
      const { notifications } = await store.list(owner, { limit: 100 });
      expect(notifications).toHaveLength(i + 1);
      expect(notifications.every((n) => n.userId === owner.userId && n.title === owner.userId && n.tenantId === owner.tenantId)).toBe(true);
      expect(await store.unreadCount(owner)).toBe(i + 1);
    }
    expect(await store.markRead(owners[0] as InboxOwner, 'all', '2025-01-01T00:01:00.000Z')).toHaveLength(1);
    expect(await Promise.all(owners.map((owner) => store.unreadCount(owner)))).toEqual([0, 2, 3, 4, 5]);
    expect(await store.unreadCount({ userId: 'valueOf' })).toBe(0);
  });

  describe('idempotency', () => {
    it('answers a retry with the first result and stores nothing', async () => {
      const first = await store.append([note(alice), note(bob)], {
        idempotencyKey: 'push-1',
        answer: (records) => ({ notificationIds: records.map((r) => r.id), recipients: 3 }),
      });
      if (first.replayed) throw new Error('first call replayed');
      const ids = first.records.map((r) => r.id);

      const retry = await store.append([note(alice), note(bob)], { idempotencyKey: 'push-1', answer: () => 'never asked' });
      expect(retry).toEqual({ replayed: true, result: { notificationIds: ids, answer: { notificationIds: ids, recipients: 3 } } });
      expect(await idsOf(alice)).toEqual([ids[0]]);
      expect(await store.unreadCount(bob)).toBe(1);

      const other = await store.append([note(alice)], { idempotencyKey: 'push-2' });
      expect(other.replayed).toBe(false);
      expect(await store.unreadCount(alice)).toBe(2);
    });

    it('stores one of several concurrent calls with one key, and every call gets its ids', async () => {
      const calls = await Promise.all(
        [1, 2, 3].map((n) => store.append([note(alice, { title: `try ${n}` })], { idempotencyKey: 'racing', answer: () => ({ n }) })),
      );
      const stored = calls.flatMap((call) => (call.replayed ? [] : [call.records]));
      expect(stored).toHaveLength(1);
      const ids = stored[0]?.map((r) => r.id);
      for (const call of calls) if (call.replayed) expect(call.result.notificationIds).toEqual(ids);
      expect(await store.unreadCount(alice)).toBe(1);
    });

    it('remembers a key with no items (a push that stores nothing) and its answer', async () => {
      const first = await store.append([], { idempotencyKey: 'live-only', answer: (records) => ({ stored: records.length }) });
      expect(first).toEqual({ records: [], replayed: false });
      expect(await store.append([], { idempotencyKey: 'live-only' })).toEqual({ replayed: true, result: { notificationIds: [], answer: { stored: 0 } } });
    });

    it('forgets a key once the retention period has passed', async () => {
      await store.append([note(alice)], { idempotencyKey: 'old' });
      clock.advance(RETENTION_MS - 1);
      expect((await store.append([note(alice)], { idempotencyKey: 'old' })).replayed).toBe(true);
      clock.advance(1);
      const again = await store.append([note(alice)], { idempotencyKey: 'old' });
      expect(again.replayed).toBe(false);
      expect((await store.append([note(alice)], { idempotencyKey: 'old' })).replayed).toBe(true);
      expect(await store.unreadCount(alice)).toBe(1);
    });

    it('stores nothing, and remembers no key, when the answer cannot be built; other appends are unaffected', async () => {
      const results = await Promise.allSettled([
        store.append([note(alice, { title: 'before' })]),
        store.append([note(alice, { title: 'failing' })], {
          idempotencyKey: 'broken',
          answer: () => {
            throw new Error('cannot build the answer');
          },
        }),
        store.append([note(alice, { title: 'after' })]),
      ]);
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      expect((await store.list(alice, { limit: 10 })).notifications.map((n) => n.title)).toEqual(['after', 'before']);
      expect(await store.unreadCount(alice)).toBe(2);
      expect((await store.append([note(alice)], { idempotencyKey: 'broken' })).replayed).toBe(false);
    });
  });

  describe('retention', () => {
    it('keeps at most maxPerUser per inbox: the oldest read ones go first, then the oldest', async () => {
      await open({ maxPerUser: 3 });
      const [n1, n2, n3] = (await add(note(alice), note(alice), note(alice))).map((r) => r.id);
      await add(note(bob));
      await store.markRead(alice, [n2 ?? '', n3 ?? ''], '2025-01-01T00:01:00.000Z');

      const [n4] = (await add(note(alice))).map((r) => r.id);
      expect(await idsOf(alice)).toEqual([n4, n3, n1]);
      const [n5, n6] = (await add(note(alice), note(alice))).map((r) => r.id);
      expect(await idsOf(alice)).toEqual([n6, n5, n4]);
      expect(await store.unreadCount(alice)).toBe(3);
      expect(await store.get(alice, n1 ?? '')).toBeUndefined();
      expect(await store.markRead(alice, [n1 ?? ''], '2025-01-01T00:02:00.000Z')).toEqual([]);

      // One append larger than the cap keeps its newest.
      const burst = (await add(...Array.from({ length: 5 }, () => note(alice)))).map((r) => r.id);
      expect(await idsOf(alice)).toEqual(burst.slice(2).reverse());
      expect(await store.unreadCount(alice)).toBe(3);
      expect(await store.unreadCount(bob)).toBe(1);
    });

    it('leaves out a notification once its expiresAt has passed, without a restart', async () => {
      const [soon, later] = (await add(note(alice, { expiresAt: '2025-01-01T00:01:00.000Z' }), note(alice))).map((r) => r.id);
      if (soon === undefined || later === undefined) throw new Error('not stored');
      clock.advance(59_999);
      expect(await idsOf(alice)).toEqual([later, soon]);
      expect(await store.unreadCount(alice)).toBe(2);

      clock.advance(1);
      expect(await idsOf(alice)).toEqual([later]);
      expect(await idsOf(alice, { unreadOnly: true })).toEqual([later]);
      expect(await store.unreadCount(alice)).toBe(1);
      expect(await store.unreadCounts([alice, bob])).toEqual([1, 0]);
      expect(await store.get(alice, soon)).toBeUndefined();
      expect(await store.markRead(alice, [soon], '2025-01-01T00:02:00.000Z')).toEqual([]);
      expect(await store.markRead(alice, 'all', '2025-01-01T00:02:00.000Z')).toEqual([later]);
      expect(await store.remove(alice, soon)).toBe(false);
      expect(await store.unreadCount(alice)).toBe(0);
    });

    it('leaves out every notification older than the retention period, and counts stay exact after', async () => {
      const old = (await add(note(alice), note(alice), note(alice))).map((r) => r.id);
      await store.markRead(alice, [old[0] ?? ''], '2025-01-01T00:00:01.000Z');
      clock.advance(DAY);
      const [newer] = (await add(note(alice))).map((r) => r.id);
      clock.advance(RETENTION_MS - DAY - 1);
      expect(await store.unreadCount(alice)).toBe(3);

      clock.advance(1);
      expect(await idsOf(alice)).toEqual([newer]);
      expect(await store.unreadCount(alice)).toBe(1);
      expect(await store.unreadCounts([alice])).toEqual([1]);
      // Storing again (which may drop what expired) keeps the count exact.
      await add(note(alice), note(alice));
      expect(await store.unreadCount(alice)).toBe(3);
      clock.advance(DAY);
      expect(await store.unreadCount(alice)).toBe(2);
      expect(await idsOf(alice)).toHaveLength(2);
    });

    it('never dates a notification before an earlier one when the clock steps back, so retention keeps both alike', async () => {
      const [first] = await add(note(alice, { title: 'first' }));
      clock.advance(-3_600_000);
      const [second] = await add(note(alice, { title: 'second' }));
      expect(Number(second?.id)).toBeGreaterThan(Number(first?.id));
      expect(second?.createdAt).toBe(first?.createdAt);
      clock.advance(3_600_000 + RETENTION_MS - 1);
      expect((await store.list(alice, { limit: 10 })).notifications.map((n) => n.title)).toEqual(['second', 'first']);
      expect(await store.unreadCount(alice)).toBe(2);
      clock.advance(1);
      expect(await store.unreadCount(alice)).toBe(0);
    });

    it('counts only live notifications against the cap', async () => {
      await open({ maxPerUser: 2 });
      const [expiring] = (await add(note(alice, { expiresAt: '2025-01-01T00:00:10.000Z' }))).map((r) => r.id);
      const [kept] = (await add(note(alice))).map((r) => r.id);
      clock.advance(10_000);
      expect(expiring).toBeDefined();
      const [fresh] = (await add(note(alice))).map((r) => r.id);
      expect(await idsOf(alice)).toEqual([fresh, kept]);
      expect(await store.unreadCount(alice)).toBe(2);
    });
  });

  it('stores 1,000 recipients in one append, in order, each counted', async () => {
    const owners = Array.from({ length: 1000 }, (_, i) => ({ userId: `user-${i}` }));
    const records = await add(...owners.map((owner) => note(owner, { title: owner.userId })));
    expect(records.map((r) => r.userId)).toEqual(owners.map((o) => o.userId));
    expect(new Set(records.map((r) => r.id)).size).toBe(1000);
    for (const i of [0, 1, 499, 998, 999]) {
      const owner = owners[i] as InboxOwner;
      expect(await store.unreadCount(owner)).toBe(1);
      expect(await store.list(owner, { limit: 5 })).toEqual({ notifications: [records[i]] });
    }
  });

  it('holds 1,000 unread in one inbox, counted exactly and paged to the end', async () => {
    const ids = (await add(...Array.from({ length: 1000 }, () => note(alice)))).map((r) => r.id);
    expect(await store.unreadCount(alice)).toBe(1000);
    const seen: string[] = [];
    let before: string | undefined;
    do {
      const page = await store.list(alice, { limit: 100, before });
      seen.push(...page.notifications.map((n) => n.id));
      before = page.nextBefore;
    } while (before !== undefined);
    expect(seen).toEqual([...ids].reverse());
    expect(await store.markRead(alice, 'all', '2025-01-01T00:01:00.000Z')).toHaveLength(1000);
    expect(await store.unreadCount(alice)).toBe(0);
  });

  it('refuses bad pages and bad times with INVALID_REQUEST', async () => {
    await add(note(alice));
    for (const limit of [0, 101, 1.5]) expect(await rejectionCode(store.list(alice, { limit }))).toBe('INVALID_REQUEST');
    for (const before of ['abc', '', '-1', '1.5', '1e3', '01', ' 1']) {
      expect(await rejectionCode(store.list(alice, { limit: 10, before }))).toBe('INVALID_REQUEST');
    }
    expect(await rejectionCode(store.markRead(alice, 'all', 'yesterday'))).toBe('INVALID_REQUEST');
    expect(await rejectionCode(store.append([note(alice, { expiresAt: 'soon' })]))).toBe('INVALID_REQUEST');
    expect(await store.unreadCount(alice)).toBe(1);
    expect(await store.list(alice, { limit: 10, before: '99999999999' })).toEqual({ notifications: [expect.objectContaining({ userId: 'alice' })] });
  });

  it('refuses every operation once closed, and close is idempotent', async () => {
    const [id] = (await add(note(alice))).map((r) => r.id);
    await store.close();
    await store.close();
    expect(store.isWritable()).toBe(false);
    const attempts: Promise<unknown>[] = [
      store.append([note(alice)]),
      store.list(alice, { limit: 10 }),
      store.get(alice, id ?? ''),
      store.unreadCount(alice),
      store.markRead(alice, 'all', '2025-01-01T00:01:00.000Z'),
      store.markRead(alice, ['abc'], '2025-01-01T00:01:00.000Z'),
      store.remove(alice, id ?? ''),
      store.remove(alice, 'abc'),
    ];
    for (const attempt of attempts) expect(await rejectionCode(attempt)).toBe('STORAGE_UNAVAILABLE');
  });
});
