import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type Database from 'better-sqlite3';
import { AppError } from '../../errors.js';
import type { Logger } from '../../observability/logger.js';
import { openDurableDatabase, type DurableDatabase } from './open-database.js';
import { createWriteBatcher, type WriteBatcher } from './write-batcher.js';

export interface SqliteStoreLifecycleOptions<S> {
  /** The database file; its directory is created when missing. */
  file: string;
  logger: Logger;
  cacheKiB: number;
  /** Brings the schema up to date (openDurableDatabase runs it in its opening transaction). */
  migrate: (db: Database.Database) => void;
  /** Prepares the store's statements (and reads what it needs at open); a throw fails open(). */
  prepare: (db: Database.Database) => S;
  /** Writes per transaction at most (see write-batcher.ts). */
  maxBatchWeight: number;
  onSettled?: (seconds: number) => void;
  /** What the store is called in its logs and errors: "job store" in "the job store is not open". */
  name: string;
  /** Its database in errors and logs: "job database" in "Cannot open the job database …". */
  databaseName: string;
  /** The error open() throws when called a second time. */
  openedOnce: string;
  /** Runs once the store is open. */
  onOpen?: () => void;
  /** Runs when an open store starts closing, before its writes are drained. */
  onClose?: () => void;
}

/** The open / close bookkeeping the SQLite stores share: one durable database and its write batcher. */
export interface SqliteStoreLifecycle<S> {
  open(): Promise<void>;
  /** Lets queued writes commit, then closes the database. */
  close(): Promise<void>;
  isOpen(): boolean;
  isWritable(): boolean;
  /** The statements and batcher of an open store; STORAGE_UNAVAILABLE otherwise. */
  opened(): { sql: S; batcher: WriteBatcher };
  /** The statements once prepared, whatever the state since. */
  statements(): S | undefined;
}

export function createSqliteStoreLifecycle<S>(options: SqliteStoreLifecycleOptions<S>): SqliteStoreLifecycle<S> {
  const { file, logger, name } = options;
  let state: 'new' | 'open' | 'closing' | 'closed' = 'new';
  let db: DurableDatabase | undefined;
  let sql: S | undefined;
  let batcher: WriteBatcher | undefined;
  let closing: Promise<void> | undefined;

  return {
    async open() {
      if (state !== 'new') throw new Error(options.openedOnce);
      try {
        await mkdir(path.dirname(file), { recursive: true });
        db = await openDurableDatabase(file, { cacheKiB: options.cacheKiB, migrate: options.migrate });
        sql = options.prepare(db.db);
      } catch (err) {
        state = 'closed';
        db?.close();
        const reason = err instanceof Error ? err.message : String(err);
        throw new AppError('STORAGE_UNAVAILABLE', `Cannot open the ${options.databaseName} ${file}: ${reason}`, { cause: err });
      }
      batcher = createWriteBatcher(db, {
        maxWeight: options.maxBatchWeight,
        onStorageFailure: (err, writes) => logger.error({ err, writes }, `${name} write failed; the node reports unready until a write succeeds`),
        onSettled: options.onSettled ?? (() => undefined),
      });
      state = 'open';
      options.onOpen?.();
    },

    close() {
      if (state === 'new' || state === 'closed') {
        state = 'closed';
        return closing ?? Promise.resolve();
      }
      closing ??= (async () => {
        state = 'closing';
        options.onClose?.();
        await batcher?.drain();
        try {
          db?.close();
        } catch (err) {
          logger.warn({ err }, `closing the ${options.databaseName} failed; it recovers from its WAL when opened`);
        }
        state = 'closed';
      })();
      return closing;
    },

    isOpen() {
      return state === 'open';
    },

    isWritable() {
      return state === 'open' && batcher !== undefined && batcher.writable;
    },

    opened() {
      if (state !== 'open' || sql === undefined || batcher === undefined) {
        throw new AppError('STORAGE_UNAVAILABLE', `Storage unavailable: the ${name} is not open`);
      }
      return { sql, batcher };
    },

    statements() {
      return sql;
    },
  };
}
