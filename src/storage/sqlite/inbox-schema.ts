import type Database from 'better-sqlite3';

/**
 * The inbox database's tables, one version per entry; `PRAGMA user_version` says how many
 * have been applied. A new version is appended, never edited, so every existing database
 * can be brought forward.
 *
 * - `inboxes`: one row per (tenant, user) holding notifications ('' is no tenant), with
 *   how many rows it has and how many of them are unread, kept in the same transactions
 *   as the rows: an unread count is one row read. Notifications name their inbox by its
 *   small integer id, which keeps their indexes compact: an append to 1,000 users
 *   rewrites one index page per user and index, so entry size is write cost. AUTOINCREMENT
 *   so that an id freed with an emptied inbox is never given to another user's.
 * - `notifications`: one row per stored notification. AUTOINCREMENT, so an id is never
 *   given twice, even after the newest row was deleted (a plain rowid would reuse it).
 *   `created_at` never decreases as ids increase (the store sees to it), so "older than
 *   the retention period" is "id up to some boundary", found in `by_creation`.
 * - `idempotency_keys`: the first result of an idempotent append, until `expires_at`.
 *
 * Indexes, each for one query: a page newest first, unread only or not, and read-all and
 * the oldest unread rows an over-cap inbox loses (`by_inbox`, walked with a filter on
 * `read_at`); the oldest read rows an over-cap inbox loses (`read_by_inbox`); the retention
 * boundary (`by_creation`, appended to at its end); and the rows with their own
 * `expires_at`, per inbox and in all (partial: only pushes with a ttl pay for them).
 *
 * Version 2 dropped `unread_by_inbox`: a push to 1,000 users writes about one leaf page
 * per user in each per-inbox index, so it doubled the pages (and the bytes synced) of
 * every fan-out, while the walks it saved are bounded by INBOX_MAX_PER_USER.
 */
const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE inboxes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    total INTEGER NOT NULL,
    unread INTEGER NOT NULL
  );
  CREATE UNIQUE INDEX inboxes_by_owner ON inboxes (tenant_id, user_id);
  CREATE TABLE notifications (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    inbox_id INTEGER NOT NULL,
    type TEXT NOT NULL,
    priority TEXT,
    title TEXT,
    message TEXT,
    data TEXT,
    event TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    read_at INTEGER,
    expires_at INTEGER
  );
  CREATE INDEX notifications_by_inbox ON notifications (inbox_id, id);
  CREATE INDEX notifications_unread_by_inbox ON notifications (inbox_id, id) WHERE read_at IS NULL;
  CREATE INDEX notifications_read_by_inbox ON notifications (inbox_id, id) WHERE read_at IS NOT NULL;
  CREATE INDEX notifications_by_creation ON notifications (created_at);
  CREATE INDEX notifications_expiring_by_inbox ON notifications (inbox_id, expires_at) WHERE expires_at IS NOT NULL;
  CREATE INDEX notifications_expiring ON notifications (expires_at) WHERE expires_at IS NOT NULL;
  CREATE TABLE idempotency_keys (
    key TEXT PRIMARY KEY,
    result TEXT NOT NULL,
    expires_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX idempotency_keys_by_expiry ON idempotency_keys (expires_at);
  `,
  `
  DROP INDEX notifications_unread_by_inbox;
  `,
];

/** Brings the database to the newest schema in one transaction; refuses one made by a newer server. */
export function migrateInboxSchema(db: Database.Database, file: string): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > MIGRATIONS.length) {
    throw new Error(
      `The notification inbox database ${file} has schema version ${version}, newer than this server knows (${MIGRATIONS.length}); run a newer server or restore a backup`,
    );
  }
  if (version === MIGRATIONS.length) return;
  db.transaction(() => {
    for (const sql of MIGRATIONS.slice(version)) db.exec(sql);
    db.pragma(`user_version = ${MIGRATIONS.length}`);
  }).immediate();
}
