import { execFile } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { JobId, JobRecord, JobStore } from '../../src/domain/job-store.js';
import { AppError } from '../../src/errors.js';
import { createMemoryJobStore } from '../../src/storage/memory/memory-job-store.js';
import { createPostgresJobStore } from '../../src/storage/postgres/postgres-job-store.js';
import { createSqliteJobStore } from '../../src/storage/sqlite/sqlite-job-store.js';
import { rejectionCode, removeDir, silentLogger, storeInTempDir, tempDir } from '../support/chat-store-harness.js';
import { inspectDatabase } from '../support/inbox-store-harness.js';
import { addPostgresDriver, memoryDriver, type StoreDriver } from '../support/store-drivers.js';

/** Every JobStore implementation, each run through the same tests below. */
const drivers: StoreDriver<JobStore>[] = [
  {
    name: 'sqlite store',
    create: () => storeInTempDir('job-store-', (dir) => createSqliteJobStore({ file: path.join(dir, 'jobs.sqlite'), logger: silentLogger() })),
  },
  memoryDriver(() => createMemoryJobStore()),
];
await addPostgresDriver(drivers, 'JobStore contract', 'job_contract', (database) => createPostgresJobStore({ database }));

const AT = '2025-01-01T00:00:00.000Z';

/** A job as the service would build it; the store only stores. */
function jobOf(jobId: JobId, fields: Partial<JobRecord> = {}): JobRecord {
  return { jobId, subject: `job ${String(jobId)}`, state: 'created', createdAt: AT, updatedAt: AT, history: [{ from: null, to: 'created', at: AT, by: null }], ...fields };
}

