import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { InboxOwner, InboxStore } from '../../src/domain/inbox-store.js';
import { AppError } from '../../src/errors.js';
import { createSqliteInboxStore, type SqliteInboxStore } from '../../src/storage/sqlite/sqlite-inbox-store.js';
import { removeDir, silentLogger, tempDir } from '../support/chat-store-harness.js';
import { createTestClock } from '../support/clock.js';
import { DAY_MS, inspectDatabase, notificationFor, openSqliteInbox, readInbox, recordingObserver } from '../support/inbox-store-harness.js';
import { startServer } from '../support/server.js';

const run = promisify(execFile);
const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const WRITER = fileURLToPath(new URL('../support/inbox-store-writer.ts', import.meta.url));

const alice: InboxOwner = { userId: 'alice' };

describe('sqlite inbox store', () => {
  let dir: string;
  let file: string;
  const stores: InboxStore[] = [];
  const track = <T extends InboxStore>(store: T) => {
    stores.push(store);
    return store;
  };

  beforeEach(async () => {
    dir = await tempDir('inbox-durability-');
    file = path.join(dir, 'inbox.sqlite');
  });

  afterEach(async () => {
    await Promise.all(stores.splice(0).map((store) => store.close()));
    await removeDir(dir);
  });

  it('keeps notifications, read state, counts and idempotency keys across a restart, and never gives an id twice', async () => {
    const first = track(await openSqliteInbox(file));
    const stored = await first.append([notificationFor(alice, { title: 'one' }), notificationFor(alice, { title: 'two' }), notificationFor(alice, { title: 'three' })], {
      idempotencyKey: 'k',
      answer: () => ({ status: 'first' }),
    });
    if (stored.replayed) throw new Error('replayed');
    const [one, two, three] = stored.records.map((r) => r.id) as [string, string, string];
    await first.markRead(alice, [one], '2025-01-01T00:00:00.000Z');
    // Deleting the newest is the case where a plain rowid would be given out again.
    expect(await first.remove(alice, three)).toBe(true);
    await first.close();

    const second = track(await openSqliteInbox(file));
    expect((await readInbox(second, alice)).map((r) => [r.id, r.title, r.readAt])).toEqual([
      [two, 'two', null],
      [one, 'one', '2025-01-01T00:00:00.000Z'],
    ]);
    expect(await second.unreadCount(alice)).toBe(1);
    expect(await second.append([notificationFor(alice)], { idempotencyKey: 'k' })).toEqual({
      replayed: true,
      result: { notificationIds: [one, two, three], answer: { status: 'first' } },
    });
    const next = await second.append([notificationFor(alice)]);
    if (next.replayed) throw new Error('replayed');
    expect(Number(next.records[0]?.id)).toBeGreaterThan(Number(three));
  });

  it('writes the appends of one event-loop turn in one transaction, and a 1,000-recipient append in one', async () => {
    const store = track(await openSqliteInbox(file));
    await store.purgeExpired();
    const disk = inspectDatabase(file);
    try {
      disk.resetWal();
      await Promise.all(Array.from({ length: 50 }, (_, i) => store.append([notificationFor({ userId: `u${i % 5}` })])));
      // One commit rewrites each page it touches once, a handful here; 50 commits would log at least 50 frames.
      const together = disk.walFrames();
      expect(together).toBeLessThan(50);

      disk.resetWal();
      for (let i = 0; i < 5; i += 1) await store.append([notificationFor({ userId: `u${i}` })]);
      // The same kind of write, one per turn: a commit each (the measure above can tell them apart).
      expect(disk.walFrames()).toBeGreaterThanOrEqual(5);

      disk.resetWal();
      const many = await store.append(Array.from({ length: 1000 }, (_, i) => notificationFor({ userId: `r${i}` })));
      expect(many.replayed).toBe(false);
      expect(disk.walFrames()).toBeLessThan(200);
      expect(disk.rows('notifications')).toBe(1055);
    } finally {
      disk.close();
    }
  });

  it('deletes expired notifications and idempotency keys from disk on its timer, keeping counts exact', async () => {
    const clock = createTestClock(Date.parse('2025-01-01T00:00:00.000Z'));
    const { observer, totals } = recordingObserver();
    const store = track(await openSqliteInbox(file, { clock, observer, retentionMs: 10 * DAY_MS, purgeIntervalMs: 60_000 }));
    await store.append([notificationFor(alice), notificationFor(alice)], { idempotencyKey: 'old' });
    const [read] = await store.append([notificationFor(alice, { expiresAt: '2025-01-01T00:00:30.000Z' })]).then((r) => (r.replayed ? [] : r.records));
    await store.markRead(alice, [read?.id ?? ''], '2025-01-01T00:00:10.000Z');
    await store.append([notificationFor({ userId: 'bob' }, { expiresAt: '2025-01-01T00:00:30.000Z' })]);
    const disk = inspectDatabase(file);
    try {
      expect(disk.rows('notifications')).toBe(4);

      clock.advance(60_000); // the timer fires: the two with expiresAt go
      await store.purgeExpired(); // joins the purge the timer started
      expect(disk.rows('notifications')).toBe(2);
      expect(disk.rows('inboxes')).toBe(1); // bob's inbox is empty, its inbox row gone
      expect(await store.unreadCount(alice)).toBe(2);
      expect(totals.expired).toBe(2);

      clock.advance(10 * DAY_MS);
      await store.purgeExpired();
      expect([disk.rows('notifications'), disk.rows('inboxes'), disk.rows('idempotency_keys')]).toEqual([0, 0, 0]);
      expect(await store.unreadCount(alice)).toBe(0);
      await store.append([notificationFor(alice)]);
      expect(await store.unreadCount(alice)).toBe(1);
      expect(totals.expired).toBe(4);
    } finally {
      disk.close();
    }
  });

  it('reports what it did to its observer only once durable, and the write latency of every write', async () => {
    const { observer, totals, latencies } = recordingObserver();
    const store = track(await openSqliteInbox(file, { observer, maxPerUser: 2 }));
    await store.purgeExpired();
    latencies.length = 0;
    const appended = await store.append([notificationFor(alice), notificationFor(alice), notificationFor(alice)]);
    const ids = appended.replayed ? [] : appended.records.map((r) => r.id);
    await store.markRead(alice, 'all', new Date().toISOString());
    await store.remove(alice, ids[2] ?? '');
    await store.remove(alice, ids[2] ?? ''); // nothing changes: nothing reported
    expect(totals).toEqual({ stored: 3, read: 2, deleted: 1, expired: 0, over_cap: 1 });
    expect(latencies).toHaveLength(4);
    for (const seconds of latencies) expect(seconds).toBeGreaterThan(0);
  });

  it('refuses to open what it cannot open, naming the file, with STORAGE_UNAVAILABLE', async () => {
    await mkdir(file); // a directory where the database file should be
    const store = createSqliteInboxStore({ file, maxPerUser: 10, retentionMs: DAY_MS, clock: createTestClock(), logger: silentLogger() });
    const error = await store.open().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({ code: 'STORAGE_UNAVAILABLE', message: expect.stringContaining(file) });
    expect(store.isWritable()).toBe(false);
    await store.close();
  });

  it('refuses a database made by a newer server rather than guess at its tables', async () => {
    const newer = new Database(file);
    newer.pragma('user_version = 99');
    newer.close();
    await expect(openSqliteInbox(file)).rejects.toThrow(/schema version 99, newer than this server knows/);
  });


  it('brings a version 1 database forward, keeping its notifications and unread state', async () => {
    const first = track(await openSqliteInbox(file));
    const stored = await first.append([notificationFor(alice, { title: 'old' }), notificationFor(alice, { title: 'read' })]);
    if (stored.replayed) throw new Error('replayed');
    await first.markRead(alice, [stored.records[1]!.id], '2025-01-01T00:00:00.000Z');
    await first.close();
    // As the first server left it: version 1 had an index of unread rows per inbox.
    const old = new Database(file);
    old.exec('CREATE INDEX notifications_unread_by_inbox ON notifications (inbox_id, id) WHERE read_at IS NULL');
    old.pragma('user_version = 1');
    old.close();

    const second = track(await openSqliteInbox(file));
    expect(await second.unreadCount(alice)).toBe(1);
    expect((await second.list(alice, { limit: 10, unreadOnly: true })).notifications.map((r) => r.title)).toEqual(['old']);
    const check = new Database(file, { readonly: true });
    expect(check.pragma('user_version', { simple: true })).toBe(2);
    expect(check.prepare("SELECT name FROM sqlite_master WHERE name = 'notifications_unread_by_inbox'").all()).toEqual([]);
    check.close();
  });
  it('loses no acknowledged change when the writer is killed with SIGKILL, and opens at once', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', WRITER, file], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const stored = new Map<string, { userId: string; title: string }>();
    const read = new Set<string>();
    const deleted = new Set<string>();
    const deleting = new Set<string>();
    let storedTwice = 0;
    createInterface({ input: child.stdout }).on('line', (line) => {
      const [kind, id = '', userId = '', title = ''] = line.split(' ');
      if (kind === 'stored') {
        if (stored.has(id)) storedTwice += 1;
        stored.set(id, { userId, title });
        if (stored.size >= 3000) child.kill('SIGKILL');
      } else if (kind === 'read') {
        read.add(id);
      } else if (kind === 'deleted') {
        deleted.add(id);
      } else if (kind === 'deleting') {
        deleting.add(id);
      }
    });
    // 'close' comes after stdout has ended, so every line the child wrote has been read.
    const [code, signal] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null];
    expect({ code, signal, stderr }).toMatchObject({ code: null, signal: 'SIGKILL' });
    expect(stored.size).toBeGreaterThanOrEqual(3000);
    expect(storedTwice).toBe(0);
    expect(read.size).toBeGreaterThan(0);
    expect(deleted.size).toBeGreaterThan(0);

    const disk = inspectDatabase(file);
    expect(disk.integrityCheck()).toBe('ok');
    disk.close();
    const store = track(await openSqliteInbox(file));
    const users = [...new Set([...stored.values()].map((s) => s.userId))];
    const onDisk = new Map<string, { title?: string; readAt: string | null; userId: string }>();
    for (const userId of users) {
      const inbox = await readInbox(store, { userId });
      for (const record of inbox) onDisk.set(record.id, record);
      // The counter and the rows agree after the kill.
      expect(await store.unreadCount({ userId })).toBe(inbox.filter((r) => r.readAt === null).length);
    }
    const problems: string[] = [];
    for (const [id, { userId, title }] of stored) {
      const found = onDisk.get(id);
      if (deleted.has(id)) {
        if (found !== undefined) problems.push(`${id} was deleted but is there`);
      } else if (found === undefined) {
        // A delete asked for but not acknowledged when the kill came may have been stored.
        if (!deleting.has(id)) problems.push(`${id} was acknowledged but is gone`);
      } else {
        if (found.userId !== userId || found.title !== title) problems.push(`${id} is not what was stored`);
        if (read.has(id) && found.readAt === null) problems.push(`${id} was marked read but is unread`);
      }
    }
    expect(problems).toEqual([]);
    const after = await store.append([notificationFor({ userId: 'user-0' })]);
    if (after.replayed) throw new Error('replayed');
    expect(Number(after.records[0]?.id)).toBeGreaterThan(Math.max(...[...onDisk.keys()].map(Number)));
  }, 60_000);
});

