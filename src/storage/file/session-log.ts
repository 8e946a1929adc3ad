import type { FileHandle } from 'node:fs/promises';
import { v4 as uuidv4 } from 'uuid';
import type { ChatMessage, MessagePage, NewChatMessage } from '../../domain/chat-store.js';
import { AppError } from '../../errors.js';
import type { Logger } from '../../observability/logger.js';
import { errnoCode, storageUnavailable } from './fs-errors.js';
import { createGroupCommitter } from './group-commit.js';
import type { HandlePool } from './handle-pool.js';
import type { IndexCache } from './index-cache.js';
import { appendToMessageLog, lastSeqOf, loadMessageLog, MessageLogWriteError, readMessageLog, type MessageLogIndex } from './message-log.js';
import { sessionNotFound } from './session-registry.js';
import type { WriteHealth } from './write-health.js';

/**
 * One session's messages.jsonl, as the store uses it: appends go through a group commit
 * (whatever waits is written with one write and made durable by one journal commit, and
 * each append resolves only after it; a failed write is cut off again so the file always
 * ends with a whole line), reads
 * and retries are answered through the session's index.
 */
export interface SessionLog {
  /** The session's index, read from messages.jsonl (and a torn tail repaired) on first use. */
  index(): Promise<MessageLogIndex>;
  /** Stores a message with the next seq, or answers a retried clientMessageId with the first message. */
  append(input: NewChatMessage): Promise<{ message: ChatMessage; duplicate: boolean }>;
  read(page: { after: number; limit: number }): Promise<MessagePage>;
  /** True while appends are queued or being written. */
  readonly busy: boolean;
  /** Resolves once no append is queued or being written. */
  idle(): Promise<void>;
}

/** What the group commit hands back per append; duplicates of older messages are read after it. */
type AppendOutcome = { message: ChatMessage; duplicate: boolean } | { duplicateOfSeq: number };

export function createSessionLog(options: {
  sessionId: string;
  handles: HandlePool;
  indexes: IndexCache;
  health: WriteHealth;
  logger: Logger;
  now: () => Date;
  /** Most messages one durable write carries. */
  maxBatch: number;
  /** Makes lines already written to messages.jsonl durable (the chat journal). */
  makeDurable(lines: Buffer[]): Promise<void>;
  isDeleted(): boolean;
  /** Runs once the index has been read, before anyone uses it (the seed-format upgrade). */
  afterLoad(handle: FileHandle, index: MessageLogIndex): Promise<void>;
}): SessionLog {
  const { sessionId: id, handles, indexes, health, logger, now } = options;

  /** Errors of the file system become STORAGE_UNAVAILABLE; anything else is a bug and stays as is. */
  const asStorageError = (err: unknown, action: string): unknown => {
    const cause = err instanceof MessageLogWriteError ? err.cause : err;
    return err instanceof AppError || errnoCode(cause) === undefined ? err : storageUnavailable(action, cause);
  };

  /** A read that failed because its session was deleted meanwhile is NOT_FOUND, not a storage failure. */
  const readFailure = (err: unknown): unknown => (options.isDeleted() ? sessionNotFound() : asStorageError(err, 'read the chat session'));

  const index = (): Promise<MessageLogIndex> =>
    indexes.use(id, () =>
      handles
        .use(id, async (handle) => {
          const loaded = await loadMessageLog(handle, { logger, sessionId: id });
          await options.afterLoad(handle, loaded);
          return loaded;
        })
        .catch((err: unknown) => {
          throw readFailure(err);
        }),
    );

  const readOne = async (seq: number): Promise<ChatMessage> => {
    const loaded = await index();
    const page = await handles.use(id, (handle) => readMessageLog(handle, loaded, seq - 1, 1));
    const message = page.messages[0];
    if (message?.seq !== seq) throw new Error(`message ${seq} of session ${id} is missing from messages.jsonl`);
    return message;
  };

  const readStored = async (seq: number): Promise<ChatMessage> => {
    try {
      return await readOne(seq);
    } catch (err) {
      throw readFailure(err);
    }
  };

  const commitAppends = async (inputs: NewChatMessage[]): Promise<AppendOutcome[]> => {
    if (options.isDeleted()) throw sessionNotFound();
    const loaded = await index();
    const timestamp = now().toISOString();
    const outcomes: AppendOutcome[] = [];
    const fresh: ChatMessage[] = [];
    const freshByClientId = new Map<string, ChatMessage>();
    let seq = lastSeqOf(loaded);
    for (const input of inputs) {
      const { clientMessageId } = input;
      if (clientMessageId !== undefined) {
        const sameBatch = freshByClientId.get(clientMessageId);
        if (sameBatch !== undefined) {
          outcomes.push({ message: sameBatch, duplicate: true });
          continue;
        }
        const storedSeq = loaded.clientIds.get(clientMessageId);
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
      await handles.use(id, (handle) => appendToMessageLog(handle, loaded, fresh, options.makeDurable));
    } catch (err) {
      const cause = err instanceof MessageLogWriteError ? err.cause : err;
      health.failed(cause, { sessionId: id, messages: fresh.length });
      if (!(err instanceof MessageLogWriteError) || err.truncateError !== undefined) {
        // The file may now end with lines the index does not know: read it again (and
        // repair it) before the next append, through a fresh handle.
        if (err instanceof MessageLogWriteError) logger.error({ err: err.truncateError, sessionId: id }, 'could not cut a failed append off messages.jsonl');
        indexes.forget(id);
        handles.discard(id);
      }
      throw storageUnavailable('store the message', cause);
    }
    health.written();
    indexes.grew(id, loaded, fresh.length);
    return outcomes;
  };

  const appends = createGroupCommitter(commitAppends, { maxBatch: options.maxBatch });

  return {
    index,

    async append(input) {
      const { clientMessageId } = input;
      if (clientMessageId !== undefined) {
        // A retry of a stored message is answered without joining the write queue.
        const seq = (await index()).clientIds.get(clientMessageId);
        if (seq !== undefined) return { message: await readStored(seq), duplicate: true };
      }
      const outcome = await appends.submit(input);
      if ('duplicateOfSeq' in outcome) return { message: await readStored(outcome.duplicateOfSeq), duplicate: true };
      // A copy: the index keeps the last message, and a batch may hand one message to several retries.
      return { message: { ...outcome.message }, duplicate: outcome.duplicate };
    },

    async read(page) {
      const loaded = await index();
      try {
        return await handles.use(id, (handle) => readMessageLog(handle, loaded, page.after, page.limit));
      } catch (err) {
        throw readFailure(err);
      }
    },

    get busy() {
      return appends.busy;
    },

    idle() {
      return appends.idle();
    },
  };
}