describe.each(drivers)('JobStore contract: $name', (driver) => {
  let store: JobStore;
  let cleanup: () => Promise<void>;

  beforeEach(async () => {
    ({ store, cleanup } = await driver.create());
    await store.open();
  });

  afterEach(async () => {
    await cleanup();
  });

  /** Creates a job, with the store's id unless one is given; fails on a repeat. */
  async function add(fields: Partial<JobRecord> = {}, jobId?: JobId): Promise<JobRecord> {
    const { job, created } = await store.create(jobId, (id) => jobOf(id, fields));
    if (!created) throw new Error('unexpectedly existed');
    return job;
  }

  const ids = (jobs: readonly JobRecord[]) => jobs.map((job) => job.jobId);

  it('stores what build returns, as JSON gives it back, under the id it was given', async () => {
    const data = { tags: ['a', 'ü'], nested: { ok: null, n: 0.5 } };
    const job = await add({ tenantId: 'acme', projectId: 1, jobTypeId: 'mix', creatorId: 'c', assigneeId: 'a', state: 'assigned', data });
    expect(job).toEqual(jobOf(1, { tenantId: 'acme', projectId: 1, jobTypeId: 'mix', creatorId: 'c', assigneeId: 'a', state: 'assigned', data }));
    expect(await store.get(1)).toEqual(job);
    expect(store.isWritable()).toBe(true);
  });

  it('gives integers from 1 up, skipping ids taken by jobs created with their own', async () => {
    expect((await add()).jobId).toBe(1);
    await add({}, 2);
    await add({}, '4');
    expect((await add()).jobId).toBe(3);
    expect((await add()).jobId).toBe(5);
    await add({}, 'job-x');
    expect((await add()).jobId).toBe(6);
  });

  it('keeps the type of a given id, and a number and its decimal string name one job', async () => {
    const numeric = await add({ subject: 'numeric' }, 7);
    const text = await add({ subject: 'text' }, 'job-7');
    expect(numeric.jobId).toBe(7);
    expect(text.jobId).toBe('job-7');
    expect(await store.get('7')).toEqual(numeric);
    expect(await store.get(7)).toEqual(numeric);
    expect((await store.get('job-7'))?.subject).toBe('text');
    expect(await store.get('07')).toBeUndefined();
  });

  it('answers a create with a taken id with the stored job, unchanged, without calling build', async () => {
    const first = await add({ subject: 'first' }, 9);
    let built = 0;
    const again = await store.create('9', (id) => {
      built += 1;
      return jobOf(id, { subject: 'second' });
    });
    expect(again).toEqual({ job: first, created: false });
    expect(built).toBe(0);
    expect(await store.get(9)).toEqual(first);
  });

  it('creates one job of several concurrent creates with one id, and each gets it', async () => {
    const results = await Promise.all(Array.from({ length: 5 }, (_, i) => store.create('same', (id) => jobOf(id, { subject: `try ${i}` }))));
    expect(results.filter((result) => result.created)).toHaveLength(1);
    const stored = await store.get('same');
    for (const result of results) expect(result.job).toEqual(stored);
  });

  it('stores nothing and takes no id when build throws; the caller gets its own error', async () => {
    const refusal = new AppError('INVALID_STATE', 'no');
    await expect(store.create(undefined, () => { throw refusal; })).rejects.toBe(refusal);
    await expect(store.create('kept-out', () => { throw refusal; })).rejects.toBe(refusal);
    expect(await store.get('kept-out')).toBeUndefined();
    expect((await add()).jobId).toBe(1);
  });

  it('answers undefined for a job that does not exist, and keeps ids like __proto__ as ordinary ids', async () => {
    expect(await store.get(1)).toBeUndefined();
    expect(await store.update('nope', () => jobOf('nope'))).toBeUndefined();
    const proto = await add({ subject: 'proto' }, '__proto__');
    await add({ subject: 'ctor' }, 'constructor');
    expect(await store.get('__proto__')).toEqual(proto);
    expect((await store.get('constructor'))?.subject).toBe('ctor');
    expect(await store.get('toString')).toBeUndefined();
  });

  it('replaces a job with what change returns, keeping its id, and says whether it changed', async () => {
    await add({}, 5);
    const changed = await store.update(5, (job) => ({ ...job, jobId: 'not-this', state: 'assigned', assigneeId: 'bob', updatedAt: '2025-01-02T00:00:00.000Z' }));
    expect(changed).toEqual({ job: jobOf(5, { state: 'assigned', assigneeId: 'bob', updatedAt: '2025-01-02T00:00:00.000Z' }), changed: true });
    expect(await store.get(5)).toEqual(changed?.job);
    const same = await store.update('5', () => undefined);
    expect(same).toEqual({ job: changed?.job, changed: false });
  });

  it('changes nothing when change throws, and passes its error on', async () => {
    const job = await add({ state: 'completed' });
    const refusal = new AppError('INVALID_STATE', 'completed');
    await expect(store.update(job.jobId, () => { throw refusal; })).rejects.toBe(refusal);
    expect(await store.get(job.jobId)).toEqual(job);
  });

  it('hands change the latest version: concurrent changes of one job are serialized', async () => {
    const job = await add({ data: { count: 0 } });
    await Promise.all(
      Array.from({ length: 20 }, () =>
        store.update(job.jobId, (current) => ({ ...current, data: { count: (current.data as { count: number }).count + 1 } })),
      ),
    );
    expect((await store.get(job.jobId))?.data).toEqual({ count: 20 });
  });

  describe('list', () => {
    it('gives the jobs a user is assigned to or created, newest created first, each once', async () => {
      const a = await add({ creatorId: 'alice' });
      const b = await add({ assigneeId: 'alice', creatorId: 'bob' });
      await add({ creatorId: 'bob', assigneeId: 'carol' });
      const d = await add({ creatorId: 'alice', assigneeId: 'alice' });
      expect(ids((await store.list({ userId: 'alice', limit: 100 })).jobs)).toEqual([d.jobId, b.jobId, a.jobId]);
      expect(ids((await store.list({ userId: 'carol', limit: 100 })).jobs)).toEqual([3]);
      expect((await store.list({ userId: 'nobody', limit: 100 })).jobs).toEqual([]);
    });

    it('follows changes: a reassigned job leaves the previous assignee’s list', async () => {
      const job = await add({ assigneeId: 'alice' });
      await store.update(job.jobId, (current) => ({ ...current, assigneeId: 'bob' }));
      expect((await store.list({ userId: 'alice', limit: 10 })).jobs).toEqual([]);
      expect(ids((await store.list({ userId: 'bob', limit: 10 })).jobs)).toEqual([job.jobId]);
    });

    it('filters by state', async () => {
      await add({ assigneeId: 'alice', state: 'assigned' });
      const started = await add({ assigneeId: 'alice', state: 'started' });
      await add({ creatorId: 'alice', state: 'completed' });
      expect(ids((await store.list({ userId: 'alice', state: 'started', limit: 10 })).jobs)).toEqual([started.jobId]);
      expect(ids((await store.list({ userId: 'alice', state: 'completed', limit: 10 })).jobs)).toEqual([3]);
      expect((await store.list({ userId: 'alice', state: 'cancelled', limit: 10 })).jobs).toEqual([]);
    });

    it('keeps tenants apart: the same user in two tenants and in none has three lists', async () => {
      await add({ assigneeId: 'alice' });
      await add({ assigneeId: 'alice', tenantId: 'acme' });
      await add({ creatorId: 'alice', tenantId: 'other' });
      expect(ids((await store.list({ userId: 'alice', limit: 10 })).jobs)).toEqual([1]);
      expect(ids((await store.list({ userId: 'alice', tenantId: 'acme', limit: 10 })).jobs)).toEqual([2]);
      expect(ids((await store.list({ userId: 'alice', tenantId: 'other', limit: 10 })).jobs)).toEqual([3]);
    });

    it('pages with nextCursor, and jobs created or changed meanwhile do not move later pages', async () => {
      for (let i = 0; i < 7; i += 1) await add(i % 2 === 0 ? { assigneeId: 'alice' } : { creatorId: 'alice' });
      const first = await store.list({ userId: 'alice', limit: 3 });
      expect(ids(first.jobs)).toEqual([7, 6, 5]);
      expect(first.nextCursor).toEqual(expect.any(String));

      await add({ assigneeId: 'alice', subject: 'arrived while paging' });
      await store.update(2, (job) => ({ ...job, state: 'started' }));
      const second = await store.list({ userId: 'alice', limit: 3, cursor: first.nextCursor });
      expect(ids(second.jobs)).toEqual([4, 3, 2]);
      const third = await store.list({ userId: 'alice', limit: 3, cursor: second.nextCursor });
      expect(ids(third.jobs)).toEqual([1]);
      expect(third.nextCursor).toBeUndefined();
      // Exactly a full last page: no cursor to an empty one.
      expect((await store.list({ userId: 'alice', limit: 8 })).nextCursor).toBeUndefined();
    });

    it('refuses a limit outside 1..100 and a cursor it never gave with INVALID_REQUEST', async () => {
      for (const limit of [0, 101, 1.5]) expect(await rejectionCode(store.list({ userId: 'alice', limit }))).toBe('INVALID_REQUEST');
      for (const cursor of ['abc', '0', '-1', '1e3', '99999999999999999']) {
        expect(await rejectionCode(store.list({ userId: 'alice', limit: 5, cursor }))).toBe('INVALID_REQUEST');
      }
    });
  });

  it('refuses everything with STORAGE_UNAVAILABLE once closed, and closes twice', async () => {
    await add();
    await store.close();
    expect(store.isWritable()).toBe(false);
    expect(await rejectionCode(store.create(undefined, (id) => jobOf(id)))).toBe('STORAGE_UNAVAILABLE');
    expect(await rejectionCode(store.get(1))).toBe('STORAGE_UNAVAILABLE');
    expect(await rejectionCode(store.update(1, () => undefined))).toBe('STORAGE_UNAVAILABLE');
    expect(await rejectionCode(store.list({ userId: 'a', limit: 1 }))).toBe('STORAGE_UNAVAILABLE');
    await store.close();
  });
});