const canMount = process.platform === 'linux' && process.getuid?.() === 0;
if (!canMount) {
  console.info('inbox-store-durability: skipping the full-disk tests; they mount a small tmpfs and need root on Linux');
}

describe.skipIf(!canMount)('sqlite inbox store on a full disk', () => {
  let mountPoint: string;
  let mounted = false;

  beforeAll(async () => {
    mountPoint = await tempDir('inbox-store-tmpfs-');
    try {
      await run('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mountPoint]);
      mounted = true;
    } catch (err) {
      console.info(`inbox-store-durability: skipping the full-disk tests; mounting a tmpfs failed: ${String(err)}`);
    }
  });

  afterAll(async () => {
    if (mounted) await run('umount', [mountPoint]);
    await rm(mountPoint, { recursive: true, force: true });
  });

  /** Leaves about `freeKiB` of the 1 MiB tmpfs free. */
  async function fillDisk(freeKiB: number): Promise<string> {
    const filler = path.join(mountPoint, 'filler');
    const { stdout } = await run('df', ['--output=avail', '-k', mountPoint]);
    const available = Number(stdout.trim().split('\n').at(-1));
    await writeFile(filler, Buffer.alloc(Math.max(0, available - freeKiB) * 1024, 1));
    return filler;
  }

  it('refuses appends with STORAGE_UNAVAILABLE, keeps every acknowledged one, and writes again once space is freed', async (context) => {
    if (!mounted) context.skip();
    const file = path.join(mountPoint, 'store', 'inbox.sqlite');
    const store: SqliteInboxStore = await openSqliteInbox(file);
    const filler = await fillDisk(200);
    try {
      const acked = new Map<string, string>();
      const refusals: unknown[] = [];
      for (let round = 0; round < 500 && refusals.length === 0; round += 1) {
        const results = await Promise.allSettled(
          Array.from({ length: 10 }, (_, i) => store.append([notificationFor(alice, { title: `r${round}-${i}`, message: 'y'.repeat(1500) })])),
        );
        for (const result of results) {
          if (result.status === 'rejected') refusals.push(result.reason);
          else if (!result.value.replayed) for (const record of result.value.records) acked.set(record.id, record.title ?? '');
        }
      }
      expect(refusals.length).toBeGreaterThan(0);
      expect(refusals.map((r) => (r instanceof AppError ? r.code : String(r)))).toEqual(refusals.map(() => 'STORAGE_UNAVAILABLE'));
      expect(store.isWritable()).toBe(false);
      expect(acked.size).toBeGreaterThan(0);
      // What was acknowledged stays readable, and nothing refused was stored.
      const stored = await readInbox(store, alice);
      expect(new Map(stored.map((r) => [r.id, r.title]))).toEqual(acked);
      expect(await store.unreadCount(alice)).toBe(acked.size);
      await store.close();

      // Reopened on the still-full disk: all there, still refusing.
      const reopened = await openSqliteInbox(file);
      try {
        expect((await readInbox(reopened, alice)).length).toBe(acked.size);
        await expect(reopened.append([notificationFor(alice, { message: 'z'.repeat(200_000) })])).rejects.toMatchObject({ code: 'STORAGE_UNAVAILABLE' });
        expect(reopened.isWritable()).toBe(false);

        await rm(filler);
        await reopened.append([notificationFor(alice, { title: 'space again' })]);
        expect(reopened.isWritable()).toBe(true);
        expect(await reopened.unreadCount(alice)).toBe(acked.size + 1);
      } finally {
        await reopened.close();
      }
      const disk = inspectDatabase(file);
      expect(disk.integrityCheck()).toBe('ok');
      disk.close();
    } finally {
      await rm(filler, { force: true });
      await rm(path.dirname(file), { recursive: true, force: true });
    }
  });

  it('makes the server answer a stored push with 503 STORAGE_UNAVAILABLE and fail /ready until a write succeeds', async (context) => {
    if (!mounted) context.skip();
    const dataDir = path.join(mountPoint, 'server');
    const t = await startServer({ CHAT_SESSIONS_DIR: dataDir });
    let filler: string | undefined;
    try {
      const push = (userId: string, message: string) => request(t.url).post('/api/push').send({ userId, persist: true, data: { title: 't', message } });
      await push('alice', 'before').expect(200);
      await request(t.url).get('/ready').expect(200);

      filler = await fillDisk(150);
      let refused: request.Response | undefined;
      const acknowledged: string[] = [];
      for (let i = 0; i < 500 && refused === undefined; i += 1) {
        const res = await push('alice', `${i} ${'x'.repeat(4000)}`);
        if (res.status === 200) acknowledged.push(...(res.body.notificationIds as string[]));
        else refused = res;
      }
      expect(refused?.status).toBe(503);
      expect(refused?.body).toMatchObject({ success: false, code: 'STORAGE_UNAVAILABLE' });
      const ready = await request(t.url).get('/ready').expect(503);
      expect(ready.body.checks).toMatchObject({ inboxStore: false });

      await rm(filler);
      filler = undefined;
      await push('alice', 'space is back').expect(200);
      const readyAgain = await request(t.url).get('/ready').expect(200);
      expect(readyAgain.body.checks).toMatchObject({ inboxStore: true });
    } finally {
      if (filler !== undefined) await rm(filler, { force: true });
      await t.close();
    }
  });

});

describe('the server and its inbox store', () => {
  it('keeps the store in CHAT_SESSIONS_DIR/inbox.sqlite by default, and exports what it does in /metrics', async () => {
    const t = await startServer();
    const file = path.join(t.dataDir, 'inbox.sqlite');
    try {
      const res = await request(t.url)
        .post('/api/push')
        .send({ userIds: ['alice', 'bob'], persist: true, data: { title: 'hello' } })
        .expect(200);
      expect(res.body.notificationIds).toHaveLength(2);
      const metrics = await request(t.url).get('/metrics').expect(200);
      expect(metrics.text).toMatch(/^inbox_notifications_stored_total 2$/m);
      expect(metrics.text).toMatch(/^inbox_store_write_duration_seconds_count [1-9]/m);
      await t.server.close();

      const store = await openSqliteInbox(file);
      try {
        expect((await readInbox(store, alice)).map((r) => [r.id, r.title])).toEqual([[res.body.notificationIds[0], 'hello']]);
      } finally {
        await store.close();
      }
    } finally {
      await t.close();
    }
  });
});
