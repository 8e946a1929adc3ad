import fs from 'node:fs';
import { readdir, readFile, readlink, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ChatStore } from '../../src/domain/chat-store.js';
import {
  assertEveryFileParses,
  fileHandlePrototype,
  JOURNAL_FILE,
  messageFrom,
  openFileStore,
  PINO_WARN,
  readMessageLines,
  recordingLogger,
  removeDir,
  tempDir,
} from '../support/chat-store-harness.js';

/**
 * What the file store does at the level of files, observed and perturbed through
 * FileHandle.prototype, node:fs's `writeSync` (the appends to messages.jsonl) and its
 * `write` (the chat journal's durable writes, through the descriptor's callback API).
 */

const ioError = (syscall: string) => Object.assign(new Error(`EIO: i/o error, ${syscall}`), { code: 'EIO', syscall });

type WriteCallback = (err: NodeJS.ErrnoException | null, bytesWritten: number) => void;
type WriteArgs = [number, Uint8Array, number, number, number, WriteCallback];

/** O_DSYNC's bit in the octal `flags:` line of /proc/<pid>/fdinfo (Linux). */
const O_DSYNC_BIT = 0o10000;

describe('file chat store, at the file-handle level', () => {
  let root: string;
  let dir: string;
  let proto: FileHandle;
  let store: ChatStore;
  let sessionId: string;
  let log: string;

  beforeEach(async () => {
    root = await tempDir();
    dir = path.join(root, 'sessions');
    proto = await fileHandlePrototype(root);
    store = await openFileStore(dir);
    ({ sessionId } = await store.createSession({ machineId: 'm', senderUserId: 'alice', receiverUserId: 'bob' }));
    log = path.join(dir, sessionId, 'messages.jsonl');
  });

  afterEach(async () => {
    vi.restoreAllMocks();
    await store.close();
    await removeDir(root);
  });

  /** Makes the next writes to messages.jsonl (synchronous) behave as given, in order, then real again. */
  const perturbSyncWrites = (...behaviours: ('half' | 'fail')[]) => {
    const realWriteSync = fs.writeSync;
    const spy = vi.spyOn(fs, 'writeSync');
    for (const behaviour of behaviours) {
      spy.mockImplementationOnce(((fd: number, buffer: Uint8Array, offset: number, length: number, position: number) => {
        if (behaviour === 'fail') throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', syscall: 'write' });
        return Reflect.apply(realWriteSync, fs, [fd, buffer, offset, Math.ceil(length / 2), position]) as number;
      }) as unknown as typeof fs.writeSync);
    }
  };

  /** Makes the next journal writes (callback API) behave as given, in order, then real again. */
  const perturbWrites = (...behaviours: ('half' | 'fail')[]) => {
    const realWrite = fs.write;
    const spy = vi.spyOn(fs, 'write');
    for (const behaviour of behaviours) {
      spy.mockImplementationOnce(((...args: WriteArgs) => {
        const [fd, buffer, offset, length, position, callback] = args;
        if (behaviour === 'fail') return process.nextTick(callback, ioError('write'), 0);
        Reflect.apply(realWrite, fs, [fd, buffer, offset, Math.ceil(length / 2), position, callback]);
      }) as unknown as typeof fs.write);
    }
  };

  it('writes a burst of concurrent appends with a handful of durable writes (group commit)', async () => {
    const write = vi.spyOn(fs, 'write');
    await Promise.all(Array.from({ length: 200 }, (_, i) => store.appendMessage(sessionId, messageFrom('alice', 'bob', `m${i}`))));
    expect(write.mock.calls.length).toBeGreaterThan(0);
    expect(write.mock.calls.length).toBeLessThanOrEqual(3);
    expect((await readMessageLines(log)).map((m) => m.seq)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
  });

  it.runIf(process.platform === 'linux')('makes appends durable through the journal, opened with O_DSYNC: its write returns once on disk', async () => {
    const write = vi.spyOn(fs, 'write');
    await store.appendMessage(sessionId, messageFrom('alice', 'bob', 'hello'));
    const fd = write.mock.calls[0]?.[0] as number;
    expect(path.basename(await readlink(`/proc/self/fd/${fd}`))).toMatch(/^chat-journal-\d{6}\.log$/);
    const flags = /^flags:\s*([0-7]+)$/m.exec(await readFile(`/proc/self/fdinfo/${fd}`, 'utf8'))?.[1];
    expect(Number.parseInt(flags ?? '0', 8) & O_DSYNC_BIT).toBe(O_DSYNC_BIT);
  });

  it('writes the lines of many sessions in one turn with one journal write', async () => {
    const others = await Promise.all(
      Array.from({ length: 20 }, (_, i) => store.createSession({ machineId: 'm', senderUserId: 'alice', receiverUserId: `u${i}` })),
    );
    // A session's first append opens its messages.jsonl on the thread pool, and those opens
    // finish in different turns; the second round finds every handle open.
    await Promise.all(others.map(({ sessionId: id }, i) => store.appendMessage(id, messageFrom('alice', `u${i}`, 'first'))));
    const write = vi.spyOn(fs, 'write');
    await Promise.all(others.map(({ sessionId: id }, i) => store.appendMessage(id, messageFrom('alice', `u${i}`, `to u${i}`))));
    expect(write.mock.calls.length).toBe(1);
    for (const [i, { sessionId: id }] of others.entries()) {
      expect((await readMessageLines(path.join(dir, id, 'messages.jsonl'))).map((m) => m.message)).toEqual(['first', `to u${i}`]);
    }
  });

  it('refuses an append whose messages.jsonl write fails, cuts the partial bytes, and writes nothing to the journal', async () => {
    await store.appendMessage(sessionId, messageFrom('alice', 'bob', 'before'));
    const sizeBefore = (await stat(log)).size;
    perturbSyncWrites('half', 'fail');
    const journalWrite = vi.spyOn(fs, 'write');
    await expect(store.appendMessage(sessionId, messageFrom('alice', 'bob', 'y'.repeat(5000)))).rejects.toMatchObject({
      code: 'STORAGE_UNAVAILABLE',
    });
    expect(journalWrite).not.toHaveBeenCalled();
    expect(store.isWritable()).toBe(false);
    expect((await stat(log)).size).toBe(sizeBefore);
    expect((await store.appendMessage(sessionId, messageFrom('alice', 'bob', 'after'))).message.seq).toBe(2);
    expect((await readMessageLines(log)).map((m) => m.message)).toEqual(['before', 'after']);
  });

  it('finishes a short write instead of leaving half a line', async () => {
    perturbWrites('half');
    const { message } = await store.appendMessage(sessionId, messageFrom('alice', 'bob', 'x'.repeat(5000)));
    expect(message.seq).toBe(1);
    expect(await readMessageLines(log)).toEqual([message]);
  });

  it('rejects an append whose write fails half-way, cuts the partial bytes, and recovers on the next write', async () => {
    await store.appendMessage(sessionId, messageFrom('alice', 'bob', 'before'));
    const sizeBefore = (await stat(log)).size;
    perturbWrites('half', 'fail');
    await expect(store.appendMessage(sessionId, messageFrom('alice', 'bob', 'y'.repeat(5000)))).rejects.toMatchObject({
      code: 'STORAGE_UNAVAILABLE',
    });
    expect(store.isWritable()).toBe(false);
    expect((await stat(log)).size).toBe(sizeBefore);
    expect((await store.readMessages(sessionId, { after: 0, limit: 10 })).messages.map((m) => m.message)).toEqual(['before']);

    expect((await store.appendMessage(sessionId, messageFrom('alice', 'bob', 'after'))).message.seq).toBe(2);
    expect(store.isWritable()).toBe(true);
    expect((await readMessageLines(log)).map((m) => m.message)).toEqual(['before', 'after']);
  });

  it('never resolves an append whose durable write failed', async () => {
    perturbWrites('fail');
    const settled = await Promise.allSettled([1, 2, 3].map((i) => store.appendMessage(sessionId, messageFrom('alice', 'bob', `m${i}`))));
    expect(settled.map((s) => s.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(await readFile(log, 'utf8')).toBe('');
    expect(store.isWritable()).toBe(false);
    expect((await store.appendMessage(sessionId, messageFrom('alice', 'bob', 'retry'))).message.seq).toBe(1);
  });

  it('re-reads the file before the next append when a failed write could not be cut off', async () => {
    await store.appendMessage(sessionId, messageFrom('alice', 'bob', 'before'));
    perturbSyncWrites('half', 'fail');
    vi.spyOn(fs, 'ftruncateSync').mockImplementationOnce(() => {
      throw ioError('ftruncate');
    });
    await expect(store.appendMessage(sessionId, messageFrom('alice', 'bob', 'z'.repeat(5000)))).rejects.toMatchObject({
      code: 'STORAGE_UNAVAILABLE',
    });
    await expect(readMessageLines(log)).rejects.toThrow(/newline/);

    expect((await store.appendMessage(sessionId, messageFrom('alice', 'bob', 'after'))).message.seq).toBe(2);
    expect((await readMessageLines(log)).map((m) => m.message)).toEqual(['before', 'after']);
  });

  it('coalesces concurrent cursor updates into few session.json rewrites that keep the latest state', async () => {
    for (let i = 0; i < 50; i += 1) await store.appendMessage(sessionId, messageFrom('alice', 'bob', `m${i}`));
    const sync = vi.spyOn(proto, 'sync');
    await Promise.all(Array.from({ length: 50 }, (_, i) => store.advanceCursor(sessionId, 'bob', { delivered: i + 1 })));
    // One rewrite is a file fsync and a directory fsync.
    expect(sync.mock.calls.length).toBeLessThanOrEqual(4);
    const onDisk = JSON.parse(await readFile(path.join(dir, sessionId, 'session.json'), 'utf8')) as { cursors: unknown };
    expect(onDisk.cursors).toEqual({ alice: { delivered: 0, read: 0 }, bob: { delivered: 50, read: 0 } });
  });

  it('keeps both files whole when cursor rewrites and appends interleave', async () => {
    // Each cursor update starts as soon as its message is stored, while later appends are still being written.
    const work = Array.from({ length: 100 }, (_, i) =>
      store
        .appendMessage(sessionId, messageFrom('alice', 'bob', `m${i + 1}`))
        .then(({ message }) => store.advanceCursor(sessionId, 'bob', { read: message.seq })),
    );
    await Promise.all(work);
    await store.close();
    await assertEveryFileParses(dir);
    store = await openFileStore(dir);
    expect((await store.getSession(sessionId))?.cursors.bob).toEqual({ delivered: 100, read: 100 });
    expect((await store.listSessionsOf('bob'))[0]).toMatchObject({ messageCount: 100, unreadCount: 0 });
  });

  it('fails appends still queued when their session is deleted, and leaves nothing behind', async () => {
    const appends = Array.from({ length: 50 }, (_, i) => store.appendMessage(sessionId, messageFrom('alice', 'bob', `m${i}`)));
    const deleted = store.deleteSession(sessionId);
    const settled = await Promise.allSettled(appends);
    expect(await deleted).toBe(true);
    // Submitted in the same tick as the delete, none had begun its write: all were still queued.
    expect(settled).toEqual(Array.from({ length: 50 }, () => ({ status: 'rejected', reason: expect.objectContaining({ code: 'NOT_FOUND' }) })));
    expect((await readdir(dir)).filter((name) => !JOURNAL_FILE.test(name))).toEqual(['.lock']);
  });

  it('caps a page by bytes, answering a huge limit with a shorter page and nextAfter', async () => {
    const big = 'b'.repeat(1536 * 1024);
    for (let i = 1; i <= 3; i += 1) await store.appendMessage(sessionId, messageFrom('alice', 'bob', `${i}${big}`));
    const first = await store.readMessages(sessionId, { after: 0, limit: 1000 });
    expect(first.messages.map((m) => m.seq)).toEqual([1, 2]);
    expect(first.nextAfter).toBe(2);
    const second = await store.readMessages(sessionId, { after: 2, limit: 1000 });
    expect(second).toEqual({ messages: [expect.objectContaining({ seq: 3 })] });
  });

  it('lists without failing while a session is being deleted', async () => {
    await store.appendMessage(sessionId, messageFrom('alice', 'bob', 'hi'));
    await store.close();
    store = await openFileStore(dir);
    const [listed, deleted] = await Promise.all([store.listSessionsOf('alice'), store.deleteSession(sessionId)]);
    expect(deleted).toBe(true);
    expect(listed.length).toBeLessThanOrEqual(1);
    expect(await store.listSessionsOf('alice')).toEqual([]);
  });

  it('forgets the indexes of the least recently used idle sessions beyond maxIndexedMessages, and reads them again on use', async () => {
    await store.close();
    store = await openFileStore(dir, { maxIndexedMessages: 4 });
    const other = (await store.createSession({ machineId: 'm', senderUserId: 'alice', receiverUserId: 'carol' })).sessionId;
    for (let i = 1; i <= 3; i += 1) await store.appendMessage(sessionId, messageFrom('alice', 'bob', `a${i}`, `ca${i}`));
    expect(store.indexStats()).toEqual({ sessions: 2, messages: 3 });
    // 3 + 3 > 4: the first session, now the least recently used, forgets its index.
    for (let i = 1; i <= 3; i += 1) await store.appendMessage(other, messageFrom('alice', 'carol', `b${i}`));
    expect(store.indexStats()).toEqual({ sessions: 1, messages: 3 });

    const read = vi.spyOn(proto, 'read');
    expect((await store.readMessages(other, { after: 0, limit: 10 })).messages).toHaveLength(3);
    expect(read).toHaveBeenCalledTimes(1); // still indexed: one read for the page
    read.mockClear();
    expect((await store.readMessages(sessionId, { after: 0, limit: 10 })).messages.map((m) => m.message)).toEqual(['a1', 'a2', 'a3']);
    expect(read.mock.calls.length).toBeGreaterThan(1); // messages.jsonl read again first, then the page

    // What the index answers is the same after a reload: next seq, duplicates, counts.
    expect((await store.appendMessage(sessionId, messageFrom('alice', 'bob', 'a4'))).message.seq).toBe(4);
    expect(await store.appendMessage(sessionId, messageFrom('alice', 'bob', 'again', 'ca2'))).toMatchObject({ duplicate: true, message: { seq: 2 } });
    expect((await store.listSessionsOf('alice')).map((s) => s.messageCount).sort()).toEqual([3, 4]);
    expect((await store.listSessionsOf('bob'))[0]).toMatchObject({ messageCount: 4, unreadCount: 4 });
  });

  it('never forgets the index of a session whose append is being written (a reload would count the line before it is durable)', async () => {
    const third = (await store.createSession({ machineId: 'm', senderUserId: 'alice', receiverUserId: 'dave' })).sessionId;
    await store.appendMessage(third, messageFrom('alice', 'dave', 'd1'));
    await store.appendMessage(third, messageFrom('alice', 'dave', 'd2'));
    await store.close();
    const { logger, records } = recordingLogger();
    store = await openFileStore(dir, { maxIndexedMessages: 2, logger });
    const other = (await store.createSession({ machineId: 'm', senderUserId: 'alice', receiverUserId: 'carol' })).sessionId;
    await store.appendMessage(sessionId, messageFrom('alice', 'bob', 'first'));
    await store.appendMessage(other, messageFrom('alice', 'carol', 'other'));

    // The next append to the first session reaches messages.jsonl, then its journal write waits.
    const realWrite = fs.write;
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let started!: () => void;
    const journalWriteStarted = new Promise<void>((resolve) => (started = resolve));
    vi.spyOn(fs, 'write').mockImplementationOnce(((...args: WriteArgs) => {
      started();
      void held.then(() => Reflect.apply(realWrite, fs, args));
    }) as unknown as typeof fs.write);
    const inFlight = store.appendMessage(sessionId, messageFrom('alice', 'bob', 'second'));
    await journalWriteStarted;

    // Loading the third session's index goes over the cap, with the first session the least recently used.
    expect((await store.readMessages(third, { after: 0, limit: 10 })).messages.map((m) => m.message)).toEqual(['d1', 'd2']);
    expect((await store.readMessages(sessionId, { after: 0, limit: 10 })).messages.map((m) => m.message)).toEqual(['first']);

    release();
    expect((await inFlight).message.seq).toBe(2);
    expect((await readMessageLines(log)).map((m) => m.seq)).toEqual([1, 2]);
    expect(records.filter((r) => r.level >= PINO_WARN)).toEqual([]);
  });

  it('stays whole with a tiny index cap while appends and reads of many sessions interleave', async () => {
    await store.close();
    store = await openFileStore(dir, { maxIndexedMessages: 1 });
    const ids = [sessionId];
    for (let i = 0; i < 4; i += 1) ids.push((await store.createSession({ machineId: 'm', senderUserId: 'alice', receiverUserId: `u${i}` })).sessionId);
    const work: Promise<unknown>[] = [];
    for (let n = 1; n <= 40; n += 1) {
      for (const id of ids) {
        work.push(store.appendMessage(id, messageFrom('alice', 'x', `${id}-${n}`, `${id}-${n}`)));
        if (n % 7 === 0) work.push(store.readMessages(id, { after: 0, limit: 500 }), store.listSessionsOf('alice'));
      }
    }
    await Promise.all(work);
    const seqsOf = async (id: string) => (await store.readMessages(id, { after: 0, limit: 500 })).messages.map((m) => m.seq);
    const oneTo40 = Array.from({ length: 40 }, (_, i) => i + 1);
    for (const id of ids) expect(await seqsOf(id)).toEqual(oneTo40);
    await store.close();
    await assertEveryFileParses(dir);
    store = await openFileStore(dir);
    for (const id of ids) expect(await seqsOf(id)).toEqual(oneTo40);
  });

  it.skipIf(process.platform !== 'linux')('keeps at most maxOpenFiles idle handles, closing the least recently used', async () => {
    /** messages.jsonl files this process has open, from /proc/self/fd. */
    const openLogs = async () => {
      const targets = await Promise.all(
        (await readdir('/proc/self/fd')).map((fd) => readlink(`/proc/self/fd/${fd}`).catch(() => '')),
      );
      return targets.filter((target) => target.startsWith(dir) && target.endsWith('messages.jsonl')).length;
    };
    await store.close();
    const { logger, records } = recordingLogger();
    store = await openFileStore(dir, { maxOpenFiles: 2, logger });
    const ids = [sessionId];
    for (let i = 0; i < 4; i += 1) ids.push((await store.createSession({ machineId: 'm', senderUserId: 'alice', receiverUserId: `u${i}` })).sessionId);
    for (const id of ids) await store.appendMessage(id, messageFrom('alice', 'bob', id));
    // Evicted handles close in the background.
    await vi.waitFor(async () => expect(await openLogs()).toBe(2));
    for (const id of ids) expect((await store.readMessages(id, { after: 0, limit: 5 })).messages.map((m) => m.message)).toEqual([id]);
    await vi.waitFor(async () => expect(await openLogs()).toBe(2));
    expect(records.filter((r) => r.level >= PINO_WARN)).toEqual([]);
  });
});
