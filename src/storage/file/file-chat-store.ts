import { randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { mkdir, open, readFile, rename, rm, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { v4 as uuidv4 } from 'uuid';
import type {
  ChatMessage,
  ChatSession,
  ChatSessionSummary,
  ChatStore,
  NewChatMessage,
} from '../../domain/chat-store.js';
import { AppError } from '../../errors.js';
import type { Logger } from '../../observability/logger.js';
import { advancedCursor, assertCursor, assertPage, byNewestActivity, cursorOf, newSessionRecord, withCursor } from '../../domain/chat-rules.js';
import { fsyncDir, writeFileAtomic } from './atomic-file.js';
import { acquireDirLock, type DirLock } from './dir-lock.js';
import { errnoCode, storageUnavailable } from './fs-errors.js';
import { createGroupCommitter, type GroupCommitter } from './group-commit.js';
import { createHandlePool } from './handle-pool.js';
import {
  appendToMessageLog,
  countAbove,
  emptyMessageLogIndex,
  lastSeqOf,
  loadMessageLog,
  MESSAGE_LOG_OPEN_FLAGS,
  MessageLogWriteError,
  readMessageLog,
  type MessageLogIndex,
} from './message-log.js';
import { forEachBounded } from './run-bounded.js';
import { scanSessionsDir } from './session-scan.js';
import { canonicalSessionId, DELETED_DIR_PREFIX, MESSAGES_FILE, SESSION_FILE, sessionDirOf } from './session-paths.js';
import { parseSessionFile, serializeSession, upgradeSeedMessage } from './stored-records.js';

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
  /** How long a deferrable cursor change may wait before session.json gets it. Default 1000 ms. */
  deferredWriteMs?: number;
  /**
   * Messages kept indexed in memory across all sessions (CHAT_INDEX_MAX_MESSAGES). Beyond
   * it, the least recently used idle sessions forget their index and read messages.jsonl
   * again on next use. Default 1,000,000.
   */
  maxIndexedMessages?: number;
  now?: () => Date;
}

/** What the group commit hands back per append; duplicates of older messages are read after it. */
type AppendOutcome = { message: ChatMessage; duplicate: boolean } | { duplicateOfSeq: number };

interface SessionEntry {
  readonly id: string;
  readonly dir: string;
  /** The truth for session.json; the file follows through `rewrites`. */
  session: ChatSession;
  /** Built on first access from messages.jsonl. */
  index: MessageLogIndex | undefined;
  loading: Promise<MessageLogIndex> | undefined;
  hasSeedMessages: boolean;
  /** A rewrite of session.json failed, so the file is behind `session`. */
  sessionFileBehind: boolean;
  deleted: boolean;
  readonly appends: GroupCommitter<NewChatMessage, AppendOutcome>;
  /** Coalesces session.json rewrites: one running, at most one more with the latest state. */
  readonly rewrites: GroupCommitter<null, null>;
  /** A rewrite scheduled for deferrable cursor changes; `flush` starts it at once. */
  deferred: { flush(): void; written: Promise<void> } | undefined;
}

const notFound = () => new AppError('NOT_FOUND', 'Chat session not found');

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

/**
 * The embedded ChatStore: one directory per session under `dir`, holding session.json
 * (rewritten atomically) and messages.jsonl (append-only, one message per line). See the
 * ChatStore port for the guarantees; how they are met:
 *
 * - appends to a session go through a group commit: whatever waits is written with one
 *   durable write (O_DSYNC, or write + fdatasync where there is none), and each append
 *   resolves only after it; a failed write is truncated away so the file always ends
 *   with a whole line;
 * - session.json changes (cursors) are rewritten atomically and coalesced; they touch a
 *   different file from appends, so the two never interleave within one file. A cursor
 *   update resolves once session.json holds it; if that rewrite fails it rejects, the
 *   cursor stays advanced in memory and goes to disk with the next rewrite (a lost cursor
 *   only means a re-delivery);
 * - messages.jsonl is read (and a torn tail repaired) on first access to a session, not
 *   at start-up; open() reads only the session.json files;
 * - a lock file makes this process the directory's only owner.
 */
export function createFileChatStore(options: FileChatStoreOptions): ChatStore {
  const root = path.resolve(options.dir);
  const { logger } = options;
  const now = options.now ?? (() => new Date());
  const scanConcurrency = options.scanConcurrency ?? 64;
  const maxBatch = options.maxBatch ?? 512;
  const deferredWriteMs = options.deferredWriteMs ?? 1000;
  const maxIndexedMessages = options.maxIndexedMessages ?? 1_000_000;

  const sessions = new Map<string, SessionEntry>();
  /** Sessions whose index is in memory, least recently used first, and their message count. */
  const indexed = new Map<string, SessionEntry>();
  let indexedMessages = 0;
  const sessionIdsByUser = new Map<string, Set<string>>();
  const inflight = new Set<Promise<unknown>>();
  let state: 'new' | 'opening' | 'open' | 'closing' | 'closed' = 'new';
  let lock: DirLock | undefined;
  let writable = true;
  let opened: Promise<void> | undefined;
  let closed: Promise<void> | undefined;

  const openLogFile = async (sessionId: string): Promise<FileHandle> => {
    const dir = sessionDirOf(root, sessionId);
    const file = path.join(dir, MESSAGES_FILE);
    try {
      return await open(file, MESSAGE_LOG_OPEN_FLAGS);
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw err;
    }
    // Not O_APPEND: appends write at the committed length, which is what lets a failed
    // write be truncated away. Sessions of seed 001 have no messages.jsonl yet.
    const handle = await open(file, MESSAGE_LOG_OPEN_FLAGS | fsConstants.O_CREAT, 0o644);
    try {
      await fsyncDir(dir);
    } catch (err) {
      await handle.close();
      throw err;
    }
    logger.info({ sessionId }, 'created messages.jsonl');
    return handle;
  };
  const handles = createHandlePool({ max: options.maxOpenFiles ?? 256, open: openLogFile, logger });

  const markWritten = () => {
    if (!writable) logger.info({ dir: root }, 'chat storage is writable again');
    writable = true;
  };

  const markWriteFailed = (err: unknown, context: Record<string, unknown>) => {
    writable = false;
    logger.error({ err, code: errnoCode(err), ...context }, 'chat storage write failed');
  };

  /** Errors of the file system become STORAGE_UNAVAILABLE; anything else is a bug and stays as is. */
  const asStorageError = (err: unknown, action: string): unknown => {
    const cause = err instanceof MessageLogWriteError ? err.cause : err;
    return err instanceof AppError || errnoCode(cause) === undefined ? err : storageUnavailable(action, cause);
  };

  /** A read that failed because its session was deleted meanwhile is NOT_FOUND, not a storage failure. */
  const readFailure = (entry: SessionEntry, err: unknown): unknown =>
    entry.deleted ? notFound() : asStorageError(err, 'read the chat session');

  const register = (entry: SessionEntry) => {
    sessions.set(entry.id, entry);
    for (const userId of entry.session.participants) {
      let ids = sessionIdsByUser.get(userId);
      if (ids === undefined) sessionIdsByUser.set(userId, (ids = new Set()));
      ids.add(entry.id);
    }
  };

  const unregister = (entry: SessionEntry) => {
    sessions.delete(entry.id);
    forgetIndex(entry);
    for (const userId of entry.session.participants) {
      const ids = sessionIdsByUser.get(userId);
      ids?.delete(entry.id);
      if (ids?.size === 0) sessionIdsByUser.delete(userId);
    }
  };

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

  const lookup = (sessionId: string): SessionEntry => {
    const entry = sessions.get(canonicalSessionId(sessionId));
    if (entry === undefined || entry.deleted) throw notFound();
    return entry;
  };

  /** Records that the entry's index is in memory (again) and evicts others beyond the cap. */
  const remember = (entry: SessionEntry, index: MessageLogIndex) => {
    entry.index = index;
    indexed.set(entry.id, entry);
    indexedMessages += index.seqs.length;
    evictIndexes();
  };

  /** Drops the entry's index from memory; messages.jsonl is read again on next use. */
  const forgetIndex = (entry: SessionEntry) => {
    if (entry.index === undefined) return;
    indexedMessages -= entry.index.seqs.length;
    entry.index = undefined;
    indexed.delete(entry.id);
  };

  /**
   * Keeps the indexed messages under the cap, least recently used sessions first. A
   * session with appends queued or running keeps its index: a reload would read (and
   * could cut as torn) a line that is being written.
   */
  const evictIndexes = () => {
    if (indexedMessages <= maxIndexedMessages) return;
    for (const entry of indexed.values()) {
      if (indexedMessages <= maxIndexedMessages) break;
      if (!entry.appends.busy && entry.loading === undefined) forgetIndex(entry);
    }
  };

  const loadIndex = (entry: SessionEntry): Promise<MessageLogIndex> => {
    if (entry.index !== undefined) {
      // Most recently used last.
      indexed.delete(entry.id);
      indexed.set(entry.id, entry);
      return Promise.resolve(entry.index);
    }
    entry.loading ??= handles
      .use(entry.id, async (handle) => {
        const index = await loadMessageLog(handle, { logger, sessionId: entry.id });
        if (entry.hasSeedMessages) await moveSeedMessages(entry, handle, index);
        return index;
      })
      .then(
        (index) => {
          entry.loading = undefined;
          if (!entry.deleted) remember(entry, index);
          return index;
        },
        (err: unknown) => {
          entry.loading = undefined;
          throw readFailure(entry, err);
        },
      );
    return entry.loading;
  };

  /** Seed 001 kept messages inside session.json: give them seqs and move them to an empty messages.jsonl. */
  const moveSeedMessages = async (entry: SessionEntry, handle: FileHandle, index: MessageLogIndex) => {
    if (index.size === 0) {
      const stored = parseSessionFile(await readFile(path.join(entry.dir, SESSION_FILE), 'utf8'));
      const messages: ChatMessage[] = [];
      for (const candidate of stored?.seedMessages ?? []) {
        const message = upgradeSeedMessage(candidate, messages.length + 1);
        if (message !== undefined) messages.push(message);
      }
      if (messages.length > 0) {
        try {
          await appendToMessageLog(handle, index, messages);
        } catch (err) {
          markWriteFailed(err instanceof MessageLogWriteError ? err.cause : err, { sessionId: entry.id, operation: 'move seed messages' });
          throw err;
        }
        logger.info({ sessionId: entry.id, messages: messages.length }, 'moved seed messages from session.json to messages.jsonl');
      }
    }
    entry.hasSeedMessages = false;
    // Drops the old copy from session.json; if this fails the copy stays, unused, until the next rewrite.
    rewriteNow(entry).catch((err: unknown) => {
      logger.warn({ err, sessionId: entry.id }, 'could not drop the seed messages from session.json');
    });
  };

  const readOne = async (entry: SessionEntry, seq: number): Promise<ChatMessage> => {
    const index = await loadIndex(entry);
    const page = await handles.use(entry.id, (handle) => readMessageLog(handle, index, seq - 1, 1));
    const message = page.messages[0];
    if (message?.seq !== seq) throw new Error(`message ${seq} of session ${entry.id} is missing from messages.jsonl`);
    return message;
  };

  const commitAppends = async (entry: SessionEntry, inputs: NewChatMessage[]): Promise<AppendOutcome[]> => {
    if (entry.deleted) throw notFound();
    const index = await loadIndex(entry);
    const timestamp = now().toISOString();
    const outcomes: AppendOutcome[] = [];
    const fresh: ChatMessage[] = [];
    const freshByClientId = new Map<string, ChatMessage>();
    let seq = lastSeqOf(index);
    for (const input of inputs) {
      const { clientMessageId } = input;
      if (clientMessageId !== undefined) {
        const sameBatch = freshByClientId.get(clientMessageId);
        if (sameBatch !== undefined) {
          outcomes.push({ message: sameBatch, duplicate: true });
          continue;
        }
        const storedSeq = index.clientIds.get(clientMessageId);
        if (storedSeq !== undefined) {
          outcomes.push({ duplicateOfSeq: storedSeq });
          continue;
        }
      }
      seq += 1;
      const message: ChatMessage = {
        id: uuidv4(),
        seq,
        senderUserId: input.senderUserId,
        receiverUserId: input.receiverUserId,
        message: input.message,
        timestamp,
        machineId: input.machineId,
        ...(clientMessageId !== undefined ? { clientMessageId } : {}),
      };
      fresh.push(message);
      if (clientMessageId !== undefined) freshByClientId.set(clientMessageId, message);
      outcomes.push({ message, duplicate: false });
    }
    if (fresh.length === 0) return outcomes;
    try {
      await handles.use(entry.id, (handle) => appendToMessageLog(handle, index, fresh));
    } catch (err) {
      const cause = err instanceof MessageLogWriteError ? err.cause : err;
      markWriteFailed(cause, { sessionId: entry.id, messages: fresh.length });
      if (!(err instanceof MessageLogWriteError) || err.truncateError !== undefined) {
        // The file may now end with lines the index does not know: read it again (and
        // repair it) before the next append, through a fresh handle.
        if (err instanceof MessageLogWriteError) logger.error({ err: err.truncateError, sessionId: entry.id }, 'could not cut a failed append off messages.jsonl');
        forgetIndex(entry);
        handles.discard(entry.id);
      }
      throw storageUnavailable('store the message', cause);
    }
    markWritten();
    if (entry.index === index) {
      indexedMessages += fresh.length;
      evictIndexes();
    }
    return outcomes;
  };

  const commitRewrite = async (entry: SessionEntry, items: null[]): Promise<null[]> => {
    if (entry.deleted) throw notFound();
    entry.sessionFileBehind = false;
    try {
      await writeFileAtomic(path.join(entry.dir, SESSION_FILE), serializeSession(entry.session), logger);
    } catch (err) {
      entry.sessionFileBehind = true;
      markWriteFailed(err, { sessionId: entry.id, file: SESSION_FILE });
      throw storageUnavailable('save the chat session', err);
    }
    markWritten();
    return items;
  };

  /** session.json gets the entry's current state now, together with whatever was deferred. */
  const rewriteNow = (entry: SessionEntry): Promise<null> => {
    entry.deferred?.flush();
    return entry.rewrites.submit(null);
  };

  /** session.json gets the entry's state within deferredWriteMs, one rewrite for all changes meanwhile. */
  const rewriteSoon = async (entry: SessionEntry): Promise<void> => {
    // While closing, nothing waits: close() has flushed what was deferred before it began.
    if (state !== 'open') {
      await rewriteNow(entry);
      return;
    }
    if (entry.deferred !== undefined) return entry.deferred.written;
    let flush!: () => void;
    const written = new Promise<void>((resolve, reject) => {
      flush = () => {
        if (entry.deferred?.written !== written) return;
        clearTimeout(timer);
        entry.deferred = undefined;
        if (entry.deleted) return resolve();
        entry.rewrites.submit(null).then(() => resolve(), reject);
      };
    });
    const timer = setTimeout(flush, deferredWriteMs);
    entry.deferred = { flush, written };
    return written;
  };

  const newEntry = (session: ChatSession, init: { hasSeedMessages: boolean }): SessionEntry => {
    const entry: SessionEntry = {
      id: session.sessionId,
      dir: sessionDirOf(root, session.sessionId),
      session: frozen(session),
      index: undefined,
      loading: undefined,
      hasSeedMessages: init.hasSeedMessages,
      sessionFileBehind: false,
      deleted: false,
      appends: createGroupCommitter((inputs: NewChatMessage[]) => commitAppends(entry, inputs), { maxBatch }),
      rewrites: createGroupCommitter((items: null[]) => commitRewrite(entry, items)),
      deferred: undefined,
    };
    return entry;
  };

  const summarize = (entry: SessionEntry, index: MessageLogIndex, userId: string): ChatSessionSummary => {
    const received = index.receivedBy.get(userId) ?? [];
    const { read, delivered } = cursorOf(entry.session, userId);
    return {
      ...entry.session,
      lastMessage: index.lastMessage === null ? null : { ...index.lastMessage },
      messageCount: index.seqs.length,
      unreadCount: countAbove(received, read),
      undeliveredCount: countAbove(received, delivered),
    };
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
        for (const entry of sessions.values()) entry.deferred?.flush();
        await Promise.allSettled([...inflight]);
        await Promise.all([...sessions.values()].flatMap((entry) => [entry.appends.idle(), entry.rewrites.idle()]));
        await handles.closeAll();
        await lock?.release();
        state = 'closed';
      })();
      return closed;
    },

    isWritable() {
      return writable;
    },

    indexStats() {
      return { sessions: indexed.size, messages: indexedMessages };
    },

    createSession(input) {
      return operate(async () => {
        const sessionId = uuidv4();
        const session = newSessionRecord(sessionId, input, now());
        const dir = sessionDirOf(root, sessionId);
        try {
          await mkdir(dir);
          // Created before session.json: a directory without session.json is then known to be
          // an unfinished creation, and the directory fsync below covers both entries.
          await (await open(path.join(dir, MESSAGES_FILE), 'wx', 0o644)).close();
          await writeFileAtomic(path.join(dir, SESSION_FILE), serializeSession(session), logger);
          await fsyncDir(root);
        } catch (err) {
          markWriteFailed(err, { sessionId, file: SESSION_FILE });
          await rm(dir, { recursive: true, force: true }).catch((cleanupErr: unknown) =>
            logger.warn({ err: cleanupErr, sessionId }, 'could not remove an unfinished session directory; removed at next start'),
          );
          throw storageUnavailable('create the chat session', err);
        }
        markWritten();
        const entry = newEntry(session, { hasSeedMessages: false });
        register(entry);
        remember(entry, emptyMessageLogIndex());
        return structuredClone(session);
      });
    },

    getSession(sessionId) {
      return operate(async () => {
        const entry = sessions.get(canonicalSessionId(sessionId));
        return entry === undefined || entry.deleted ? undefined : entry.session;
      });
    },

    deleteSession(sessionId) {
      return operate(async () => {
        const entry = sessions.get(canonicalSessionId(sessionId));
        if (entry === undefined || entry.deleted) return false;
        // From here on the session is gone for every caller; appends still queued fail with NOT_FOUND.
        entry.deleted = true;
        entry.deferred?.flush();
        unregister(entry);
        await Promise.all([entry.appends.idle(), entry.rewrites.idle(), entry.loading?.then(noop, noop)]);
        // One rename makes the delete atomic and durable; removing the files can then fail
        // or be interrupted without bringing the session back (open() finishes the job).
        const doomed = path.join(root, `${DELETED_DIR_PREFIX}${entry.id}.${randomBytes(4).toString('hex')}`);
        try {
          await rename(entry.dir, doomed);
          await fsyncDir(root);
        } catch (err) {
          entry.deleted = false;
          register(entry);
          markWriteFailed(err, { sessionId: entry.id, operation: 'delete' });
          throw storageUnavailable('delete the chat session', err);
        }
        handles.discard(entry.id);
        await rm(doomed, { recursive: true, force: true }).catch((err: unknown) =>
          logger.warn({ err, sessionId: entry.id }, 'could not remove the files of a deleted session; removed at next start'),
        );
        return true;
      });
    },

    listSessionsOf(userId) {
      return operate(async () => {
        const summaries: ChatSessionSummary[] = [];
        const ids = [...(sessionIdsByUser.get(userId) ?? [])];
        await forEachBounded(ids, 16, async (sessionId) => {
          const entry = sessions.get(sessionId);
          if (entry === undefined || entry.deleted) return;
          const index = await loadIndex(entry).catch((err: unknown) => {
            if (entry.deleted) return undefined;
            throw err;
          });
          if (index !== undefined && !entry.deleted) summaries.push(summarize(entry, index, userId));
        });
        return summaries.sort(byNewestActivity);
      });
    },

    countSessionsCreatedBy(userId, tenantId) {
      return operate(async () => {
        let count = 0;
        for (const sessionId of sessionIdsByUser.get(userId) ?? []) {
          const session = sessions.get(sessionId)?.session;
          if (session?.senderUserId === userId && session.tenantId === tenantId) count += 1;
        }
        return count;
      });
    },

    appendMessage(sessionId, input) {
      return operate(async () => {
        const entry = lookup(sessionId);
        const { clientMessageId } = input;
        if (clientMessageId !== undefined) {
          // A retry of a stored message is answered without joining the write queue.
          const seq = (await loadIndex(entry)).clientIds.get(clientMessageId);
          if (seq !== undefined) return { message: await readStored(entry, seq), duplicate: true };
        }
        const outcome = await entry.appends.submit(input);
        if ('duplicateOfSeq' in outcome) return { message: await readStored(entry, outcome.duplicateOfSeq), duplicate: true };
        // A copy: the index keeps the last message, and a batch may hand one message to several retries.
        return { message: { ...outcome.message }, duplicate: outcome.duplicate };
      });
    },

    readMessages(sessionId, page) {
      return operate(async () => {
        const entry = lookup(sessionId);
        assertPage(page);
        const index = await loadIndex(entry);
        try {
          return await handles.use(entry.id, (handle) => readMessageLog(handle, index, page.after, page.limit));
        } catch (err) {
          throw readFailure(entry, err);
        }
      });
    },

    advanceCursor(sessionId, userId, cursor, { deferrable = false } = {}) {
      return operate(async () => {
        const entry = lookup(sessionId);
        if (!entry.session.participants.includes(userId)) {
          throw new AppError('FORBIDDEN', 'Only a participant of a chat session has cursors in it');
        }
        assertCursor(cursor);
        const lastSeq = lastSeqOf(await loadIndex(entry));
        const current = cursorOf(entry.session, userId);
        const next = advancedCursor(current, cursor, lastSeq);
        if (next.read === current.read && next.delivered === current.delivered && !entry.sessionFileBehind) {
          return entry.session;
        }
        entry.session = frozen({ ...entry.session, cursors: withCursor(entry.session.cursors, userId, next) });
        await (deferrable ? rewriteSoon(entry) : rewriteNow(entry));
        return entry.session;
      });
    },
  };

  async function openStorage(): Promise<void> {
    await mkdir(root, { recursive: true });
    const owned = await acquireDirLock(root, logger);
    try {
      const started = performance.now();
      const scan = await scanSessionsDir(root, { logger, concurrency: scanConcurrency });
      for (const { session, hasSeedMessages } of scan.sessions) register(newEntry(session, { hasSeedMessages }));
      logger.info(
        { dir: root, sessions: scan.sessions.length, skipped: scan.skipped, ms: Math.round(performance.now() - started) },
        'chat sessions indexed',
      );
    } catch (err) {
      await owned.release().catch((releaseErr: unknown) => logger.warn({ err: releaseErr }, 'could not release the chat sessions directory lock'));
      throw err;
    }
    lock = owned;
  }

  async function readStored(entry: SessionEntry, seq: number): Promise<ChatMessage> {
    try {
      return await readOne(entry, seq);
    } catch (err) {
      throw readFailure(entry, err);
    }
  }
}

function noop(): void {
  // Used where only the settling of a promise matters, not its outcome.
}
