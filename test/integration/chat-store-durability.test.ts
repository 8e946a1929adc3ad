import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { appendFile, mkdir, readdir, readFile, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ChatMessage, ChatStore } from '../../src/domain/chat-store.js';
import { AppError } from '../../src/errors.js';
import { encodeLockOwner, LOCK_FILE } from '../../src/storage/file/dir-lock.js';
import { createFileChatStore } from '../../src/storage/file/file-chat-store.js';
import {
  assertEveryFileParses,
  messageFrom,
  openFileStore,
  PINO_WARN,
  readMessageLines,
  recordingLogger,
  removeDir,
  silentLogger,
  tempDir,
} from '../support/chat-store-harness.js';

const run = promisify(execFile);
const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const WRITER = fileURLToPath(new URL('../support/chat-store-writer.ts', import.meta.url));

async function readAll(store: ChatStore, sessionId: string): Promise<ChatMessage[]> {
  const all: ChatMessage[] = [];
  let after = 0;
  for (;;) {
    const page = await store.readMessages(sessionId, { after, limit: 500 });
    all.push(...page.messages);
    if (page.nextAfter === undefined) return all;
    after = page.nextAfter;
  }
}

const oneToN = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

/** The pid of a process that has exited and been reaped. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await once(child, 'exit');
  if (child.pid === undefined) throw new Error('no pid');
  return child.pid;
}

describe('file chat store durability', () => {
  let dir: string;
  const stores: ChatStore[] = [];
  const track = (store: ChatStore) => {
    stores.push(store);
    return store;
  };

  beforeEach(async () => {
    dir = await tempDir();
  });

  afterEach(async () => {
    await Promise.all(stores.splice(0).map((store) => store.close()));
    await removeDir(dir);
  });

  it('keeps sessions, messages and cursors across a restart', async () => {
    const first = track(await openFileStore(dir));
    const { sessionId } = await first.createSession({ machineId: 'm', senderUserId: 'alice', receiverUserId: 'bob' });
    for (let i = 1; i <= 3; i += 1) await first.appendMessage(sessionId, messageFrom('alice', 'bob', `m${i}`, `c${i}`));
    await first.advanceCursor(sessionId, 'bob', { read: 2 });
    await first.close();

    const second = track(await openFileStore(dir));
    expect((await second.getSession(sessionId))?.cursors.bob).toEqual({ delivered: 2, read: 2 });
    expect((await second.listSessionsOf('bob'))[0]).toMatchObject({ sessionId, messageCount: 3, unreadCount: 1 });
    expect((await readAll(second, sessionId)).map((m) => m.message)).toEqual(['m1', 'm2', 'm3']);
    expect(await second.appendMessage(sessionId, messageFrom('alice', 'bob', 'again', 'c2'))).toMatchObject({ duplicate: true, message: { seq: 2 } });
    expect((await second.appendMessage(sessionId, messageFrom('alice', 'bob', 'm4'))).message.seq).toBe(4);
  });

  it('holds deferrable cursor changes in memory, writes them together later, and writes what is pending at close', async () => {
    const sessionFile = (id: string) => path.join(dir, id, 'session.json');
    const storedCursor = async (id: string) => JSON.parse(await readFile(sessionFile(id), 'utf8')).cursors.bob;
    const first = track(await openFileStore(dir, { deferredWriteMs: 1000 }));
    const { sessionId } = await first.createSession({ machineId: 'm', senderUserId: 'alice', receiverUserId: 'bob' });
    for (let i = 1; i <= 3; i += 1) await first.appendMessage(sessionId, messageFrom('alice', 'bob', `m${i}`));

    const written = [1, 2].map((seq) => first.advanceCursor(sessionId, 'bob', { delivered: seq }, { deferrable: true }));
    await new Promise(setImmediate);
    expect((await first.getSession(sessionId))?.cursors.bob).toEqual({ delivered: 2, read: 0 });
    expect(await storedCursor(sessionId)).toEqual({ delivered: 0, read: 0 });
    await Promise.all(written);
    expect(await storedCursor(sessionId)).toEqual({ delivered: 2, read: 0 });

    // A change that must be stored now takes the pending deferred one with it.
    const deferred = first.advanceCursor(sessionId, 'bob', { delivered: 3 }, { deferrable: true });
    await first.advanceCursor(sessionId, 'alice', { read: 1 });
    expect(await storedCursor(sessionId)).toEqual({ delivered: 3, read: 0 });
    await deferred;

    await first.close();

    // Pending at close: close writes it at once rather than waiting a minute, or losing it.
    const second = track(await openFileStore(dir, { deferredWriteMs: 60_000 }));
    const pending = second.advanceCursor(sessionId, 'bob', { read: 3 }, { deferrable: true });
    const closing = second.close();
    await Promise.all([pending, closing]);
    expect(await storedCursor(sessionId)).toEqual({ delivered: 3, read: 3 });
  });

  it('cuts a torn last line on first access, logs it at warn, and appends after it', async () => {
    const first = track(await openFileStore(dir));
    const { sessionId } = await first.createSession({ machineId: 'm', senderUserId: 'alice', receiverUserId: 'bob' });
    for (let i = 1; i <= 3; i += 1) await first.appendMessage(sessionId, messageFrom('alice', 'bob', `m${i}`));
    await first.close();
    const log = path.join(dir, sessionId, 'messages.jsonl');
    const intact = (await stat(log)).size;
    await appendFile(log, '{"id":"torn","seq":4,"senderUserId":"al');

    const { logger, records } = recordingLogger();
    const second = track(await openFileStore(dir, { logger }));
    expect((await stat(log)).size).toBeGreaterThan(intact); // lazy: nothing read at start-up
    expect((await readAll(second, sessionId)).map((m) => m.seq)).toEqual([1, 2, 3]);
    expect(records.some((r) => r.level === PINO_WARN && r.sessionId === sessionId && /torn/.test(r.msg))).toBe(true);
    expect((await second.appendMessage(sessionId, messageFrom('alice', 'bob', 'after repair'))).message.seq).toBe(4);
    expect((await readMessageLines(log)).map((m) => m.seq)).toEqual([1, 2, 3, 4]);
  });

  it('cuts an unparsable last line too, but keeps going past an unparsable line in the middle', async () => {
    const first = track(await openFileStore(dir));
    const { sessionId } = await first.createSession({ machineId: 'm', senderUserId: 'alice', receiverUserId: 'bob' });
    await first.appendMessage(sessionId, messageFrom('alice', 'bob', 'm1'));
    await first.close();
    const log = path.join(dir, sessionId, 'messages.jsonl');
    const [good] = await readMessageLines(log);
    await appendFile(log, 'not json\n');
    await appendFile(log, `${JSON.stringify({ ...good, id: 'second', seq: 2 })}\n{"half":\n`);

    const second = track(await openFileStore(dir));
    expect((await readAll(second, sessionId)).map((m) => m.id)).toEqual([good?.id, 'second']);
    expect((await second.appendMessage(sessionId, messageFrom('alice', 'bob', 'm3'))).message.seq).toBe(3);
    const text = await readFile(log, 'utf8');
    expect(text).toContain('not json\n');
    expect(text).not.toContain('{"half":');
  });

  it('cleans up after interrupted writes at start-up and skips a broken session without failing', async () => {
    const first = track(await openFileStore(dir));
    const kept = await first.createSession({ machineId: 'm', senderUserId: 'alice', receiverUserId: 'bob' });
    const broken = await first.createSession({ machineId: 'm', senderUserId: 'alice', receiverUserId: 'carol' });
    await first.close();
    const staleTemp = path.join(dir, kept.sessionId, '.session.json.0123456789ab.tmp');
    await writeFile(staleTemp, '{"half');
    await writeFile(path.join(dir, broken.sessionId, 'session.json'), '{ not a session');
    const unfinished = path.join(dir, '6f1c2a9e-3b8d-4c7e-9a1f-2d3e4f5a6b7c');
    await mkdir(unfinished);
    await writeFile(path.join(unfinished, 'messages.jsonl'), '');
    const unfinishedDelete = path.join(dir, '.deleted-6f1c2a9e-3b8d-4c7e-9a1f-000000000000.abcd');
    await mkdir(unfinishedDelete);
    await writeFile(path.join(unfinishedDelete, 'session.json'), '{}');

    const { logger, records } = recordingLogger();
    const second = track(await openFileStore(dir, { logger }));
    await expect(stat(staleTemp)).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(stat(unfinished)).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(stat(unfinishedDelete)).rejects.toMatchObject({ code: 'ENOENT' });
    expect((await second.listSessionsOf('alice')).map((s) => s.sessionId)).toEqual([kept.sessionId]);
    expect(records.some((r) => r.sessionId === broken.sessionId && r.level >= PINO_WARN)).toBe(true);
  });

  it('moves the messages of a seed 001 session.json into messages.jsonl on first access', async () => {
    const sessionId = '0b8e8a52-7c1f-4d39-b1de-64f4a2f2c1aa';
    await mkdir(path.join(dir, sessionId));
    const seedMessage = (id: string, text: string) => ({
      id,
      senderUserId: 'alice',
      receiverUserId: 'bob',
      message: text,
      timestamp: '2024-01-01T00:00:00.000Z',
      machineId: 'machine_abc123',
    });
    await writeFile(
      path.join(dir, sessionId, 'session.json'),
      JSON.stringify({
        sessionId,
        machineId: 'machine_abc123',
        senderUserId: 'alice',
        receiverUserId: 'bob',
        createdAt: '2024-01-01T00:00:00.000Z',
        messages: [seedMessage('a', 'Hello!'), seedMessage('b', 'Anyone?')],
        participants: ['alice', 'bob'],
      }),
    );

    const store = track(await openFileStore(dir));
    expect((await store.getSession(sessionId))?.cursors).toEqual({ alice: { delivered: 0, read: 0 }, bob: { delivered: 0, read: 0 } });
    expect((await readAll(store, sessionId)).map((m) => [m.seq, m.message])).toEqual([
      [1, 'Hello!'],
      [2, 'Anyone?'],
    ]);
    expect((await store.appendMessage(sessionId, messageFrom('bob', 'alice', 'Yes'))).message.seq).toBe(3);
    await store.close();
    expect(JSON.parse(await readFile(path.join(dir, sessionId, 'session.json'), 'utf8'))).not.toHaveProperty('messages');
    expect((await readMessageLines(path.join(dir, sessionId, 'messages.jsonl'))).map((m) => m.seq)).toEqual([1, 2, 3]);
  });

  describe('ownership of the directory', () => {
    it('refuses a second store while the first is open, and lets one in once it closed', async () => {
      const owner = track(await openFileStore(dir));
      const intruder = createFileChatStore({ dir, logger: silentLogger() });
      await expect(intruder.open()).rejects.toThrow(
        new RegExp(`^Another server process \\(pid ${process.pid} on this host, since [^)]+\\) owns CHAT_SESSIONS_DIR`),
      );
      await intruder.close();
      await owner.close();
      await expect(stat(path.join(dir, LOCK_FILE))).rejects.toMatchObject({ code: 'ENOENT' });
      track(await openFileStore(dir));
    });

    it('refuses a lock held by another live process on this host', async () => {
      const sleeper = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)']);
      try {
        const owner = { pid: sleeper.pid ?? 0, host: hostname(), startedAt: new Date().toISOString(), token: 'other' };
        await symlink(encodeLockOwner(owner), path.join(dir, LOCK_FILE));
        await expect(openFileStore(dir)).rejects.toThrow(`Another server process (pid ${owner.pid} on this host`);
      } finally {
        sleeper.kill('SIGKILL');
      }
    });

    it('takes over, with a warning, a lock left by a process that is gone', async () => {
      const owner = { pid: await deadPid(), host: hostname(), startedAt: '2025-01-01T00:00:00.000Z', token: 'gone' };
      await symlink(encodeLockOwner(owner), path.join(dir, LOCK_FILE));
      const { logger, records } = recordingLogger();
      const store = track(await openFileStore(dir, { logger }));
      expect(records.some((r) => r.level === PINO_WARN && /taking over/.test(r.msg))).toBe(true);
      expect(await readlink(path.join(dir, LOCK_FILE))).toContain(`"pid":${process.pid}`);
      expect(store.isWritable()).toBe(true);
    });

    it.skipIf(process.platform !== 'linux')('takes over a lock whose pid now belongs to another process (restart in a container)', async () => {
      // The pid is alive (it is this process) but started at another time than the lock says.
      const owner = { pid: process.pid, host: hostname(), startedAt: '2025-01-01T00:00:00.000Z', token: 'previous', procStart: 1 };
      await symlink(encodeLockOwner(owner), path.join(dir, LOCK_FILE));
      track(await openFileStore(dir));
    });
  });

  it('refuses path traversal ids and touches nothing outside the root', async () => {
    const parent = dir;
    const root = path.join(parent, 'sessions');
    const sentinel = path.join(parent, 'x');
    await writeFile(sentinel, 'untouched');
    const store = track(await openFileStore(root));
    const { sessionId } = await store.createSession({ machineId: 'm', senderUserId: 'alice', receiverUserId: 'bob' });
    const listing = async () => [...(await readdir(parent)), ...(await readdir(root))].sort();
    const before = await listing();

    const hostile = [
      '../x',
      '..%2F..%2Fetc',
      '%2e%2e',
      '..',
      sentinel,
      '/etc/passwd',
      `${sessionId}/../../x`,
      `${sessionId}x`,
      ` ${sessionId}`,
      `${sessionId}\0`,
      `../${sessionId}`,
    ];
    for (const id of hostile) {
      for (const attempt of [
        store.getSession(id),
        store.deleteSession(id),
        store.appendMessage(id, messageFrom('alice', 'bob', 'x')),
        store.readMessages(id, { after: 0, limit: 1 }),
        store.advanceCursor(id, 'bob', { read: 1 }),
      ]) {
        await expect(attempt).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
      }
    }
    expect(await listing()).toEqual(before);
    expect(await readFile(sentinel, 'utf8')).toBe('untouched');
    expect(await store.getSession(sessionId)).toBeDefined();
  });

  it('loses no acknowledged message when the writer is killed with SIGKILL, and restarts at once', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', WRITER, dir], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    let sessionId: string | undefined;
    const acked = new Map<number, string>();
    let ackedTwice = 0;
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      const [kind, a, b] = line.split(' ');
      if (kind === 'session') sessionId = a;
      if (kind === 'ack' && a !== undefined && b !== undefined) {
        if (acked.has(Number(a))) ackedTwice += 1;
        acked.set(Number(a), b);
        if (acked.size >= 400) child.kill('SIGKILL');
      }
    });
    // 'close' comes after stdout has ended, so every line the child wrote has been read.
    const [code, signal] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null];
    expect({ code, signal, stderr }).toMatchObject({ code: null, signal: 'SIGKILL' });
    expect(sessionId).toBeDefined();
    expect(acked.size).toBeGreaterThanOrEqual(400);
    expect(ackedTwice).toBe(0);

    const store = track(await openFileStore(dir));
    const stored = await readAll(store, sessionId as string);
    expect(stored.map((m) => m.seq)).toEqual(oneToN(stored.length));
    expect(new Set(stored.map((m) => m.clientMessageId)).size).toBe(stored.length);
    const bySeq = new Map(stored.map((m) => [m.seq, m.clientMessageId]));
    for (const [seq, clientMessageId] of acked) expect(bySeq.get(seq)).toBe(clientMessageId);
    await assertEveryFileParses(dir);
  });
});

const canMount = process.platform === 'linux' && process.getuid?.() === 0;
if (!canMount) {
  console.info('chat-store-durability: skipping the full-disk test; it mounts a 512 KiB tmpfs and needs root on Linux');
}

describe.skipIf(!canMount)('file chat store on a full disk', () => {
  let mountPoint: string;
  let mounted = false;

  beforeAll(async () => {
    mountPoint = await tempDir('chat-store-tmpfs-');
    try {
      await run('mount', ['-t', 'tmpfs', '-o', 'size=512k', 'tmpfs', mountPoint]);
      mounted = true;
    } catch (err) {
      console.info(`chat-store-durability: skipping the full-disk test; mounting a tmpfs failed: ${String(err)}`);
    }
  });

  afterAll(async () => {
    if (mounted) await run('umount', [mountPoint]);
    await rm(mountPoint, { recursive: true, force: true });
  });

  it('refuses appends with STORAGE_UNAVAILABLE, keeps every acknowledged one, and recovers once space is freed', async (context) => {
    if (!mounted) context.skip();
    const dir = path.join(mountPoint, 'sessions');
    const filler = path.join(mountPoint, 'filler');
    const store = await openFileStore(dir);
    const { sessionId } = await store.createSession({ machineId: 'm', senderUserId: 'alice', receiverUserId: 'bob' });
    await writeFile(filler, Buffer.alloc(300 * 1024, 1));

    const acked = new Map<number, string>();
    let next = 0;
    let refusals: unknown[] = [];
    for (let round = 0; round < 500 && refusals.length === 0; round += 1) {
      const results = await Promise.allSettled(
        Array.from({ length: 10 }, () => {
          const clientMessageId = `c-${next++}`;
          return store.appendMessage(sessionId, messageFrom('alice', 'bob', `${clientMessageId} ${'y'.repeat(1500)}`, clientMessageId));
        }),
      );
      for (const result of results) {
        if (result.status === 'fulfilled') acked.set(result.value.message.seq, result.value.message.clientMessageId ?? '');
        else refusals.push(result.reason);
      }
    }
    expect(refusals.length).toBeGreaterThan(0);
    for (const refusal of refusals) expect(refusal).toBeInstanceOf(AppError);
    expect(refusals.map((r) => (r as AppError).code)).toEqual(refusals.map(() => 'STORAGE_UNAVAILABLE'));
    expect(store.isWritable()).toBe(false);
    expect(acked.size).toBeGreaterThan(0);
    // What was stored stays readable, from this store and after a restart on the still-full disk.
    expect((await readAll(store, sessionId)).length).toBe(acked.size);
    await store.close();

    const reopened = await openFileStore(dir);
    const stored = await readAll(reopened, sessionId);
    expect(stored.map((m) => m.seq)).toEqual(oneToN(acked.size));
    for (const message of stored) expect(message.clientMessageId).toBe(acked.get(message.seq));
    await assertEveryFileParses(dir);

    // Closing removed the journal, whose copies of the lines took room: fill the disk again.
    const refiller = path.join(mountPoint, 'refiller');
    await writeFile(refiller, Buffer.alloc(512 * 1024, 1)).catch((err: unknown) => {
      if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
    });
    refusals = [];
    await reopened.appendMessage(sessionId, messageFrom('alice', 'bob', 'z'.repeat(8000))).catch((err: unknown) => refusals.push(err));
    expect(refusals).toEqual([expect.objectContaining({ code: 'STORAGE_UNAVAILABLE' })]);
    expect(reopened.isWritable()).toBe(false);

    await rm(filler);
    await rm(refiller);
    const after = await reopened.appendMessage(sessionId, messageFrom('alice', 'bob', 'space again'));
    expect(after.message.seq).toBe(acked.size + 1);
    expect(reopened.isWritable()).toBe(true);
    await reopened.close();
    await assertEveryFileParses(dir);
  });
});
