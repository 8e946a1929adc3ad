import type { FileHandle } from 'node:fs/promises';
import type { Logger } from '../../observability/logger.js';

/**
 * Open file handles kept for reuse, one per key, at most `max` of them idle: beyond that
 * the least recently used idle handle is closed. A handle in use is never closed under its
 * user; the pool may briefly exceed `max` when every handle is busy.
 */
export interface HandlePool {
  /** Runs `task` with the handle of `key`, opening it first when needed. */
  use<T>(key: string, task: (handle: FileHandle) => Promise<T>): Promise<T>;
  /** Forgets the handle of `key` and closes it once its current users are done. */
  discard(key: string): void;
  /** Closes every handle. Call when nothing uses the pool any more. */
  closeAll(): Promise<void>;
}

interface Slot {
  readonly handle: FileHandle;
  users: number;
  discarded: boolean;
}

export function createHandlePool(options: {
  max: number;
  open: (key: string) => Promise<FileHandle>;
  logger: Logger;
}): HandlePool {
  const { max, logger } = options;
  /** Map order is recency order: the first entry is the least recently used. */
  const slots = new Map<string, Slot>();
  const opening = new Map<string, Promise<void>>();
  const closing = new Set<Promise<void>>();

  const close = (key: string, slot: Slot) => {
    const done: Promise<void> = slot.handle
      .close()
      .catch((err: unknown) => logger.warn({ err, key }, 'closing a file handle failed'))
      .then(() => {
        closing.delete(done);
      });
    closing.add(done);
  };

  const evictIdle = () => {
    for (const [key, slot] of slots) {
      if (slots.size <= max) return;
      if (slot.users > 0) continue;
      slots.delete(key);
      close(key, slot);
    }
  };

  const openSlot = async (key: string) => {
    try {
      const handle = await options.open(key);
      slots.set(key, { handle, users: 0, discarded: false });
    } finally {
      opening.delete(key);
    }
  };

  const acquire = async (key: string): Promise<Slot> => {
    // Loops because an idle handle just opened may be evicted before this waiter resumes.
    for (;;) {
      const slot = slots.get(key);
      if (slot !== undefined) {
        slots.delete(key);
        slots.set(key, slot);
        slot.users += 1;
        evictIdle();
        return slot;
      }
      let pending = opening.get(key);
      if (pending === undefined) {
        pending = openSlot(key);
        opening.set(key, pending);
      }
      await pending;
    }
  };

  const release = (key: string, slot: Slot) => {
    slot.users -= 1;
    if (slot.discarded) {
      if (slot.users === 0) close(key, slot);
      return;
    }
    evictIdle();
  };

  return {
    async use(key, task) {
      const slot = await acquire(key);
      try {
        return await task(slot.handle);
      } finally {
        release(key, slot);
      }
    },

    discard(key) {
      const slot = slots.get(key);
      if (slot === undefined) return;
      slots.delete(key);
      slot.discarded = true;
      if (slot.users === 0) close(key, slot);
    },

    async closeAll() {
      await Promise.allSettled([...opening.values()]);
      for (const [key, slot] of slots) {
        slots.delete(key);
        slot.discarded = true;
        if (slot.users === 0) close(key, slot);
      }
      await Promise.all([...closing]);
    },
  };
}
