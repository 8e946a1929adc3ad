import { performance } from 'node:perf_hooks';
import type Database from 'better-sqlite3';
import type { DurableDatabase } from './open-database.js';
import { isStorageFailure, toStoreError } from './sqlite-errors.js';

/**
 * Group commit for a better-sqlite3 connection: writes queued together run in ONE
 * transaction, and each write's promise settles only once that transaction is durable.
 * In a batch of several, each write runs inside its own savepoint, so a write that throws
 * (a bug, or a caller's `answer` that cannot be stored) is undone alone; a storage failure
 * fails the whole transaction and every write in it.
 *
 * Durable, off the event loop: COMMIT only writes the WAL (synchronous=NORMAL, see
 * open-database.ts); an fdatasync of the WAL on the thread pool then covers every
 * transaction committed before it started. While it runs, the event loop keeps reading
 * requests and committing the next batches, each with an fdatasync of its own (up to
 * SYNCS_IN_FLIGHT at once; beyond that, the next one covers all that waited). Before,
 * the fsync ran inside COMMIT and held the event loop (0.5-1.2 ms here), so each batch's
 * requests, and every other request, waited for the disk.
 *
 * Gathering: a batch waits while writes keep arriving: it is taken at the first turn of
 * the event loop that added nothing to the queue, after at most GATHER_TURNS turns.
 * Requests that arrive in the same burst but in different reads of the sockets then share
 * one transaction, which writes each page they share to the WAL once; a lone write waits
 * one idle turn.
 *
 * better-sqlite3 is synchronous, so a transaction blocks the event loop while it runs: a
 * batch takes writes until their weight (notifications written) reaches `maxWeight`, and
 * the rest wait for the next turn. A single write heavier than that still gets a
 * transaction of its own, because one call must be one atomic write.
 *
 * A failed fdatasync rejects every write committed before it was seen (the kernel may
 * have dropped their pages) with the storage error, as a failed COMMIT does; their rows
 * stay in the database, as a COMMIT whose own fsync failed could leave them.
 */
/**
 * fdatasyncs of the WAL running at once, at most. One at a time, a transaction committed
 * just after one started waited for its end and then for a whole one of its own; with a
 * few, each waits for about one (the inbox benchmark's persisted pushes: 0.69 and 0.61 of
 * plain pushes with 4, 0.66 and 0.55 with 1, alternating in one sitting). `npm start`
 * gives Node 16 I/O threads, so the chat store's file work still finds free ones.
 */
const SYNCS_IN_FLIGHT = 4;

/** Turns of the event loop a batch waits, at most, for more writes (see Gathering above). */
const GATHER_TURNS = 3;

export interface WriteBatcher {
  /** Runs `run` in the next transaction; resolves with its value once that is durable. */
  write<T>(action: string, run: () => T, weight?: number): Promise<T>;
  /** Resolves once every write queued so far is durable or failed. */
  drain(): Promise<void>;
  /** False after a transaction failed on storage, until one that changed something is durable. */
  readonly writable: boolean;
}

export interface WriteBatcherOptions {
  maxWeight: number;
  onStorageFailure(err: unknown, writes: number): void;
  onSettled(seconds: number): void;
}

/** The writes of one committed transaction, waiting for the fdatasync that makes them durable. */
interface Committed {
  done: { write: QueuedWrite; value: unknown }[];
  /** Whether the transaction changed anything (a write that succeeds says the storage works again). */
  changed: boolean;
  /** Its place in commit order. */
  number: number;
}

interface QueuedWrite {
  action: string;
  weight: number;
  enqueuedAt: number;
  run(): unknown;
  resolve(value: unknown): void;
  reject(err: unknown): void;
}

