import Database from 'better-sqlite3';

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

/**
 * Opens a database file the way every embedded store here keeps one: WAL with
 * synchronous=FULL (a commit has reached the disk when it returns, and a SIGKILL at any
 * moment leaves a database that opens with every committed transaction), a capped page
 * cache, no memory-mapped I/O, and the schema brought forward by `migrate`. The
 * connection is closed again when any of that fails.
 */
export function openDurableDatabase(file: string, options: { cacheKiB: number; migrate: (db: Database.Database) => void }): Database.Database {
  const opening = new Database(file, { timeout: BUSY_TIMEOUT_MS });
  try {
    const mode = opening.pragma('journal_mode = WAL', { simple: true });
    if (mode !== 'wal') throw new Error(`SQLite refused write-ahead logging (journal_mode is ${String(mode)})`);
    opening.pragma('synchronous = FULL');
    opening.pragma(`cache_size = -${options.cacheKiB}`);
    opening.pragma('mmap_size = 0');
    opening.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT_BYTES}`);
    opening.pragma(`wal_autocheckpoint = ${WAL_CHECKPOINT_PAGES}`);
    options.migrate(opening);
    return opening;
  } catch (err) {
    opening.close();
    throw err;
  }
}
