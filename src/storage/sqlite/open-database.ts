import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { fsyncDir } from '../file/atomic-file.js';

/**
 * How long a statement waits for another connection's lock before failing with
 * SQLITE_BUSY. better-sqlite3 waits synchronously, blocking the event loop, so it is short:
 * only an outside tool (a backup, the sqlite3 shell) ever holds the lock.
 */
const BUSY_TIMEOUT_MS = 250;
/** A checkpointed WAL is truncated to this, so one burst does not leave a large file behind. */
const WAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024;
/**
 * Pages the WAL grows to before a commit copies them into the database (SQLite's default
 * is 1,000). An inbox push to 1,000 users dirties about one index page per user, so at
 * the default nearly every such commit also ran a checkpoint, writing and syncing those
 * pages a second time; at 16,384 pages (64 MiB) a hot page is copied once per many
 * commits. 1,000-row appends to 1,000 inboxes of 100-200 rows each (4 KiB pages):
 * commit 63 ms at the default, 24 ms at 16,384.
 */
const WAL_CHECKPOINT_PAGES = 16_384;

/** A database connection whose commits are made durable by `sync`, off the event loop. */
export interface DurableDatabase {
  readonly db: Database.Database;
  /**
   * Makes every transaction committed so far durable: one fdatasync of the WAL, run on
   * libuv's thread pool, so the event loop goes on meanwhile.
   */
  sync(): Promise<void>;
  /** Closes the connection (SQLite checkpoints and removes the WAL), then the WAL's descriptor. */
  close(): void;
}

/**
 * Opens a database file the way every embedded store here keeps one: WAL, a capped page
 * cache, no memory-mapped I/O, and the schema brought forward by `migrate`.
 *
 * Durability: synchronous=NORMAL, so a COMMIT writes its pages to the WAL (the page
 * cache) without waiting for the disk, and `sync()` then makes them durable with one
 * fdatasync of the WAL on the thread pool. A SIGKILL at any moment leaves a database that
 * opens with every committed transaction (the page cache outlives the process); a power
 * loss keeps every transaction committed before a `sync()` that resolved. The WAL is
 * never replaced while the connection is open (SQLite removes it only when the last
 * connection closes), so one descriptor opened here serves every sync; before a
 * checkpoint copies WAL pages into the database SQLite syncs the WAL itself, and syncs
 * the database after. Before (synchronous=FULL) the fsync ran inside COMMIT and blocked
 * the event loop for 0.5-1.2 ms here, a third of an inbox push's time.
 *
 * The connection is closed again when any of that fails.
 */
export async function openDurableDatabase(file: string, options: { cacheKiB: number; migrate: (db: Database.Database) => void }): Promise<DurableDatabase> {
  const opening = new Database(file, { timeout: BUSY_TIMEOUT_MS });
  let walFd: number | undefined;
  try {
    const mode = opening.pragma('journal_mode = WAL', { simple: true });
    if (mode !== 'wal') throw new Error(`SQLite refused write-ahead logging (journal_mode is ${String(mode)})`);
    opening.pragma('synchronous = NORMAL');
    opening.pragma(`cache_size = -${options.cacheKiB}`);
    opening.pragma('mmap_size = 0');
    opening.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT_BYTES}`);
    opening.pragma(`wal_autocheckpoint = ${WAL_CHECKPOINT_PAGES}`);
    options.migrate(opening);
    // A read opens the WAL (creating it when missing); from then on it stays while the connection does.
    opening.prepare('SELECT count(*) FROM sqlite_master').pluck().get();
    const wal = `${file}-wal`;
    walFd = fs.openSync(wal, 'r+');
    const [ours, named] = [fs.fstatSync(walFd), fs.statSync(wal)];
    if (ours.ino !== named.ino || ours.dev !== named.dev) throw new Error(`${wal} changed while it was being opened`);
    // The WAL's name in its directory survives a power loss too, and what migrate wrote.
    fs.fdatasyncSync(walFd);
    await fsyncDir(path.dirname(path.resolve(file)));
  } catch (err) {
    opening.close();
    if (walFd !== undefined) fs.closeSync(walFd);
    throw err;
  }
  const fd = walFd;
  return {
    db: opening,
    sync: () => new Promise<void>((resolve, reject) => fs.fdatasync(fd, (err) => (err ? reject(err) : resolve()))),
    close() {
      try {
        opening.close();
      } finally {
        fs.closeSync(fd);
      }
    },
  };
}
