import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { v4 as uuidv4 } from 'uuid';
import type { ChatMessage, ChatSession, ChatSessionSummary, ChatStore } from '../../domain/chat-store.js';
import { AppError } from '../../errors.js';
import type { Logger } from '../../observability/logger.js';
import { advancedCursor, assertCursor, assertPage, byNewestActivity, cursorOf, newSessionRecord, withCursor } from '../../domain/chat-rules.js';
import { DEFAULT_CHECKPOINT_MS, openChatJournal, replayChatJournals, type ChatJournal } from './chat-journal.js';
import { acquireDirLock, type DirLock } from './dir-lock.js';
import { errnoCode, storageUnavailable } from './fs-errors.js';
import { createHandlePool } from './handle-pool.js';
import { createIndexCache } from './index-cache.js';
import { appendToMessageLog, countAbove, emptyMessageLogIndex, lastSeqOf, loadMessageLog, type MessageLogIndex } from './message-log.js';
import { forEachBounded } from './run-bounded.js';
import { moveSeedMessages } from './seed-upgrade.js';
import { createSessionFiles, createSessionFileWriter, type SessionFileWriter } from './session-files.js';
import { createSessionLog, type SessionLog } from './session-log.js';
import { canonicalSessionId, isSessionDirName, SESSION_FILE } from './session-paths.js';
import { parseMessageLine } from './stored-records.js';
import { createSessionRegistry } from './session-registry.js';
import { scanSessionsDir } from './session-scan.js';
import { createWriteHealth } from './write-health.js';

export interface FileChatStoreOptions {
  /** CHAT_SESSIONS_DIR; created when missing. */
  dir: string;
  logger: Logger;
  /** messages.jsonl handles kept open; beyond this, idle ones close, least recently used first. Default 256. */
  maxOpenFiles?: number;
  /** session.json files read at once by open(). Default 64. */
  scanConcurrency?: number;
  /** Most messages one durable write carries. Default 512. */
  maxBatch?: number;
  /** When the chat journal starts a new file and checkpoints the old one (see chat-journal.ts). */
  journal?: { maxBytes?: number; maxSessions?: number; checkpointMs?: number };
  /**
   * How long a deferrable cursor change (a live delivery's) may wait before session.json
   * gets it. Default: the chat journal's default checkpoint period (5 s). Each rewrite of
   * a session.json costs about 0.85 ms of CPU with its fsyncs, so at one a second a server
   * with 1,000 busy sessions spent most of a core on them (the durable benchmark's 100 sessions:
   * about 10 % of a message's CPU). A crash forgets at most this much delivery progress,
   * which only means those messages are offered again on the next connect.
   */
  deferredWriteMs?: number;
  /**
   * Messages kept indexed in memory across all sessions (CHAT_INDEX_MAX_MESSAGES). Beyond
   * it, the least recently used idle sessions forget their index and read messages.jsonl
   * again on next use. Default 1,000,000.
   */
  maxIndexedMessages?: number;
  now?: () => Date;
}

/** A session the store knows: its state in memory and the two files that hold it. */
interface SessionEntry {
  readonly id: string;
  /** The truth for session.json; the file follows through `file`. */
  session: ChatSession;
  /** session.json still carries seed 001 messages (moved to messages.jsonl on first access). */
  hasSeedMessages: boolean;
  deleted: boolean;
  readonly log: SessionLog;
  readonly file: SessionFileWriter;
}

/**
 * Sessions are replaced, never mutated, and handed out frozen: callers get the live
 * object without a copy per call (structuredClone on every message was 7 % of the
 * durable send path in bench/) and cannot change the store's state through it.
 */
function frozen(session: ChatSession): ChatSession {
  Object.freeze(session.participants);
  for (const cursor of Object.values(session.cursors)) Object.freeze(cursor);
  Object.freeze(session.cursors);
  return Object.freeze(session);
}

