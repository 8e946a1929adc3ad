import { open, type FileHandle } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import type Database from 'better-sqlite3';
import { AppError } from '../../errors.js';
import { isStorageFailure, toStoreError } from './sqlite-errors.js';

/**
 * Group commit for a better-sqlite3 connection: every write queued in the same turn of the
 * event loop runs in ONE transaction, and each write's promise settles only once that
 * transaction is durable. Each write runs inside its own savepoint, so a write that throws
 * (a bug, or a caller's `answer` that cannot be stored) is undone alone; a storage failure
 * fails the whole transaction and every write in it.
 *
 * Durable means the WAL was fsync'd after the commit, as SQLite's synchronous=FULL does,
 * but here the fsync runs on libuv's thread pool (`fdatasync` of the `-wal` file) instead
 * of blocking the event loop inside COMMIT: the connection runs at synchronous=NORMAL (see
 * open-database.ts), which keeps SQLite's own syncs around checkpoints and WAL resets, and
 * the batcher adds the one NORMAL leaves out. Writes asked while a sync is in flight wait
 * for it and form the next transaction and sync. A committed change is visible to reads before its sync
 * completes; it is acknowledged only after. At 1,700 single-user pushes a second the
 * blocking fsync was a fifth of the event loop's time (bench/RESULTS.md, issue 11).
 *
 * better-sqlite3 is synchronous, so a transaction blocks the event loop while it runs: a
 * batch takes writes until their weight (notifications written) reaches `maxWeight`, and
 * the rest wait for the next turn. A single write heavier than that still gets a
 * transaction of its own, because one call must be one atomic write.
 */
export interface WriteBatcher {
  /** Runs `run` in the next transaction; resolves with its value once committed. */
  write<T>(action: string, run: () => T, weight?: number): Promise<T>;
  /** Resolves once every write queued so far has committed or failed. */
  drain(): Promise<void>;
  /** False after a transaction (or its sync) failed on storage, until one that changed something is durable. */
  readonly writable: boolean;
}

export interface WriteBatcherOptions {
  maxWeight: number;
  onStorageFailure(err: unknown, writes: number): void;
  onSettled(seconds: number): void;
}

interface QueuedWrite {
  action: string;
  weight: number;
  enqueuedAt: number;
  run(): unknown;
  resolve(value: unknown): void;
  reject(err: unknown): void;
}

