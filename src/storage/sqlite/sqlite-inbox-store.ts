import type Database from 'better-sqlite3';
import type { Clock } from '../../domain/clock.js';
import type {
  IdempotentResult,
  InboxOwner,
  InboxStore,
  InboxStoreObserver,
  NewNotification,
  NotificationPriority,
  NotificationRecord,
} from '../../domain/inbox-store.js';
import { AppError } from '../../errors.js';
import type { Logger } from '../../observability/logger.js';
import { createInboxPurgeSchedule } from '../inbox-purge.js';
import { parseId, parseTime } from '../inbox-input.js';
import { migrateInboxSchema } from './inbox-schema.js';
import { toStoreError } from './sqlite-errors.js';
import { createSqliteStoreLifecycle } from './store-lifecycle.js';

export interface SqliteInboxStoreOptions {
  /** The database file (INBOX_DB_PATH); its directory is created when missing. */
  file: string;
  /** INBOX_MAX_PER_USER: notifications kept per inbox. */
  maxPerUser: number;
  /** INBOX_TTL_DAYS in milliseconds: how long a notification, and an idempotency key, is kept at most. */
  retentionMs: number;
  clock: Clock;
  logger: Logger;
  observer?: InboxStoreObserver | undefined;
  /** How often expired rows are deleted (default one minute); lists and counts leave them out meanwhile. */
  purgeIntervalMs?: number;
  /** SQLite's page cache (default 16 MiB): the store's only memory that grows with use, and it is capped. */
  cacheKiB?: number;
}

/** The SQLite inbox, with the purge its timer runs exposed so tests and operators can run it at once. */
export interface SqliteInboxStore extends InboxStore {
  /** Deletes every notification and idempotency key expired by now; resolves with the notifications deleted. */
  purgeExpired(): Promise<number>;
}

/** Notifications written per transaction at most, unless one append alone is larger (see write-batcher.ts). */
const MAX_BATCH_WEIGHT = 1_000;
/** Rows one purge transaction deletes at most, so a purge after a long pause never blocks the event loop for long. */
const PURGE_CHUNK = 1_000;

/** A notification's own columns, as stored (the id is the rowid; `data` is JSON). */
interface NotificationFields {
  type: string;
  priority: string | null;
  title: string | null;
  message: string | null;
  data: string | null;
  event: string;
}

interface NotificationRow extends NotificationFields {
  id: number;
  created_at: number;
  read_at: number | null;
  expires_at: number | null;
}

/** An inbox as `inboxes` holds it: its id and its unread counter. */
interface InboxRow {
  id: number;
  unread: number;
}

interface OwnerKey {
  tenant: string;
  user: string;
}

/** What a write did, reported to the observer once it is durable. */
interface Effects {
  stored?: number;
  read?: number;
  deleted?: number;
  expired?: number;
  overCap?: number;
}

type AppendResult = Awaited<ReturnType<InboxStore['append']>>;

function ownerKey(owner: InboxOwner): OwnerKey {
  return { tenant: owner.tenantId ?? '', user: owner.userId };
}

/** One string per owner, for maps keyed by inbox. */
const ownerString = (owner: OwnerKey) => JSON.stringify([owner.tenant, owner.user]);

/**
 * A stored row as the record callers see. `parse` reads the row's `data` (an append of one
 * push to 1,000 users parses its one `data` once, and the records share the value).
 */
function toRecord(owner: OwnerKey, row: NotificationRow, parse: (text: string) => unknown = JSON.parse): NotificationRecord {
  return {
    id: String(row.id),
    userId: owner.user,
    ...(owner.tenant !== '' ? { tenantId: owner.tenant } : {}),
    type: row.type,
    ...(row.priority !== null ? { priority: row.priority as NotificationPriority } : {}),
    ...(row.title !== null ? { title: row.title } : {}),
    ...(row.message !== null ? { message: row.message } : {}),
    ...(row.data !== null ? { data: parse(row.data) } : {}),
    event: row.event,
    createdAt: new Date(row.created_at).toISOString(),
    readAt: row.read_at === null ? null : new Date(row.read_at).toISOString(),
    ...(row.expires_at !== null ? { expiresAt: new Date(row.expires_at).toISOString() } : {}),
  };
}

