import type { MessageLogIndex } from './message-log.js';

/**
 * The message-log indexes held in memory, capped by the messages they cover
 * (CHAT_INDEX_MAX_MESSAGES): beyond the cap, the least recently used idle sessions forget
 * theirs and read messages.jsonl again on next use. An index is built once however many
 * callers ask for it while it is being read.
 */
export interface IndexCache {
  /** The session's index: from memory (it becomes the most recently used), else built by `load`. */
  use(sessionId: string, load: () => Promise<MessageLogIndex>): Promise<MessageLogIndex>;
  /** Keeps `index` as the session's (a new session's empty one). */
  remember(sessionId: string, index: MessageLogIndex): void;
  /**
   * Drops the session's index; it is built again on next use. An index being built at the
   * time is handed to its waiters but not kept.
   */
  forget(sessionId: string): void;
  /** Counts `added` messages appended to `index`, if it is still the session's, and evicts beyond the cap. */
  grew(sessionId: string, index: MessageLogIndex, added: number): void;
  /** Resolves once no index of the session is being built. */
  settled(sessionId: string): Promise<void>;
  stats(): { sessions: number; messages: number };
}

export function createIndexCache(options: {
  maxMessages: number;
  /**
   * True while the session must keep its index in memory: with appends queued or running,
   * a reload would read (and could cut as torn) a line that is being written.
   */
  isPinned(sessionId: string): boolean;
}): IndexCache {
  const { maxMessages, isPinned } = options;
  /** Map order is recency order: the first entry is the least recently used. */
  const indexed = new Map<string, MessageLogIndex>();
  const loading = new Map<string, { promise: Promise<MessageLogIndex>; forgotten: boolean }>();
  let messages = 0;

  const drop = (sessionId: string, index: MessageLogIndex) => {
    messages -= index.seqs.length;
    indexed.delete(sessionId);
  };

  const evict = () => {
    if (messages <= maxMessages) return;
    for (const [sessionId, index] of indexed) {
      if (messages <= maxMessages) break;
      if (!isPinned(sessionId) && !loading.has(sessionId)) drop(sessionId, index);
    }
  };

  const remember = (sessionId: string, index: MessageLogIndex) => {
    indexed.set(sessionId, index);
    messages += index.seqs.length;
    evict();
  };

  return {
    use(sessionId, load) {
      const index = indexed.get(sessionId);
      if (index !== undefined) {
        indexed.delete(sessionId);
        indexed.set(sessionId, index);
        return Promise.resolve(index);
      }
      const pending = loading.get(sessionId);
      if (pending !== undefined) return pending.promise;
      const started = { promise: undefined as unknown as Promise<MessageLogIndex>, forgotten: false };
      started.promise = load().then(
        (loaded) => {
          loading.delete(sessionId);
          if (!started.forgotten) remember(sessionId, loaded);
          return loaded;
        },
        (err: unknown) => {
          loading.delete(sessionId);
          throw err;
        },
      );
      loading.set(sessionId, started);
      return started.promise;
    },

    remember,

    forget(sessionId) {
      const pending = loading.get(sessionId);
      if (pending !== undefined) pending.forgotten = true;
      const index = indexed.get(sessionId);
      if (index !== undefined) drop(sessionId, index);
    },

    grew(sessionId, index, added) {
      if (indexed.get(sessionId) !== index) return;
      messages += added;
      evict();
    },

    settled(sessionId) {
      return (
        loading.get(sessionId)?.promise.then(
          () => undefined,
          () => undefined,
        ) ?? Promise.resolve()
      );
    },

    stats() {
      return { sessions: indexed.size, messages };
    },
  };
}