export function createWriteBatcher(database: Pick<DurableDatabase, 'db' | 'sync'>, options: WriteBatcherOptions): WriteBatcher {
  const db: Database.Database = database.db;
  const begin = db.prepare('BEGIN IMMEDIATE');
  const commit = db.prepare('COMMIT');
  const rollback = db.prepare('ROLLBACK');
  const savepoint = db.prepare('SAVEPOINT one_write');
  const release = db.prepare('RELEASE one_write');
  const rollbackTo = db.prepare('ROLLBACK TO one_write');
  const totalChanges = db.prepare('SELECT total_changes() AS n').pluck();

  const queue: QueuedWrite[] = [];
  let scheduled = false;
  /** The queue's length when the batch last waited, and how many turns it has waited. */
  let gathered = 0;
  let waitedTurns = 0;
  let writable = true;
  let drainWaiters: (() => void)[] = [];
  /** Transactions committed since the last fdatasync started; the next one covers them. */
  let unsynced: Committed[] = [];
  let syncsInFlight = 0;
  /** Settles each fdatasync's writes after those of the ones started before it. */
  let settledInOrder: Promise<void> = Promise.resolve();
  /** Transactions committed so far; each gets the count before it as its number. */
  let commits = 0;
  /** The last failed fdatasync: transactions numbered below `before` were committed before it was seen, and fail with `err`. */
  let syncFailure: { before: number; err: unknown } | undefined;
  /** Transactions numbered from this on were committed after the last storage failure: one that changed something makes the store writable again. */
  let writableFrom = 0;

  const schedule = () => {
    if (scheduled) return;
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
    const runInSavepoint = (write: QueuedWrite) => {
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
    };
    try {
      const before = totalChanges.get() as number;
      begin.run();
      // Alone in its transaction, a write needs no savepoint: if it throws, the rollback undoes it alone.
      if (batch.length === 1) done.push({ write: batch[0]!, value: batch[0]!.run() });
      else for (const write of batch) runInSavepoint(write);
      commit.run();
      unsynced.push({ done, changed: (totalChanges.get() as number) > before, number: commits++ });
    } catch (err) {
      abandon();
      if (isStorageFailure(err)) {
        writable = false;
        writableFrom = commits;
        options.onStorageFailure(err, batch.length);
      }
      for (const write of batch) if (!undoneAlone.has(write)) settle(write, { err: toStoreError(write.action, err) });
      return;
    }
    startSync();
  }

  /**
   * Starts an fdatasync for the transactions committed since the last one started, unless
   * SYNCS_IN_FLIGHT already run (the next to end starts it). Their writes settle in commit
   * order, each batch once its own fdatasync and every earlier batch's have ended.
   */
  function startSync(): void {
    if (syncsInFlight >= SYNCS_IN_FLIGHT || unsynced.length === 0) return;
    syncsInFlight += 1;
    const covered = unsynced;
    unsynced = [];
    const synced = database.sync().then(
      () => undefined,
      (err: unknown) => ({ err }),
    );
    settledInOrder = settledInOrder.then(async () => {
      const failure = await synced;
      syncsInFlight -= 1;
      if (failure !== undefined) {
        // Every transaction committed before the failure was seen may have lost pages with
        // it: those still waiting for a sync fail now, those in a later sync when it ends.
        syncFailure = { before: commits, err: failure.err };
        writableFrom = commits;
        covered.push(...unsynced);
        unsynced = [];
        writable = false;
        options.onStorageFailure(failure.err, covered.reduce((n, { done }) => n + done.length, 0));
      }
      for (const transaction of covered) {
        const failed = syncFailure !== undefined && transaction.number < syncFailure.before ? syncFailure : undefined;
        // Not one committed before a newer failure: its sync may end after that failure.
        if (failed === undefined && transaction.changed && transaction.number >= writableFrom) writable = true;
        for (const { write, value } of transaction.done) settle(write, failed ? { err: toStoreError(write.action, failed.err) } : { value });
      }
      startSync();
      settleDrain();
    });
  }

  /** Nothing queued, being gathered, or committed and not yet durable. */
  const idle = () => queue.length === 0 && !scheduled && syncsInFlight === 0 && unsynced.length === 0;

  function settleDrain(): void {
    if (!idle()) return;
    const waiters = drainWaiters;
    drainWaiters = [];
    for (const resolve of waiters) resolve();
  }

  function flush(): void {
    scheduled = false;
    if (queue.length > gathered && waitedTurns < GATHER_TURNS) {
      gathered = queue.length;
      waitedTurns += 1;
      schedule();
      return;
    }
    gathered = 0;
    waitedTurns = 0;
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
    drain() {
      if (idle()) return Promise.resolve();
      return new Promise<void>((resolve) => drainWaiters.push(resolve));
    },
    get writable() {
      return writable;
    },
  };
}