function isIdempotentResult(value: unknown): value is IdempotentResult {
  if (typeof value !== 'object' || value === null || !('notificationIds' in value)) return false;
  const ids: unknown = value.notificationIds;
  return Array.isArray(ids) && ids.every((id) => typeof id === 'string');
}

const ROW_COLUMNS = 'id, type, priority, title, message, data, event, created_at, read_at, expires_at';

/**
 * Which notifications still count, at `@now`: newer than the retention boundary (see
 * inbox-schema.ts), and not past their own `expires_at`.
 */
const LIVE = 'id > @boundary AND (expires_at IS NULL OR expires_at > @now)';

/** Where a query stands: the time, and the greatest id old enough to have left the retention period (0: none). */
interface Moment {
  now: number;
  boundary: number;
}

/** The statements the store runs, prepared once when it opens. */
function prepareStatements(db: Database.Database) {
  // INDEXED BY pins the index that walks an inbox's rows in id order: left to itself,
  // SQLite may choose another and sort. Unread rows are found on the same walk (an inbox
  // holds at most INBOX_MAX_PER_USER rows): an index of unread rows alone doubled the
  // pages every fan-out writes (see inbox-schema.ts, version 2).
  const byInbox = 'notifications INDEXED BY notifications_by_inbox';
  type Inbox = { inbox: number };
  return {
    boundary: db
      .prepare<{ cutoff: number }, number>(
        'SELECT id FROM notifications INDEXED BY notifications_by_creation WHERE created_at <= @cutoff ORDER BY created_at DESC, id DESC LIMIT 1',
      )
      .pluck(),
    lastCreatedAt: db.prepare<[], number | null>('SELECT max(created_at) FROM notifications').pluck(),
    firstCreatedAt: db
      .prepare<[], number>('SELECT created_at FROM notifications INDEXED BY notifications_by_creation ORDER BY created_at LIMIT 1')
      .pluck(),
    firstExpiresAt: db
      .prepare<[], number>(
        'SELECT expires_at FROM notifications INDEXED BY notifications_expiring WHERE expires_at IS NOT NULL ORDER BY expires_at LIMIT 1',
      )
      .pluck(),
    inboxOf: db.prepare<OwnerKey, InboxRow>('SELECT id, unread FROM inboxes WHERE tenant_id = @tenant AND user_id = @user'),
    // `owners` is a JSON array of [tenant, user]; one statement for any number of inboxes.
    inboxesOf: db.prepare<{ owners: string }, InboxRow & { tenant_id: string; user_id: string }>(
      `SELECT id, unread, tenant_id, user_id FROM inboxes
       WHERE (tenant_id, user_id) IN (SELECT value ->> 0, value ->> 1 FROM json_each(@owners))`,
    ),
    // One statement per append, whatever its size: the rows travel as one JSON array
    // rather than as a call per row, and SQLite assigns their ids in array order, which is
    // the order RETURNING's ids are sorted back into. A single row goes without the JSON
    // (insertOne: half the CPU of insertMany for one row).
    insertOne: db.prepare<NotificationFields & { inbox: number; createdAt: number; expiresAt: number | null }, { id: number }>(
      `INSERT INTO notifications (inbox_id, type, priority, title, message, data, event, created_at, expires_at)
       VALUES (@inbox, @type, @priority, @title, @message, @data, @event, @createdAt, @expiresAt)
       RETURNING id`,
    ),
    insertMany: db.prepare<{ rows: string; createdAt: number }, { id: number }>(
      `INSERT INTO notifications (inbox_id, type, priority, title, message, data, event, created_at, expires_at)
       SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, value ->> 6, @createdAt, value ->> 7
       FROM json_each(@rows) ORDER BY key
       RETURNING id`,
    ),
    page: db.prepare<Inbox & Moment & { before: number; limit: number }, NotificationRow>(
      `SELECT ${ROW_COLUMNS} FROM ${byInbox} WHERE inbox_id = @inbox AND id < @before AND ${LIVE} ORDER BY id DESC LIMIT @limit`,
    ),
    unreadPage: db.prepare<Inbox & Moment & { before: number; limit: number }, NotificationRow>(
      `SELECT ${ROW_COLUMNS} FROM ${byInbox} WHERE inbox_id = @inbox AND read_at IS NULL AND id < @before AND ${LIVE} ORDER BY id DESC LIMIT @limit`,
    ),
    one: db.prepare<Inbox & Moment & { id: number }, NotificationRow>(`SELECT ${ROW_COLUMNS} FROM notifications WHERE id = @id AND inbox_id = @inbox AND ${LIVE}`),
    // What the inbox's unread counter still includes but no longer counts: expired rows
    // not yet purged, few because the purge runs every minute, each group found through
    // an index range. Asked only while something stored may have expired (see
    // nothingExpired); otherwise a count is the counter alone, the same with 1,000 unread
    // as with none.
    expiredUnread: db
      .prepare<Inbox & Moment, number>(
        `SELECT (SELECT count(*) FROM ${byInbox} WHERE inbox_id = @inbox AND read_at IS NULL AND id <= @boundary)
              + (SELECT count(*) FROM notifications INDEXED BY notifications_expiring_by_inbox
                  WHERE inbox_id = @inbox AND expires_at IS NOT NULL AND expires_at <= @now AND read_at IS NULL AND id > @boundary)`,
      )
      .pluck(),
    markOne: db.prepare<Inbox & Moment & { id: number; readAt: number }>(
      `UPDATE notifications SET read_at = @readAt WHERE id = @id AND inbox_id = @inbox AND read_at IS NULL AND ${LIVE}`,
    ),
    markAll: db.prepare<Inbox & Moment & { readAt: number }, { id: number }>(
      `UPDATE ${byInbox} SET read_at = @readAt WHERE inbox_id = @inbox AND read_at IS NULL AND ${LIVE} RETURNING id`,
    ),
    removeOne: db.prepare<Inbox & Moment & { id: number }, { unread: number }>(
      `DELETE FROM notifications WHERE id = @id AND inbox_id = @inbox AND ${LIVE} RETURNING read_at IS NULL AS unread`,
    ),
    removeInboxOld: db.prepare<Inbox & { boundary: number }, { unread: number }>(
      `DELETE FROM ${byInbox} WHERE inbox_id = @inbox AND id <= @boundary RETURNING read_at IS NULL AS unread`,
    ),
    removeInboxExpiring: db.prepare<Inbox & { now: number }, { unread: number }>(
      `DELETE FROM notifications INDEXED BY notifications_expiring_by_inbox
       WHERE inbox_id = @inbox AND expires_at IS NOT NULL AND expires_at <= @now RETURNING read_at IS NULL AS unread`,
    ),
    evictOldestRead: db.prepare<Inbox & { n: number }>(
      `DELETE FROM notifications WHERE id IN
         (SELECT id FROM notifications INDEXED BY notifications_read_by_inbox WHERE inbox_id = @inbox AND read_at IS NOT NULL ORDER BY id LIMIT @n)`,
    ),
    evictOldestUnread: db.prepare<Inbox & { n: number }>(
      `DELETE FROM notifications WHERE id IN (SELECT id FROM ${byInbox} WHERE inbox_id = @inbox AND read_at IS NULL ORDER BY id LIMIT @n)`,
    ),
    purgeOld: db.prepare<{ boundary: number; n: number }, { inbox_id: number; unread: number }>(
      `DELETE FROM notifications WHERE id IN (SELECT id FROM notifications WHERE id <= @boundary ORDER BY id LIMIT @n)
       RETURNING inbox_id, read_at IS NULL AS unread`,
    ),
    purgeExpiring: db.prepare<{ now: number; n: number }, { inbox_id: number; unread: number }>(
      `DELETE FROM notifications WHERE id IN
         (SELECT id FROM notifications INDEXED BY notifications_expiring WHERE expires_at IS NOT NULL AND expires_at <= @now LIMIT @n)
       RETURNING inbox_id, read_at IS NULL AS unread`,
    ),
    // Every inbox an append writes to, counted up in one statement: `owners` is a JSON
    // array of [tenant, user, n]; inboxUp is the same for one inbox, without the JSON.
    inboxUp: db.prepare<OwnerKey & { n: number }, { id: number; tenant_id: string; user_id: string; total: number }>(
      `INSERT INTO inboxes (tenant_id, user_id, total, unread) VALUES (@tenant, @user, @n, @n)
       ON CONFLICT (tenant_id, user_id) DO UPDATE SET total = total + excluded.total, unread = unread + excluded.unread
       RETURNING id, tenant_id, user_id, total`,
    ),
    inboxesUp: db.prepare<{ owners: string }, { id: number; tenant_id: string; user_id: string; total: number }>(
      `INSERT INTO inboxes (tenant_id, user_id, total, unread)
       SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 2 FROM json_each(@owners) WHERE true
       ON CONFLICT (tenant_id, user_id) DO UPDATE SET total = total + excluded.total, unread = unread + excluded.unread
       RETURNING id, tenant_id, user_id, total`,
    ),
    inboxDown: db
      .prepare<Inbox & { total: number; unread: number }, number>('UPDATE inboxes SET total = total - @total, unread = unread - @unread WHERE id = @inbox RETURNING total')
      .pluck(),
    forgetEmptyInbox: db.prepare<Inbox>('DELETE FROM inboxes WHERE id = @inbox AND total <= 0'),
    idempotentResult: db
      .prepare<{ key: string; now: number }, string>('SELECT result FROM idempotency_keys WHERE key = @key AND expires_at > @now')
      .pluck(),
    rememberResult: db.prepare<{ key: string; result: string; expiresAt: number }>(
      'INSERT OR REPLACE INTO idempotency_keys (key, result, expires_at) VALUES (@key, @result, @expiresAt)',
    ),
    purgeKeys: db.prepare<{ now: number; n: number }>(
      'DELETE FROM idempotency_keys WHERE key IN (SELECT key FROM idempotency_keys WHERE expires_at <= @now LIMIT @n)',
    ),
  };
}

