import fs from 'node:fs';
import { open, readdir, readFile, unlink, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../../observability/logger.js';
import { fsyncDir, writeFully } from './atomic-file.js';
import { createGroupCommitter } from './group-commit.js';
import { forEachBounded } from './run-bounded.js';
import type { WriteHealth } from './write-health.js';

/** Absent on Windows; there each journal write is followed by an fdatasync instead. */
const O_DSYNC = fs.constants.O_DSYNC as number | undefined;
/** A new generation's file starts empty (O_TRUNC), whatever an interrupted run left under its name. */
const JOURNAL_OPEN_FLAGS = fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_TRUNC | (O_DSYNC ?? 0);
/** A journal file's name; the number is its generation. */
export const JOURNAL_NAME = /^chat-journal-(\d{6,})\.log$/;
const NEWLINE = 0x0a;
/** A session id is a canonical UUID: 36 characters, then a space, then the message line. */
const ID_LENGTH = 36;

const journalName = (generation: number) => `chat-journal-${String(generation).padStart(6, '0')}.log`;

/**
 * The chat store's write-ahead journal. Every message line is first written to its
 * session's messages.jsonl without waiting for the disk (a plain write to the page cache),
 * then the lines of every session that arrived in the same turn of the event loop go to
 * the journal with ONE durable write (O_DSYNC), and only then is anything acknowledged.
 * Before, each session's batch was its own durable write on the thread pool: with many
 * active sessions that was one fsync and one thread-pool round trip per session per turn.
 *
 * The journal file is replaced (rotated) when it grows past `maxBytes`, holds lines of
 * `maxSessions` sessions, or every `checkpointMs`; the sealed file is removed once every
 * session file written under it has been fdatasync'd (a checkpoint). After a crash, what
 * the journals still hold is replayed into the session files before the store opens (see
 * `replayChatJournals`): an acknowledged message is never lost, even when the operating
 * system lost the session file's unsynced tail.
 */
export interface ChatJournal {
  /**
   * Makes `lines` durable (whole message lines of `sessionId`, newline included, already
   * written to its messages.jsonl). Resolves once they are on disk; rejects when the
   * journal write failed (it is then cut off again).
   */
  commit(sessionId: string, lines: readonly Buffer[]): Promise<void>;
  /** Checkpoints everything and removes the journal: a clean close leaves no journal file. */
  close(): Promise<void>;
}

interface Generation {
  readonly number: number;
  readonly file: string;
  readonly handle: FileHandle;
  /** Bytes of the file that hold committed lines. */
  size: number;
  /** Sessions whose messages.jsonl got lines under this generation: synced before it is removed. */
  readonly sessions: Set<string>;
}

type JournalItem = { kind: 'lines'; sessionId: string; lines: readonly Buffer[] } | { kind: 'rotate' };

/** How often, by default, the journal moves to a new file and checkpoints the old one. */
export const DEFAULT_CHECKPOINT_MS = 5000;

export async function openChatJournal(options: {
  root: string;
  /** The first generation number to use: one above any journal replayed. */
  generation: number;
  logger: Logger;
  health: WriteHealth;
  /** fdatasyncs a session's messages.jsonl; resolves without doing anything for a deleted session. */
  syncSession(sessionId: string): Promise<void>;
  maxBytes?: number;
  maxSessions?: number;
  checkpointMs?: number;
}): Promise<ChatJournal> {
  const { root, logger, health } = options;
  const maxBytes = options.maxBytes ?? 64 << 20;
  const maxSessions = options.maxSessions ?? 4096;
  const checkpointMs = options.checkpointMs ?? DEFAULT_CHECKPOINT_MS;

  const openGeneration = async (number: number): Promise<Generation> => {
    const file = path.join(root, journalName(number));
    const handle = await open(file, JOURNAL_OPEN_FLAGS, 0o644);
    try {
      await fsyncDir(root);
    } catch (err) {
      await handle.close();
      throw err;
    }
    return { number, file, handle, size: 0, sessions: new Set() };
  };

  let current = await openGeneration(options.generation);
  const sealed: Generation[] = [];
  let draining: Promise<void> | undefined;

  /** Syncs the session files of sealed generations, oldest first, and removes each. */
  const drainSealed = (): Promise<void> =>
    (draining ??= (async () => {
      try {
        while (sealed.length > 0) {
          const generation = sealed[0] as Generation;
          await forEachBounded([...generation.sessions], 16, options.syncSession);
          await generation.handle.close();
          await unlink(generation.file);
          await fsyncDir(root);
          sealed.shift();
        }
      } catch (err) {
        // The sealed journal stays and is checkpointed again later (or replayed at start).
        health.failed(err, { operation: 'chat journal checkpoint' });
        throw err;
      } finally {
        draining = undefined;
      }
    })());

  const rotate = async () => {
    if (current.size === 0) return;
    const next = await openGeneration(current.number + 1);
    sealed.push(current);
    current = next;
    drainSealed().catch(() => {
      // Logged as a write failure above; retried by the next checkpoint.
    });
  };

  const commitItems = async (items: JournalItem[]): Promise<void[]> => {
    const chunks: Buffer[] = [];
    const sessions: string[] = [];
    let rotateAsked = false;
    for (const item of items) {
      if (item.kind === 'rotate') {
        rotateAsked = true;
        continue;
      }
      const prefix = Buffer.from(`${item.sessionId} `, 'latin1');
      for (const line of item.lines) chunks.push(prefix, line);
      sessions.push(item.sessionId);
    }
    const generation = current;
    if (chunks.length > 0) {
      const data = Buffer.concat(chunks);
      const start = generation.size;
      try {
        await writeFully(generation.handle, data, start);
        if (O_DSYNC === undefined) await generation.handle.datasync();
      } catch (err) {
        // Cut the partial bytes off, so the file ends with a whole line; if that fails
        // too, the torn tail is skipped at replay (its messages were never acknowledged).
        await generation.handle.truncate(start).catch((truncateErr: unknown) => {
          logger.error({ err: truncateErr, file: generation.file }, 'could not cut a failed write off the chat journal');
        });
        throw err;
      }
      generation.size = start + data.length;
      for (const sessionId of sessions) generation.sessions.add(sessionId);
    }
    if (rotateAsked || generation.size >= maxBytes || generation.sessions.size >= maxSessions) {
      // A failed rotation leaves the current file in use: nothing is lost, it only grows.
      await rotate().catch((err: unknown) => logger.error({ err }, 'could not start a new chat journal file'));
    }
    return items.map(() => undefined);
  };

  // Rotation runs inside the committer, between two writes: a sealed file never has a write in flight.
  // The first write of a burst waits for the end of this turn of the event loop, so that
  // every message read from the sockets in this turn shares it.
  const committer = createGroupCommitter(commitItems, { gather: () => new Promise((resolve) => setImmediate(resolve)) });
  const askRotation = () => committer.submit({ kind: 'rotate' });
  /** Seals the current file and checkpoints every sealed one. */
  const checkpoint = async () => {
    await askRotation();
    await drainSealed();
  };
  const timer = setInterval(() => {
    if (current.size > 0 || sealed.length > 0) {
      checkpoint().catch(() => {
        // Reported by drainSealed; the next tick tries again.
      });
    }
  }, checkpointMs);
  timer.unref();

  return {
    commit(sessionId, lines) {
      return committer.submit({ kind: 'lines', sessionId, lines });
    },

    async close() {
      clearInterval(timer);
      await askRotation();
      try {
        await drainSealed();
      } catch (err) {
        // What is left is replayed at the next start.
        logger.warn({ err }, 'chat journal kept at close: a session file could not be synced');
        for (const generation of sealed) await generation.handle.close().catch(() => undefined);
      }
      await current.handle.close();
      if (current.size === 0) {
        await unlink(current.file);
        await fsyncDir(root);
      }
    },
  };
}

/**
 * Reads the journal files a crash left in `root`, oldest first, and hands each session's
 * lines (in journal order) to `replaySession`, which appends those its messages.jsonl
 * lacks. Then removes the files, and resolves with the generation the next journal starts
 * at. A line that does not parse (a torn tail) is skipped: its write never completed, so
 * nothing in it was acknowledged.
 */
export async function replayChatJournals(
  root: string,
  options: { logger: Logger; replaySession(sessionId: string, lines: string[]): Promise<number> },
): Promise<number> {
  const found = (await readdir(root))
    .map((name) => ({ name, match: JOURNAL_NAME.exec(name) }))
    .filter((entry): entry is { name: string; match: RegExpExecArray } => entry.match !== null)
    .map(({ name, match }) => ({ name, generation: Number(match[1]) }))
    .sort((a, b) => a.generation - b.generation);
  if (found.length === 0) return 1;

  const bySession = new Map<string, string[]>();
  let lines = 0;
  for (const { name } of found) {
    const data = await readFile(path.join(root, name));
    let start = 0;
    for (let newline = data.indexOf(NEWLINE); newline !== -1; newline = data.indexOf(NEWLINE, start)) {
      const line = data.subarray(start, newline).toString('utf8');
      start = newline + 1;
      if (line.length <= ID_LENGTH + 1 || line.charCodeAt(ID_LENGTH) !== 0x20) continue;
      const sessionId = line.slice(0, ID_LENGTH);
      const list = bySession.get(sessionId);
      if (list === undefined) bySession.set(sessionId, [line.slice(ID_LENGTH + 1)]);
      else list.push(line.slice(ID_LENGTH + 1));
      lines += 1;
    }
  }
  let restored = 0;
  for (const [sessionId, sessionLines] of bySession) restored += await options.replaySession(sessionId, sessionLines);
  for (const { name } of found) await unlink(path.join(root, name));
  await fsyncDir(root);
  options.logger.info(
    { files: found.length, lines, restored, sessions: bySession.size },
    restored > 0 ? 'chat journal replayed: restored messages the session files had lost' : 'chat journal replayed: nothing was missing',
  );
  return (found.at(-1)?.generation ?? 0) + 1;
}