describe('sqlite job store', () => {
  let dir: string;
  let file: string;

  beforeEach(async () => {
    dir = await tempDir('job-store-sqlite-');
    file = path.join(dir, 'jobs.sqlite');
  });

  afterEach(async () => {
    await removeDir(dir);
  });

  async function openAt(target: string): Promise<JobStore> {
    const store = createSqliteJobStore({ file: target, logger: silentLogger() });
    await store.open();
    return store;
  }

  it('keeps every job and change across a restart, and never gives an id twice', async () => {
    const first = await openAt(file);
    await first.create(undefined, (id) => jobOf(id, { subject: 'one' }));
    await first.create(undefined, (id) => jobOf(id, { subject: 'two', assigneeId: 'alice' }));
    await first.update(2, (job) => ({ ...job, state: 'assigned' }));
    await first.close();

    const second = await openAt(file);
    try {
      expect((await second.get(1))?.subject).toBe('one');
      expect(await second.get(2)).toMatchObject({ subject: 'two', state: 'assigned', assigneeId: 'alice' });
      expect((await second.create(undefined, (id) => jobOf(id))).job.jobId).toBe(3);
      expect((await second.list({ userId: 'alice', limit: 10 })).jobs.map((job) => job.jobId)).toEqual([2]);
    } finally {
      await second.close();
    }
  });

  it('writes the creates and changes of one event-loop turn in one transaction', async () => {
    const store = await openAt(file);
    const disk = inspectDatabase(file);
    try {
      const walFrames = () => disk.walFrames();
      await store.create(undefined, (id) => jobOf(id));
      const before = walFrames();
      await Promise.all([
        ...Array.from({ length: 50 }, () => store.create(undefined, (id) => jobOf(id))),
        store.update(1, (job) => ({ ...job, state: 'assigned' })),
      ]);
      // One commit of 51 small rows: a handful of pages, far fewer frames than 51 commits would write.
      expect(walFrames() - before).toBeLessThan(20);
      expect((await store.get(51))?.jobId).toBe(51);
    } finally {
      disk.close();
      await store.close();
    }
  });

  it('refuses to open what it cannot open, naming the file, with STORAGE_UNAVAILABLE', async () => {
    await writeFile(file, 'this is not a database, it only looks like one by name');
    const store = createSqliteJobStore({ file, logger: silentLogger() });
    const refusal = await store.open().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(refusal).toBeInstanceOf(AppError);
    expect(refusal).toMatchObject({ code: 'STORAGE_UNAVAILABLE', message: expect.stringContaining(file) });
    expect(store.isWritable()).toBe(false);
  });
});

