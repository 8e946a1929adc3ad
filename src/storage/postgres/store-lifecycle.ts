import { AppError } from '../../errors.js';
import type { PostgresDatabase } from './postgres-database.js';

export interface StoreLifecycleOptions {
  database: PostgresDatabase;
  /** What the store is called in its errors: "chat store" in "Cannot open the chat store in PostgreSQL at …". */
  name: string;
  /** The error open() throws when called a second time. */
  openedOnce: string;
  /** The STORAGE_UNAVAILABLE message of an operation on a store that is not open. */
  notOpen: string;
  /** Runs once the store is open (after its migrations). */
  onOpen?: () => void;
  /** Runs when an open store starts closing; close() also waits for what it returns. */
  onClose?: () => Promise<unknown> | undefined;
}

/** The open / close / in-flight bookkeeping every PostgreSQL store shares. */
export interface StoreLifecycle {
  /** Runs the database's migrations; the store can be opened once. */
  open(): Promise<void>;
  /** Refuses new operations, then waits for those in flight (and `onClose`'s). */
  close(): Promise<void>;
  isOpen(): boolean;
  isWritable(): boolean;
  /** Runs a public operation: refused unless open, and awaited by close(). */
  operate<T>(task: () => Promise<T>): Promise<T>;
}

export function createStoreLifecycle(options: StoreLifecycleOptions): StoreLifecycle {
  const { database: db } = options;
  const inflight = new Set<Promise<unknown>>();
  let state: 'new' | 'opening' | 'open' | 'closing' | 'closed' = 'new';
  let closing: Promise<void> | undefined;

  return {
    async open() {
      if (state !== 'new') throw new Error(options.openedOnce);
      state = 'opening';
      try {
        await db.migrate();
      } catch (err) {
        state = 'closed';
        const reason = err instanceof Error ? err.message : String(err);
        throw new AppError('STORAGE_UNAVAILABLE', `Cannot open the ${options.name} in PostgreSQL at ${db.target}: ${reason}`, { cause: err });
      }
      state = 'open';
      options.onOpen?.();
    },

    close() {
      closing ??= (async () => {
        if (state === 'open') {
          state = 'closing';
          await Promise.allSettled([...inflight, options.onClose?.()]);
        }
        state = 'closed';
      })();
      return closing;
    },

    isOpen() {
      return state === 'open';
    },

    isWritable() {
      return state === 'open' && db.isWritable();
    },

    operate(task) {
      if (state !== 'open') return Promise.reject(new AppError('STORAGE_UNAVAILABLE', options.notOpen));
      const running = task();
      inflight.add(running);
      const forget = () => {
        inflight.delete(running);
      };
      running.then(forget, forget);
      return running;
    },
  };
}
