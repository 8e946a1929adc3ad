import { readFile as readFileCallback } from 'node:fs';
import { readdir, rm, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { ChatSession } from '../../domain/chat-store.js';
import type { Logger } from '../../observability/logger.js';
import { isTempFileName } from './atomic-file.js';
import { errnoCode } from './fs-errors.js';
import { forEachBounded } from './run-bounded.js';
import { DELETED_DIR_PREFIX, isSessionDirName, MESSAGES_FILE, SESSION_FILE } from './session-paths.js';
import { parseSessionFile } from './stored-records.js';

export interface ScannedSession {
  session: ChatSession;
  /** session.json still carries seed 001 messages (moved to an empty messages.jsonl on first access). */
  hasSeedMessages: boolean;
}

export interface ScanResult {
  sessions: ScannedSession[];
  /** Session directories left out because they could not be read or parsed. */
  skipped: number;
}

/**
 * Rebuilds the list of sessions from CHAT_SESSIONS_DIR at start-up, reading only the
 * session.json files (messages.jsonl is read on first access to a session). On the way it
 * removes what interrupted writes leave behind: temporary files of atomic rewrites,
 * directories of deletions that did not finish, and directories of creations that never
 * got their session.json. A session that cannot be read is logged and skipped.
 */
export async function scanSessionsDir(root: string, options: { logger: Logger; concurrency: number }): Promise<ScanResult> {
  const { logger } = options;
  const sessionDirs: string[] = [];
  const unfinishedDeletes: string[] = [];
  const foreign: string[] = [];
  for (const entry of await readdir(root, { withFileTypes: true })) {
    if (entry.isDirectory() && isSessionDirName(entry.name)) sessionDirs.push(entry.name);
    else if (entry.isDirectory() && entry.name.startsWith(DELETED_DIR_PREFIX)) unfinishedDeletes.push(entry.name);
    // Files are other stores' (the inbox database lives here by default): only a directory
    // could be mistaken for a session.
    else if (entry.isDirectory() && !entry.name.startsWith('.')) foreign.push(entry.name);
  }
  if (foreign.length > 0) {
    logger.warn({ count: foreign.length, examples: foreign.slice(0, 5) }, 'CHAT_SESSIONS_DIR holds entries that are not sessions; ignored');
  }

  await forEachBounded(unfinishedDeletes, options.concurrency, async (name) => {
    await rm(path.join(root, name), { recursive: true, force: true });
    logger.info({ dir: name }, 'finished removing a deleted chat session');
  });

  const sessions: ScannedSession[] = [];
  let skipped = 0;
  await forEachBounded(sessionDirs, options.concurrency, async (sessionId) => {
    try {
      const scanned = await scanSessionDir(path.join(root, sessionId), sessionId, logger);
      if (scanned !== undefined) sessions.push(scanned);
    } catch (err) {
      skipped += 1;
      logger.error({ err, sessionId }, 'could not read a chat session directory; skipped');
    }
  });
  return { sessions, skipped };
}

/** Undefined when the directory held an unfinished creation (now removed). Throws when it is unusable. */
async function scanSessionDir(dir: string, sessionId: string, logger: Logger): Promise<ScannedSession | undefined> {
  // Both at once: start-up time is dominated by these two thread-pool round trips per session.
  const [names, text] = await Promise.all([readdir(dir), readSessionFile(path.join(dir, SESSION_FILE))]);
  for (const name of names.filter(isTempFileName)) {
    await unlink(path.join(dir, name));
    logger.info({ sessionId, file: name }, 'removed a temporary file left by an interrupted write');
  }
  if (text === undefined) {
    if (await isUnfinishedCreation(dir, names)) {
      await rm(dir, { recursive: true, force: true });
      logger.warn({ sessionId }, 'removed a chat session directory whose creation was interrupted');
      return undefined;
    }
    throw new Error('session directory has messages but no session.json');
  }
  const stored = parseSessionFile(text);
  if (stored === undefined) throw new Error('session.json is not a chat session');
  if (stored.session.sessionId.toLowerCase() !== sessionId) throw new Error('session.json names another session');
  return {
    session: { ...stored.session, sessionId },
    hasSeedMessages: stored.seedMessages !== undefined,
  };
}

/**
 * session.json's text, undefined when there is none. The callback readFile, not the one of
 * fs/promises: the latter takes several thread-pool round trips per file (open, fstat,
 * read, close) and made start-up with 10,000 sessions about twice as slow.
 */
function readSessionFile(file: string): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    readFileCallback(file, 'utf8', (err, text) => {
      if (err === null) resolve(text);
      else if (err.code === 'ENOENT') resolve(undefined);
      else reject(err);
    });
  });
}

/** createSession makes the directory and an empty messages.jsonl before session.json. */
async function isUnfinishedCreation(dir: string, names: string[]): Promise<boolean> {
  const kept = names.filter((name) => !isTempFileName(name));
  if (kept.length === 0) return true;
  if (kept.length > 1 || kept[0] !== MESSAGES_FILE) return false;
  try {
    return (await stat(path.join(dir, MESSAGES_FILE))).size === 0;
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return true;
    throw err;
  }
}