type Statements = ReturnType<typeof prepareStatements>;

/**
 * The notification inbox in an embedded SQLite database (better-sqlite3), chosen over the
 * chat store's append-only logs because an inbox is mutable (read, deleted, expired),
 * paged newest first and counted: an indexed table does all of it in place.
 *
 * Durability: a write resolves once its transaction is on disk (an fdatasync of the WAL
 * after the commit, off the event loop: open-database.ts), and a SIGKILL at any moment
 * leaves a database that opens with every committed transaction. Writes are
 * group-committed (write-batcher.ts): everything asked while a batch gathers (until a turn
 * of the event loop brings nothing more, at most 3 turns) is one transaction, made durable
 * by an fdatasync that runs while the next ones commit; `append` of 1,000 recipients is
 * one transaction.
 *
 * Unread counts: a per-inbox counter kept in the same transactions as the rows, minus the
 * inbox's expired unread rows not yet purged (index ranges over just those), so counts
 * are exact at every moment, cost O(1) in the inbox's size, and a read never writes.
 *
 * Memory: nothing per notification or per user is held in the process; SQLite's page
 * cache is capped (`cacheKiB`) and memory-mapped I/O stays off.
 */
export function createSqliteInboxStore(options: SqliteInboxStoreOptions): SqliteInboxStore {
  const { file, clock, logger, observer, maxPerUser, retentionMs } = options;
  const purgeIntervalMs = options.purgeIntervalMs ?? 60_000;
  /** The newest created_at stored: new rows never get an older one, even if the clock steps back (see inbox-schema.ts). */
  let lastCreatedAt = 0;
  /**
   * Lower bounds of the oldest created_at and the earliest expires_at stored (Infinity:
   * none). While the retention cutoff is before the first and now before the second,
   * nothing stored has expired, so reads skip the queries that look for expired rows: an
   * unread count is then the inbox's counter alone. Appends lower them; only a purge,
   * after its deletes are committed, raises them again from the database.
   */
  let firstCreatedAt = Number.POSITIVE_INFINITY;
  let firstExpiresAt = Number.POSITIVE_INFINITY;

  const lifecycle = createSqliteStoreLifecycle({
    file,
    logger,
    cacheKiB: options.cacheKiB ?? 16 * 1024,
    migrate: (opening) => migrateInboxSchema(opening, file),
    prepare: (db) => {
      const sql = prepareStatements(db);
      lastCreatedAt = sql.lastCreatedAt.get() ?? 0;
      rereadBounds(sql);
      return sql;
    },
    maxBatchWeight: MAX_BATCH_WEIGHT,
    onSettled: (seconds) => observer?.writeLatency(seconds),
    name: 'notification inbox',
    databaseName: 'notification inbox database',
    openedOnce: 'An inbox store can be opened once',
    onOpen: () => purges.start(),
    onClose: () => purges.stop(),
  });
  const { opened } = lifecycle;

  function momentOf(s: Statements): Moment {
    const now = clock.now();
    const cutoff = now - retentionMs;
    return { now, boundary: cutoff < firstCreatedAt ? 0 : (s.boundary.get({ cutoff }) ?? 0) };
  }

  /** True when no stored row can have expired at `moment` (see firstCreatedAt). */
  const nothingExpired = (moment: Moment) => moment.boundary === 0 && moment.now < firstExpiresAt;

  /** An inbox's exact unread count: its counter, less its expired unread rows not yet purged, if any can be. */
  const unreadOf = (s: Statements, inbox: InboxRow, moment: Moment) =>
    nothingExpired(moment) ? inbox.unread : inbox.unread - (s.expiredUnread.get({ inbox: inbox.id, ...moment }) ?? 0);

  /** Raises the lower bounds to the database's committed minimums (after a purge). */
  function rereadBounds(s: Statements): void {
    firstCreatedAt = s.firstCreatedAt.get() ?? Number.POSITIVE_INFINITY;
    firstExpiresAt = s.firstExpiresAt.get() ?? Number.POSITIVE_INFINITY;
  }

  function report(effects: Effects): void {
    if (observer === undefined) return;
    if (effects.stored) observer.stored(effects.stored);
    if (effects.read) observer.read(effects.read);
    if (effects.deleted) observer.deleted(effects.deleted);
    if (effects.expired) observer.expired(effects.expired, 'expired');
    if (effects.overCap) observer.expired(effects.overCap, 'over_cap');
  }

  /** Runs `run` in the next group-committed transaction; resolves once it is durable. */
  async function write<T>(action: string, weight: number, run: (s: Statements, moment: Moment) => { value: T; effects?: Effects }): Promise<T> {
    const store = opened();
    const { value, effects } = await store.batcher.write(action, () => run(store.sql, momentOf(store.sql)), weight);
    if (effects !== undefined) report(effects);
    return value;
  }

  /** Runs `run` on the owner's inbox now; `empty` when the owner has none. */
  function read<T>(action: string, owner: OwnerKey, empty: T, run: (s: Statements, inbox: InboxRow, moment: Moment) => T): T {
    const store = opened();
    try {
      const inbox = store.sql.inboxOf.get(owner);
      return inbox === undefined ? empty : run(store.sql, inbox, momentOf(store.sql));
    } catch (err) {
      throw toStoreError(action, err);
    }
  }

  function countDown(s: Statements, inbox: number, total: number, unread: number): void {
    if (total === 0 && unread === 0) return;
    // Forgotten only once it holds nothing: an inbox that keeps rows costs one statement.
    const left = s.inboxDown.get({ inbox, total, unread });
    if (left !== undefined && left <= 0) s.forgetEmptyInbox.run({ inbox });
  }

  /** Counts deleted rows, and how many of them were unread. */
  const tally = (rows: readonly { unread: number }[]) => ({ total: rows.length, unread: rows.filter((row) => row.unread === 1).length });

  /**
   * For an inbox whose rows (expired ones included) outnumber the cap, right after an
   * append to it: drops its expired rows (looked for only when something stored can have
   * expired, see nothingExpired), then, while it still holds more than the cap, its oldest
   * read notifications, then its oldest unread ones.
   */
  function enforceRetention(s: Statements, inbox: number, rows: number, moment: Moment): { expired: number; overCap: number } {
    const gone = nothingExpired(moment)
      ? { total: 0, unread: 0 }
      : tally([...s.removeInboxOld.all({ inbox, boundary: moment.boundary }), ...s.removeInboxExpiring.all({ inbox, now: moment.now })]);
    const over = rows - gone.total - maxPerUser;
    const oldestRead = over > 0 ? s.evictOldestRead.run({ inbox, n: over }).changes : 0;
    const oldestUnread = over > oldestRead ? s.evictOldestUnread.run({ inbox, n: over - oldestRead }).changes : 0;
    countDown(s, inbox, gone.total + oldestRead + oldestUnread, gone.unread + oldestUnread);
    return { expired: gone.total, overCap: oldestRead + oldestUnread };
  }

  function countDownPurged(s: Statements, rows: readonly { inbox_id: number; unread: number }[]): void {
    const byInbox = new Map<number, { total: number; unread: number }>();
    for (const row of rows) {
      const entry = byInbox.get(row.inbox_id) ?? { total: 0, unread: 0 };
      entry.total += 1;
      entry.unread += row.unread;
      byInbox.set(row.inbox_id, entry);
    }
    for (const [inbox, { total, unread }] of byInbox) countDown(s, inbox, total, unread);
  }

  function purgeChunk(s: Statements, moment: Moment): { value: number; effects: Effects } {
    const old = s.purgeOld.all({ boundary: moment.boundary, n: PURGE_CHUNK });
    const expiring = old.length < PURGE_CHUNK ? s.purgeExpiring.all({ now: moment.now, n: PURGE_CHUNK - old.length }) : [];
    countDownPurged(s, [...old, ...expiring]);
    s.purgeKeys.run({ now: moment.now, n: PURGE_CHUNK });
    const purged = old.length + expiring.length;
    return { value: purged, effects: { expired: purged } };
  }

  const purges = createInboxPurgeSchedule({
    clock,
    logger,
    intervalMs: purgeIntervalMs,
    chunkSize: PURGE_CHUNK,
    isOpen: lifecycle.isOpen,
    purgeChunk: async () => {
      const deleted = await write('delete expired notifications', PURGE_CHUNK, purgeChunk);
      // Between two transactions (none spans an await): appends committed since the
      // purge lowered the bounds and are in what this reads.
      const sql = lifecycle.statements();
      if (deleted > 0 && sql !== undefined) rereadBounds(sql);
      return deleted;
    },
  });

  return {
    open: lifecycle.open,
    close: lifecycle.close,
    isWritable: lifecycle.isWritable,

    purgeExpired: () => purges.purgeExpired(),

    async append(items, appendOptions = {}) {
      const { idempotencyKey, answer } = appendOptions;
      // Checked before anything is queued: a bad item fails its own call only.
      const expiries = items.map((item) => (item.expiresAt === undefined ? null : parseTime(item.expiresAt, 'expiresAt')));
      return write<AppendResult>('store notifications', Math.max(1, items.length), (s, moment) => {
        if (idempotencyKey !== undefined) {
          const first = s.idempotentResult.get({ key: idempotencyKey, now: moment.now });
          if (first !== undefined) {
            const result: unknown = JSON.parse(first);
            if (!isIdempotentResult(result)) throw new Error('a stored idempotent result is not one');
            return { value: { replayed: true, result } };
          }
        }
        const createdAt = Math.max(moment.now, lastCreatedAt);
        const owners = items.map(ownerKey);
        const inboxes = new Map<string, { owner: OwnerKey; n: number; id: number; rows: number }>();
        const keys = owners.map(ownerString);
        owners.forEach((owner, index) => {
          const key = keys[index]!;
          const entry = inboxes.get(key);
          if (entry === undefined) inboxes.set(key, { owner, n: 1, id: 0, rows: 0 });
          else entry.n += 1;
        });
        if (items.length > 0) {
          const entries = [...inboxes.values()];
          const counted =
            entries.length === 1
              ? [s.inboxUp.get({ ...entries[0]!.owner, n: entries[0]!.n })!]
              : s.inboxesUp.all({ owners: JSON.stringify(entries.map(({ owner, n }) => [owner.tenant, owner.user, n])) });
          for (const row of counted) {
            const entry = inboxes.get(ownerString({ tenant: row.tenant_id, user: row.user_id }));
            if (entry === undefined) throw new Error('an inbox row came back that was not written');
            entry.id = row.id;
            entry.rows = row.total;
          }
        }
        // One push gives every recipient the same data: serialised once, not once per row.
        const serialised = new Map<unknown, string | null>();
        const dataOf = (data: unknown) => {
          if (data === undefined) return null;
          let text = serialised.get(data);
          if (text === undefined) serialised.set(data, (text = JSON.stringify(data) ?? null));
          return text;
        };
        const rows = items.map((item: NewNotification, index) => {
          const fields: NotificationFields = {
            type: item.type,
            priority: item.priority ?? null,
            title: item.title ?? null,
            message: item.message ?? null,
            data: dataOf(item.data),
            event: item.event,
          };
          return { fields, inbox: inboxes.get(keys[index]!)!.id, expiresAt: expiries[index] ?? null };
        });
        const ids =
          rows.length === 0
            ? []
            : rows.length === 1
              ? [s.insertOne.get({ ...rows[0]!.fields, inbox: rows[0]!.inbox, createdAt, expiresAt: rows[0]!.expiresAt })!.id]
              : s.insertMany
                  .all({
                    createdAt,
                    rows: JSON.stringify(rows.map(({ fields: f, inbox, expiresAt }) => [inbox, f.type, f.priority, f.title, f.message, f.data, f.event, expiresAt])),
                  })
                  .map((row) => row.id)
                  .sort((a, b) => a - b);
        if (ids.length !== rows.length) throw new Error(`${rows.length} notifications were given and ${ids.length} stored`);
        const parsed = new Map<string, unknown>();
        const parse = (text: string) => {
          if (!parsed.has(text)) parsed.set(text, JSON.parse(text));
          return parsed.get(text);
        };
        const records = rows.map(({ fields, expiresAt }, index) =>
          toRecord(owners[index]!, { ...fields, id: ids[index]!, created_at: createdAt, read_at: null, expires_at: expiresAt }, parse),
        );
        firstCreatedAt = Math.min(firstCreatedAt, createdAt);
        for (const expiresAt of expiries) if (expiresAt !== null) firstExpiresAt = Math.min(firstExpiresAt, expiresAt);
        let expired = 0;
        let overCap = 0;
        for (const { id, rows } of inboxes.values()) {
          // Until an inbox reaches the cap, an append costs two statements per recipient.
          if (rows <= maxPerUser) continue;
          const removed = enforceRetention(s, id, rows, moment);
          expired += removed.expired;
          overCap += removed.overCap;
        }
        if (idempotencyKey !== undefined) {
          const result: IdempotentResult = { notificationIds: records.map((record) => record.id), answer: answer?.(records) };
          s.rememberResult.run({ key: idempotencyKey, result: JSON.stringify(result), expiresAt: moment.now + retentionMs });
        }
        lastCreatedAt = createdAt;
        return { value: { records, replayed: false }, effects: { stored: records.length, expired, overCap } };
      });
    },

    async list(owner, { limit, before, unreadOnly }) {
      if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw new AppError('INVALID_REQUEST', 'limit must be an integer from 1 to 100');
      const beforeId = before === undefined ? Number.MAX_SAFE_INTEGER : parseId(before);
      if (beforeId === undefined) throw new AppError('INVALID_REQUEST', 'before must be a notification id');
      const key = ownerKey(owner);
      const rows = read('read the inbox', key, [], (s, inbox, moment) =>
        (unreadOnly === true ? s.unreadPage : s.page).all({ inbox: inbox.id, ...moment, before: beforeId, limit: limit + 1 }),
      );
      const page = rows.slice(0, limit).map((row) => toRecord(key, row));
      const last = page.at(-1);
      return rows.length > limit && last !== undefined ? { notifications: page, nextBefore: last.id } : { notifications: page };
    },

    async get(owner, id) {
      const numeric = parseId(id);
      if (numeric === undefined) return undefined;
      const key = ownerKey(owner);
      const row = read('read the inbox', key, undefined, (s, inbox, moment) => s.one.get({ inbox: inbox.id, ...moment, id: numeric }));
      return row === undefined ? undefined : toRecord(key, row);
    },

    async unreadCount(owner) {
      return read('count unread notifications', ownerKey(owner), 0, unreadOf);
    },

    async unreadCounts(owners) {
      if (owners.length === 0) return [];
      // One owner (a push to one user, the common case): the indexed lookup without the
      // JSON list, about a quarter of the statement's cost.
      if (owners.length === 1) return [read('count unread notifications', ownerKey(owners[0]!), 0, unreadOf)];
      const store = opened();
      try {
        const moment = momentOf(store.sql);
        const keys = owners.map(ownerKey);
        const rows = store.sql.inboxesOf.all({ owners: JSON.stringify(keys.map((key) => [key.tenant, key.user])) });
        const byOwner = new Map(rows.map((row) => [ownerString({ tenant: row.tenant_id, user: row.user_id }), row]));
        return keys.map((key) => {
          const inbox = byOwner.get(ownerString(key));
          return inbox === undefined ? 0 : unreadOf(store.sql, inbox, moment);
        });
      } catch (err) {
        throw toStoreError('count unread notifications', err);
      }
    },

    async markRead(owner, ids, readAt) {
      const readAtMs = parseTime(readAt, 'readAt');
      const key = ownerKey(owner);
      const wanted =
        ids === 'all'
          ? 'all'
          : [...new Set(ids)].flatMap((id) => {
              const numeric = parseId(id);
              return numeric === undefined ? [] : [{ id, numeric }];
            });
      if (wanted !== 'all' && wanted.length === 0) {
        opened();
        return [];
      }
      return write('mark notifications read', wanted === 'all' ? 1 : wanted.length, (s, moment) => {
        const inbox = s.inboxOf.get(key);
        if (inbox === undefined) return { value: [] };
        const changed =
          wanted === 'all'
            ? s.markAll
                .all({ inbox: inbox.id, ...moment, readAt: readAtMs })
                .map((row) => row.id)
                .sort((a, b) => a - b)
                .map(String)
            : wanted.filter(({ numeric }) => s.markOne.run({ inbox: inbox.id, ...moment, id: numeric, readAt: readAtMs }).changes === 1).map(({ id }) => id);
        countDown(s, inbox.id, 0, changed.length);
        return { value: changed, effects: { read: changed.length } };
      });
    },

    async remove(owner, id) {
      const numeric = parseId(id);
      if (numeric === undefined) {
        opened();
        return false;
      }
      const key = ownerKey(owner);
      return write('delete a notification', 1, (s, moment) => {
        const inbox = s.inboxOf.get(key);
        const removed = inbox === undefined ? undefined : s.removeOne.get({ inbox: inbox.id, ...moment, id: numeric });
        if (inbox === undefined || removed === undefined) return { value: false };
        countDown(s, inbox.id, 1, removed.unread);
        return { value: true, effects: { deleted: 1 } };
      });
    },
  };
}
