import { randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { mkdir, open, readFile, rename, rm, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { ChatSession } from '../../domain/chat-store.js';
import type { Logger } from '../../observability/logger.js';
import { fsyncDir, writeFileAtomic } from './atomic-file.js';
import { errnoCode, storageUnavailable } from './fs-errors.js';
import { createGroupCommitter } from './group-commit.js';
import { MESSAGE_LOG_OPEN_FLAGS } from './message-log.js';
import { DELETED_DIR_PREFIX, MESSAGES_FILE, SESSION_FILE, sessionDirOf } from './session-paths.js';
import { sessionNotFound } from './session-registry.js';
import { serializeSession } from './stored-records.js';
import type { WriteHealth } from './write-health.js';

/**
 * The files of the sessions under the store's root: one directory per session holding
 * session.json and messages.jsonl. Creations and deletions are made durable with a
 * directory fsync; what an interruption leaves behind is removed by the start-up scan
 * (session-scan.ts).
 */
export interface SessionFiles {
  /** Creates the session's directory, an empty messages.jsonl, then session.json. */
  create(session: ChatSession): Promise<void>;
  /** Removes what a failed `create` left; never rejects (the start-up scan finishes the job). */
  removeUnfinished(sessionId: string): Promise<void>;
  /** Opens messages.jsonl for appends and reads (creating it for a seed session that has none). */
  openMessageLog(sessionId: string): Promise<FileHandle>;
  readSessionFile(sessionId: string): Promise<string>;
  sessionFileOf(sessionId: string): string;
  /**
   * Renames the session's directory out of the way, durably: the delete is one atomic step,
   * whatever happens to the files after. Resolves with the new path.
   */
  moveAway(sessionId: string): Promise<string>;
  /** Removes a directory `moveAway` renamed; never rejects (the start-up scan finishes the job). */
  removeMoved(dir: string, sessionId: string): Promise<void>;
}

export function createSessionFiles(root: string, logger: Logger): SessionFiles {
  return {
    async create(session) {
      const dir = sessionDirOf(root, session.sessionId);
      await mkdir(dir);
      // Created before session.json: a directory without session.json is then known to be
      // an unfinished creation, and the directory fsync below covers both entries.
      await (await open(path.join(dir, MESSAGES_FILE), 'wx', 0o644)).close();
      await writeFileAtomic(path.join(dir, SESSION_FILE), serializeSession(session), logger);
      await fsyncDir(root);
    },

    async removeUnfinished(sessionId) {
      await rm(sessionDirOf(root, sessionId), { recursive: true, force: true }).catch((cleanupErr: unknown) =>
        logger.warn({ err: cleanupErr, sessionId }, 'could not remove an unfinished session directory; removed at next start'),
      );
    },

    async openMessageLog(sessionId) {
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
    },

    readSessionFile(sessionId) {
      return readFile(path.join(sessionDirOf(root, sessionId), SESSION_FILE), 'utf8');
    },

    sessionFileOf(sessionId) {
      return path.join(sessionDirOf(root, sessionId), SESSION_FILE);
    },

    async moveAway(sessionId) {
      const doomed = path.join(root, `${DELETED_DIR_PREFIX}${sessionId}.${randomBytes(4).toString('hex')}`);
      await rename(sessionDirOf(root, sessionId), doomed);
      await fsyncDir(root);
      return doomed;
    },

    async removeMoved(dir, sessionId) {
      await rm(dir, { recursive: true, force: true }).catch((err: unknown) =>
        logger.warn({ err, sessionId }, 'could not remove the files of a deleted session; removed at next start'),
      );
    },
  };
}

/**
 * Keeps one session.json in step with the session's state in memory. Rewrites are atomic
 * and coalesced: one running, at most one more with the latest state. A deferrable change
 * waits up to `deferredWriteMs` to share a rewrite with the changes after it, and a
 * rewrite that carries only deferrable changes leaves the directory unsynced (see
 * writeFileAtomic): a power cut may undo it, never tear the file, and the next rewrite
 * that must be durable syncs it with its own.
 */
export interface SessionFileWriter {
  /** session.json gets the current state now, together with whatever was deferred. */
  writeNow(): Promise<null>;
  /**
   * session.json gets the current state within deferredWriteMs, one rewrite for all
   * changes meanwhile; durable only with the next writeNow (a power cut may undo it).
   */
  writeSoon(): Promise<void>;
  /** Starts the deferred rewrite, if one waits, at once. */
  flushDeferred(): void;
  /** Resolves once no rewrite is queued or running. */
  idle(): Promise<void>;
  /** A rewrite failed, so the file is behind the state in memory. */
  readonly behind: boolean;
}

export function createSessionFileWriter(options: {
  sessionId: string;
  file: string;
  /** The state session.json is to hold. */
  current(): ChatSession;
  isDeleted(): boolean;
  /** False while the store closes: nothing is deferred then (close() has flushed what was). */
  mayDefer(): boolean;
  deferredWriteMs: number;
  health: WriteHealth;
  logger: Logger;
}): SessionFileWriter {
  const { sessionId, file, health, logger } = options;
  let behind = false;
  let deferred: { flush(): void; written: Promise<void> } | undefined;

  /** Each rewrite asked for says whether it must be durable; one rewrite serves all that waited. */
  const rewrites = createGroupCommitter(async (durable: boolean[]): Promise<boolean[]> => {
    if (options.isDeleted()) throw sessionNotFound();
    behind = false;
    try {
      await writeFileAtomic(file, serializeSession(options.current()), logger, { syncDirectory: durable.includes(true) });
    } catch (err) {
      behind = true;
      health.failed(err, { sessionId, file: SESSION_FILE });
      throw storageUnavailable('save the chat session', err);
    }
    health.written();
    return durable;
  });

  const writeNow = async (): Promise<null> => {
    deferred?.flush();
    await rewrites.submit(true);
    return null;
  };

  return {
    writeNow,

    async writeSoon() {
      if (!options.mayDefer()) {
        await writeNow();
        return;
      }
      if (deferred !== undefined) return deferred.written;
      let flush!: () => void;
      const written = new Promise<void>((resolve, reject) => {
        flush = () => {
          if (deferred?.written !== written) return;
          clearTimeout(timer);
          deferred = undefined;
          if (options.isDeleted()) return resolve();
          rewrites.submit(false).then(() => resolve(), reject);
        };
      });
      const timer = setTimeout(flush, options.deferredWriteMs);
      deferred = { flush, written };
      return written;
    },

    flushDeferred() {
      deferred?.flush();
    },

    idle() {
      return rewrites.idle();
    },

    get behind() {
      return behind;
    },
  };
}
