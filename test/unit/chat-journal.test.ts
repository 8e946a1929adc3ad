import { appendFile, cp, readdir, readFile, readlink, rm, stat, truncate, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ChatStore } from '../../src/domain/chat-store.js';
import { eventually } from '../support/eventually.js';
import {
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
 * The chat journal (src/storage/file/chat-journal.ts): an append is acknowledged once its
 * lines are in the journal, durably; messages.jsonl gets them at once but unsynced, and is
 * synced at checkpoints. These tests take what a power cut would leave (a copy of the
 * directory with messages.jsonl's unsynced tail gone) and open a store on it.
 */

const journalFiles = async (dir: string) => (await readdir(dir)).filter((name) => JOURNAL_FILE.test(name)).sort();

describe('chat journal', () => {
  let root: string;
  let dir: string;
  let copy: string;
  let store: ChatStore;
  let reopened: ChatStore | undefined;

  beforeEach(async () => {
    root = await tempDir('chat-journal-');
    dir = path.join(root, 'live');
    copy = path.join(root, 'after-crash');
    // No checkpoint during a test unless it asks for one: the journal keeps every line.
    store = await openFileStore(dir, { journal: { checkpointMs: 3_600_000 } });
  });

  afterEach(async () => {
    vi.restoreAllMocks();
    await reopened?.close();
    reopened = undefined;
    await store.close();
    await removeDir(root);
  });

  /** What the disk would hold after a crash now: the files as they are, without the live process's lock. */
  const crashCopy = async () => {
    await cp(dir, copy, { recursive: true, verbatimSymlinks: true });
    await rm(path.join(copy, '.lock'), { force: true });
  };

  const texts = async (target: ChatStore, sessionId: string) =>
    (await target.readMessages(sessionId, { after: 0, limit: 100 })).messages.map((m) => `${m.seq}:${m.message}`);

  it('gives back every acknowledged message a crash took from the session files', async () => {
    const a = (await store.createSession({ machineId: 'm', senderUserId: 'alice', receiverUserId: 'bob' })).sessionId;
    const b = (await store.createSession({ machineId: 'm', senderUserId: 'alice', receiverUserId: 'carol' })).sessionId;
    for (let i = 1; i <= 5; i++) {
      await Promise.all([store.appendMessage(a, messageFrom('alice', 'bob', `a${i}`)), store.appendMessage(b, messageFrom('carol', 'alice', `b${i}`))]);
    }
    await crashCopy();
    // The unsynced tails are gone: a's last two and a half lines, all of b's.
    const aLog = path.join(copy, a, 'messages.jsonl');
    const aLines = (await readFile(aLog, 'utf8')).split('\n');
    await truncate(aLog, aLines.slice(0, 3).join('\n').length + 1 + 10);
    await truncate(path.join(copy, b, 'messages.jsonl'), 0);

    const { logger, records } = recordingLogger();
    reopened = await openFileStore(copy, { logger });
    expect(await texts(reopened, a)).toEqual(['1:a1', '2:a2', '3:a3', '4:a4', '5:a5']);
    expect(await texts(reopened, b)).toEqual(['1:b1', '2:b2', '3:b3', '4:b4', '5:b5']);
    expect(records.find((r) => r.msg.startsWith('chat journal replayed'))).toMatchObject({ restored: 7, lines: 10, sessions: 2 });
    // Replayed into the session files (durably) and removed; the reopened store starts a fresh journal.
    expect((await readMessageLines(path.join(copy, b, 'messages.jsonl'))).map((m) => m.message)).toEqual(['b1', 'b2', 'b3', 'b4', 'b5']);
    expect(await journalFiles(copy)).toEqual(['chat-journal-000002.log']);
    expect((await reopened.appendMessage(a, messageFrom('alice', 'bob', 'a6'))).message.seq).toBe(6);
  });

  it('replays nothing into a session that was deleted, and does not bring it back', async () => {
    const doomed = (await store.createSession({ machineId: 'm', senderUserId: 'alice', receiverUserId: 'bob' })).sessionId;
    await store.appendMessage(doomed, messageFrom('alice', 'bob', 'gone soon'));
    expect(await store.deleteSession(doomed)).toBe(true);
    await crashCopy();

    reopened = await openFileStore(copy);
    expect(await reopened.getSession(doomed)).toBeUndefined();
    expect((await readdir(copy)).filter((name) => name.includes(doomed))).toEqual([]);
  });

  it('skips a torn last journal line: its write never finished, so nothing in it was acknowledged', async () => {
    const sessionId = (await store.createSession({ machineId: 'm', senderUserId: 'alice', receiverUserId: 'bob' })).sessionId;
    await store.appendMessage(sessionId, messageFrom('alice', 'bob', 'kept'));
    await crashCopy();
    const [journal] = await journalFiles(copy);
    await appendFile(path.join(copy, journal!), `${sessionId} {"id":"x","seq":2,"sender`);

    const { logger, records } = recordingLogger();
    reopened = await openFileStore(copy, { logger });
    expect(await texts(reopened, sessionId)).toEqual(['1:kept']);
    expect(records.filter((r) => r.level >= PINO_WARN)).toEqual([]);
  });

  it.runIf(process.platform === 'linux')('removes a sealed journal file once every session file written under it is synced', async () => {
    await store.close();
    // A journal file per commit: every append seals one, and the checkpoint removes it.
    store = await openFileStore(dir, { journal: { maxBytes: 1, checkpointMs: 3_600_000 } });
    const sessionId = (await store.createSession({ machineId: 'm', senderUserId: 'alice', receiverUserId: 'bob' })).sessionId;
    const log = path.join(dir, sessionId, 'messages.jsonl');
    const proto = await fileHandlePrototype(root);
    const synced: string[] = [];
    const realDatasync = proto.datasync;
    vi.spyOn(proto, 'datasync').mockImplementation(async function (this: FileHandle) {
      synced.push(await readlink(`/proc/self/fd/${this.fd}`));
      return Reflect.apply(realDatasync, this, []) as Promise<void>;
    });

    for (let i = 1; i <= 3; i++) await store.appendMessage(sessionId, messageFrom('alice', 'bob', `m${i}`));
    await eventually(async () => (await journalFiles(dir)).length === 1, 'only the current journal file is left');
    expect(synced).toContain(log);
    expect((await readMessageLines(log)).map((m) => m.message)).toEqual(['m1', 'm2', 'm3']);
  });

  it.runIf(process.platform === 'linux')('keeps a sealed journal whose checkpoint failed, and replays several files in order', async () => {
    await store.close();
    store = await openFileStore(dir, { journal: { maxBytes: 1, checkpointMs: 3_600_000 } });
    const sessionId = (await store.createSession({ machineId: 'm', senderUserId: 'alice', receiverUserId: 'bob' })).sessionId;
    // Every checkpoint's fdatasync of a session file fails: no sealed journal file may go.
    const proto = await fileHandlePrototype(root);
    vi.spyOn(proto, 'datasync').mockRejectedValue(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));
    for (let i = 1; i <= 3; i++) await store.appendMessage(sessionId, messageFrom('alice', 'bob', `m${i}`));
    expect((await journalFiles(dir)).length).toBe(4);
    await crashCopy();
    vi.restoreAllMocks();
    await truncate(path.join(copy, sessionId, 'messages.jsonl'), 0);

    reopened = await openFileStore(copy);
    expect(await texts(reopened, sessionId)).toEqual(['1:m1', '2:m2', '3:m3']);
    expect(await journalFiles(copy)).toEqual(['chat-journal-000005.log']);
  });

  it('leaves no journal file behind a clean close', async () => {
    const sessionId = (await store.createSession({ machineId: 'm', senderUserId: 'alice', receiverUserId: 'bob' })).sessionId;
    await store.appendMessage(sessionId, messageFrom('alice', 'bob', 'hello'));
    expect((await journalFiles(dir)).length).toBe(1);
    expect((await stat(path.join(dir, (await journalFiles(dir))[0]!))).size).toBeGreaterThan(0);
    await store.close();
    expect(await journalFiles(dir)).toEqual([]);
    store = await openFileStore(dir);
    expect(await texts(store, sessionId)).toEqual(['1:hello']);
  });
});