const run = promisify(execFile);
const canMount = process.platform === 'linux' && process.getuid?.() === 0;

describe.skipIf(!canMount)('sqlite job store on a full disk (a 1 MiB tmpfs; needs root on Linux)', () => {
  let mountPoint: string;
  let mounted = false;

  beforeAll(async () => {
    mountPoint = await tempDir('job-store-tmpfs-');
    try {
      await run('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mountPoint]);
      mounted = true;
    } catch (err) {
      console.info(`job-store-contract: skipping the full-disk test; mounting a tmpfs failed: ${String(err)}`);
    }
  });

  afterAll(async () => {
    if (mounted) await run('umount', [mountPoint]);
    await removeDir(mountPoint);
  });

  it('refuses writes with STORAGE_UNAVAILABLE, keeps every acknowledged one, and writes again once space is freed', async (context) => {
    if (!mounted) context.skip();
    const store = createSqliteJobStore({ file: path.join(mountPoint, 'store', 'jobs.sqlite'), logger: silentLogger() });
    await store.open();
    const filler = path.join(mountPoint, 'filler');
    try {
      const { stdout } = await run('df', ['--output=avail', '-k', mountPoint]);
      await writeFile(filler, Buffer.alloc(Math.max(0, Number(stdout.trim().split('\n').at(-1)) - 200) * 1024, 1));
      const acked: JobId[] = [];
      const refusals: unknown[] = [];
      for (let round = 0; round < 500 && refusals.length === 0; round += 1) {
        const results = await Promise.allSettled(
          Array.from({ length: 10 }, () => store.create(undefined, (id) => jobOf(id, { data: 'y'.repeat(1500) }))),
        );
        for (const result of results) {
          if (result.status === 'rejected') refusals.push(result.reason);
          else acked.push(result.value.job.jobId);
        }
      }
      expect(refusals.length).toBeGreaterThan(0);
      expect(refusals.map((r) => (r instanceof AppError ? r.code : String(r)))).toEqual(refusals.map(() => 'STORAGE_UNAVAILABLE'));
      expect(store.isWritable()).toBe(false);
      for (const jobId of acked) expect((await store.get(jobId))?.jobId).toBe(jobId);

      await rm(filler);
      const after = await store.create(undefined, (id) => jobOf(id));
      expect(store.isWritable()).toBe(true);
      expect(acked).not.toContain(after.job.jobId);
    } finally {
      await rm(filler, { force: true });
      await store.close();
    }
  });
});