function summaryOf(session: ChatSession, index: MessageLogIndex, userId: string): ChatSessionSummary {
  const received = index.receivedBy.get(userId) ?? [];
  const { read, delivered } = cursorOf(session, userId);
  return {
    ...session,
    lastMessage: index.lastMessage === null ? null : { ...index.lastMessage },
    messageCount: index.seqs.length,
    unreadCount: countAbove(received, read),
    undeliveredCount: countAbove(received, delivered),
  };
}

/**
 * The embedded ChatStore: one directory per session under `dir`, holding session.json
 * (rewritten atomically) and messages.jsonl (append-only, one message per line). See the
 * ChatStore port for the guarantees. This is the façade; each concern has its module:
 *
 * - session-log.ts: a session's appends (group commit, one write per batch, a failed
 *   write cut off again) and reads of messages.jsonl;
 * - chat-journal.ts: the write-ahead journal that makes the appends of every session in
 *   a turn durable with one write, checkpoints, and replay after a crash;
 * - index-cache.ts: the in-memory indexes of the logs, capped, least recently used first;
 *   messages.jsonl is read (and a torn tail repaired) on first access, not at start-up;
 * - session-registry.ts: which sessions exist, by id and by participant;
 * - session-files.ts: creating and deleting session directories, and keeping session.json
 *   (cursors) in step, coalesced, on a different file from appends so the two never
 *   interleave within one file. A cursor update resolves once session.json holds it; if
 *   that rewrite fails it rejects, the cursor stays advanced in memory and goes to disk
 *   with the next rewrite (a lost cursor only means a re-delivery);
 * - seed-upgrade.ts: moving seed 001 messages out of session.json;
 * - session-scan.ts: rebuilding the registry at open(), reading only the session.json files;
 * - dir-lock.ts: a lock file makes this process the directory's only owner.
 */