export function createWriteBatcher(db: Database.Database, options: WriteBatcherOptions): WriteBatcher {
  const begin = db.prepare('BEGIN IMMEDIATE');
  const commit = db.prepare('COMMIT');
  const rollback = db.prepare('ROLLBACK');
  const savepoint = db.prepare('SAVEPOINT one_write');
  const release = db.prepare('RELEASE one_write');
  const rollbackTo = db.prepare('ROLLBACK TO one_write');
  const totalChanges = db.prepare('SELECT total_changes() AS n').pluck();

  const queue: QueuedWrite[] = [];
  let scheduled = false;
  let writable = true;
  let drainWaiters: (() => void)[] = [];
  /** Committed writes, with their values, waiting for the WAL sync that makes them durable. */
  let unsynced: { write: QueuedWrite; value: unknown }[] = [];
  /** Whether a transaction among `unsynced` changed anything (its sync then makes the store writable again). */
  let unsyncedChanges = false;
  let syncing = false;
  const wal = walSyncer(`${db.name}-wal`);

  // While a sync is in flight no transaction starts: what arrives meanwhile waits and
  // becomes the next group, committed and synced together once the sync is done (one
  // fsync per group, as when the fsync blocked the event loop, but without blocking it).
  const schedule = () => {
    if (scheduled || syncing) return;
    scheduled = true;
    setImmediate(flush);
  };

  const settle = (write: QueuedWrite, outcome: { value: unknown } | { err: unknown }) => {
    options.onSettled((performance.now() - write.enqueuedAt) / 1000);
    if ('err' in outcome) write.reject(outcome.err);
    else write.resolve(outcome.value);
  };

  function takeBatch(): QueuedWrite[] {
    let weight = 0;
    let count = 0;
    for (const write of queue) {
      if (count > 0 && weight + write.weight > options.maxWeight) break;
      weight += write.weight;
      count += 1;
    }
    return queue.splice(0, count);
  }

  /** Rolls back whatever is left of a failed transaction; a rollback that fails too changes nothing more. */
  function abandon(): void {
    if (!db.inTransaction) return;
    try {
      rollback.run();
    } catch {
      // SQLite has then rolled the transaction back itself, or will when the connection closes.
    }
  }

  function runBatch(batch: readonly QueuedWrite[]): void {
    const done: { write: QueuedWrite; value: unknown }[] = [];
    const undoneAlone = new Set<QueuedWrite>();
    try {
      const before = totalChanges.get() as number;
      begin.run();
      for (const write of batch) {
        savepoint.run();
        try {
          done.push({ write, value: write.run() });
          release.run();
        } catch (err) {
          // A storage failure, or one that ended the transaction, takes every write with it.
          if (isStorageFailure(err) || !db.inTransaction) throw err;
          rollbackTo.run();
          release.run();
          undoneAlone.add(write);
          settle(write, { err: toStoreError(write.action, err) });
        }
      }
      commit.run();
      if ((totalChanges.get() as number) > before) unsyncedChanges = true;
    } catch (err) {
      abandon();
      if (isStorageFailure(err)) {
        writable = false;
        options.onStorageFailure(err, batch.length);
      }
      for (const write of batch) if (!undoneAlone.has(write)) settle(write, { err: toStoreError(write.action, err) });
      return;
    }
    unsynced.push(...done);
    syncCommitted();
  }

  /** Syncs the WAL once for every write committed so far, then settles them; one sync at a time. */
  function syncCommitted(): void {
    if (syncing || unsynced.length === 0) return;
    syncing = true;
    const committed = unsynced;
    const changed = unsyncedChanges;
    unsynced = [];
    unsyncedChanges = false;
    wal.sync().then(
      () => {
        if (changed) writable = true;
        for (const { write, value } of committed) settle(write, { value });
      },
      (err: unknown) => {
        // Committed but perhaps not on disk: refused, never acknowledged.
        writable = false;
        options.onStorageFailure(err, committed.length);
        for (const { write } of committed) {
          settle(write, { err: new AppError('STORAGE_UNAVAILABLE', `Storage unavailable: could not ${write.action} (fsync of the write-ahead log failed)`, { cause: err }) });
        }
      },
    ).finally(() => {
      syncing = false;
      if (queue.length > 0) schedule();
      settleDrain();
    });
  }

  function settleDrain(): void {
    if (queue.length > 0 || scheduled || syncing || unsynced.length > 0) return;
    const waiters = drainWaiters;
    drainWaiters = [];
    for (const resolve of waiters) resolve();
  }

  function flush(): void {
    scheduled = false;
    runBatch(takeBatch());
    // What did not fit waits a turn, so I/O and timers run between two transactions.
    if (queue.length > 0) {
      schedule();
      return;
    }
    settleDrain();
  }

  return {
    write<T>(action: string, run: () => T, weight = 1): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        queue.push({ action, weight, enqueuedAt: performance.now(), run, resolve: resolve as (value: unknown) => void, reject });
        schedule();
      });
    },
    async drain() {
      if (queue.length > 0 || scheduled || syncing || unsynced.length > 0) await new Promise<void>((resolve) => drainWaiters.push(resolve));
      await wal.close();
    },
    get writable() {
      return writable;
    },
  };
}

/**
 * fdatasync of a WAL file through a handle kept open: SQLite keeps one WAL file for as
 * long as a connection is open (it truncates and rewrites it, never deletes or replaces
 * it; only the last connection's close removes it, after a checkpoint).
 */
function walSyncer(file: string): { sync(): Promise<void>; close(): Promise<void> } {
  let handle: FileHandle | undefined;
  return {
    async sync() {
      handle ??= await open(file, 'r');
      await handle.datasync();
    },
    async close() {
      const closing = handle;
      handle = undefined;
      await closing?.close();
    },
  };
}