export function createFileChatStore(options: FileChatStoreOptions): ChatStore {
  const root = path.resolve(options.dir);
  const { logger } = options;
  const now = options.now ?? (() => new Date());
  const scanConcurrency = options.scanConcurrency ?? 64;
  const maxBatch = options.maxBatch ?? 512;
  const deferredWriteMs = options.deferredWriteMs ?? DEFAULT_CHECKPOINT_MS;

  const health = createWriteHealth(logger, root);
  const files = createSessionFiles(root, logger);
  const handles = createHandlePool({ max: options.maxOpenFiles ?? 256, open: (sessionId) => files.openMessageLog(sessionId), logger });
  const registry = createSessionRegistry<SessionEntry>();
  const indexes = createIndexCache({
    maxMessages: options.maxIndexedMessages ?? 1_000_000,
    isPinned: (sessionId) => registry.get(sessionId)?.log.busy === true,
  });
  const inflight = new Set<Promise<unknown>>();
  let state: 'new' | 'opening' | 'open' | 'closing' | 'closed' = 'new';
  let lock: DirLock | undefined;
  let journal: ChatJournal | undefined;
  let opened: Promise<void> | undefined;
  let closed: Promise<void> | undefined;

  /** Runs a public operation: refused unless open, and awaited by close(). */
  const operate = <T>(task: () => Promise<T>): Promise<T> => {
    if (state !== 'open') return Promise.reject(new AppError('STORAGE_UNAVAILABLE', 'The chat store is not open'));
    const running = task();
    inflight.add(running);
    const forget = () => {
      inflight.delete(running);
    };
    running.then(forget, forget);
    return running;
  };

  const newEntry = (session: ChatSession, init: { hasSeedMessages: boolean }): SessionEntry => {
    const id = session.sessionId;
    const entry: SessionEntry = {
      id,
      session: frozen(session),
      hasSeedMessages: init.hasSeedMessages,
      deleted: false,
      log: createSessionLog({
        sessionId: id,
        handles,
        indexes,
        health,
        logger,
        now,
        maxBatch,
        makeDurable: (lines) => {
          if (journal === undefined) return Promise.reject(new AppError('STORAGE_UNAVAILABLE', 'The chat store is not open'));
          return journal.commit(id, lines);
        },
        isDeleted: () => entry.deleted,
        afterLoad: async (handle, index) => {
          if (!entry.hasSeedMessages) return;
          await moveSeedMessages({ handle, index }, { sessionId: id, readSessionFile: () => files.readSessionFile(id), health, logger });
          entry.hasSeedMessages = false;
          // Drops the old copy from session.json; if this fails the copy stays, unused, until the next rewrite.
          entry.file.writeNow().catch((err: unknown) => {
            logger.warn({ err, sessionId: id }, 'could not drop the seed messages from session.json');
          });
        },
      }),
      file: createSessionFileWriter({
        sessionId: id,
        file: files.sessionFileOf(id),
        current: () => entry.session,
        isDeleted: () => entry.deleted,
        mayDefer: () => state === 'open',
        deferredWriteMs,
        health,
        logger,
      }),
    };
    return entry;
  };

  /** The live entry `sessionId` names: INVALID_REQUEST for a malformed id, NOT_FOUND for an unknown or deleted one. */
  const lookup = (sessionId: string): SessionEntry => registry.lookup(sessionId);

  const unregister = (entry: SessionEntry) => {
    registry.remove(entry);
    indexes.forget(entry.id);
  };

  return {
    open() {
      if (state !== 'new') return Promise.reject(new Error('A chat store can be opened once'));
      state = 'opening';
      opened = openStorage().then(
        () => {
          state = 'open';
        },
        (err: unknown) => {
          state = 'closed';
          throw err;
        },
      );
      return opened;
    },

    close() {
      closed ??= (async () => {
        await opened?.then(noop, noop);
        if (state !== 'open') {
          state = 'closed';
          return;
        }
        state = 'closing';
        for (const entry of registry.entries()) entry.file.flushDeferred();
        await Promise.allSettled([...inflight]);
        await Promise.all([...registry.entries()].flatMap((entry) => [entry.log.idle(), entry.file.idle()]));
        await journal?.close();
        await handles.closeAll();
        await lock?.release();
        state = 'closed';
      })();
      return closed;
    },

    isWritable() {
      return health.writable;
    },

    indexStats() {
      return indexes.stats();
    },

    createSession(input) {
      return operate(async () => {
        const sessionId = uuidv4();
        const session = newSessionRecord(sessionId, input, now());
        try {
          await files.create(session);
        } catch (err) {
          health.failed(err, { sessionId, file: SESSION_FILE });
          await files.removeUnfinished(sessionId);
          throw storageUnavailable('create the chat session', err);
        }
        health.written();
        const entry = newEntry(session, { hasSeedMessages: false });
        registry.add(entry);
        indexes.remember(entry.id, emptyMessageLogIndex());
        return structuredClone(session);
      });
    },

    getSession(sessionId) {
      return operate(async () => registry.get(canonicalSessionId(sessionId))?.session);
    },

    deleteSession(sessionId) {
      return operate(async () => {
        const entry = registry.get(canonicalSessionId(sessionId));
        if (entry === undefined) return false;
        // From here on the session is gone for every caller; appends still queued fail with NOT_FOUND.
        entry.deleted = true;
        entry.file.flushDeferred();
        unregister(entry);
        await Promise.all([entry.log.idle(), entry.file.idle(), indexes.settled(entry.id)]);
        // One rename makes the delete atomic and durable; removing the files can then fail
        // or be interrupted without bringing the session back (open() finishes the job).
        let doomed: string;
        try {
          doomed = await files.moveAway(entry.id);
        } catch (err) {
          entry.deleted = false;
          registry.add(entry);
          health.failed(err, { sessionId: entry.id, operation: 'delete' });
          throw storageUnavailable('delete the chat session', err);
        }
        handles.discard(entry.id);
        await files.removeMoved(doomed, entry.id);
        return true;
      });
    },

    listSessionsOf(userId) {
      return operate(async () => {
        const summaries: ChatSessionSummary[] = [];
        await forEachBounded([...registry.idsOf(userId)], 16, async (sessionId) => {
          const entry = registry.get(sessionId);
          if (entry === undefined) return;
          const index = await entry.log.index().catch((err: unknown) => {
            if (entry.deleted) return undefined;
            throw err;
          });
          if (index !== undefined && !entry.deleted) summaries.push(summaryOf(entry.session, index, userId));
        });
        return summaries.sort(byNewestActivity);
      });
    },

    countSessionsCreatedBy(userId, tenantId) {
      return operate(async () => {
        let count = 0;
        for (const sessionId of registry.idsOf(userId)) {
          const session = registry.get(sessionId)?.session;
          if (session?.senderUserId === userId && session.tenantId === tenantId) count += 1;
        }
        return count;
      });
    },

    appendMessage(sessionId, input) {
      return operate(async () => lookup(sessionId).log.append(input));
    },

    readMessages(sessionId, page) {
      return operate(async () => {
        const entry = lookup(sessionId);
        assertPage(page);
        return entry.log.read(page);
      });
    },

    advanceCursor(sessionId, userId, cursor, { deferrable = false } = {}) {
      return operate(async () => {
        const entry = lookup(sessionId);
        if (!entry.session.participants.includes(userId)) {
          throw new AppError('FORBIDDEN', 'Only a participant of a chat session has cursors in it');
        }
        assertCursor(cursor);
        const lastSeq = lastSeqOf(await entry.log.index());
        const current = cursorOf(entry.session, userId);
        const next = advancedCursor(current, cursor, lastSeq);
        if (next.read === current.read && next.delivered === current.delivered && !entry.file.behind) {
          return entry.session;
        }
        entry.session = frozen({ ...entry.session, cursors: withCursor(entry.session.cursors, userId, next) });
        await (deferrable ? entry.file.writeSoon() : entry.file.writeNow());
        return entry.session;
      });
    },
  };

  async function openStorage(): Promise<void> {
    await mkdir(root, { recursive: true });
    const owned = await acquireDirLock(root, logger);
    try {
      const started = performance.now();
      const generation = await replayChatJournals(root, { logger, replaySession });
      journal = await openChatJournal({ root, generation, logger, health, syncSession, ...options.journal });
      const scan = await scanSessionsDir(root, { logger, concurrency: scanConcurrency });
      for (const { session, hasSeedMessages } of scan.sessions) registry.add(newEntry(session, { hasSeedMessages }));
      logger.info(
        { dir: root, sessions: scan.sessions.length, skipped: scan.skipped, ms: Math.round(performance.now() - started) },
        'chat sessions indexed',
      );
    } catch (err) {
      await journal?.close().catch((closeErr: unknown) => logger.warn({ err: closeErr }, 'could not close the chat journal'));
      await owned.release().catch((releaseErr: unknown) => logger.warn({ err: releaseErr }, 'could not release the chat sessions directory lock'));
      throw err;
    }
    lock = owned;
  }

  /** Appends to a session's messages.jsonl (durably) the journal's lines it lacks; a deleted session is skipped. */
  async function replaySession(sessionId: string, lines: string[]): Promise<number> {
    if (!isSessionDirName(sessionId)) return 0;
    let handle;
    try {
      handle = await files.openMessageLog(sessionId);
    } catch (err) {
      // The session was deleted before the crash.
      if (errnoCode(err) === 'ENOENT') return 0;
      throw err;
    }
    try {
      const index = await loadMessageLog(handle, { logger, sessionId });
      const missing: ChatMessage[] = [];
      let last = lastSeqOf(index);
      for (const line of lines) {
        const message = parseMessageLine(line);
        if (message === undefined || message.seq <= last) continue;
        missing.push(message);
        last = message.seq;
      }
      if (missing.length > 0) await appendToMessageLog(handle, index, missing);
      return missing.length;
    } finally {
      await handle.close();
    }
  }

  /** A checkpoint's fdatasync of one session's messages.jsonl; nothing for a session deleted meanwhile. */
  async function syncSession(sessionId: string): Promise<void> {
    if (registry.get(sessionId) === undefined) return;
    try {
      await handles.use(sessionId, (handle) => handle.datasync());
    } catch (err) {
      if (registry.get(sessionId) === undefined || errnoCode(err) === 'ENOENT') return;
      throw err;
    }
  }
}

function noop(): void {
  // Used where only the settling of a promise matters, not its outcome.
}
