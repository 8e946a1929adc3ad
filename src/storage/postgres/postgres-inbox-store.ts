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
import { createKeyedSequencer } from './keyed-sequencer.js';
import type { PostgresDatabase, Transaction } from './postgres-database.js';
import { createStoreLifecycle } from './store-lifecycle.js';

export interface PostgresInboxStoreOptions {
  /** The process's shared database; the store runs its migrations at open() and leaves closing it to the owner. */
  database: PostgresDatabase;
  /** INBOX_MAX_PER_USER: notifications kept per inbox. */
  maxPerUser: number;
  /** INBOX_TTL_DAYS in milliseconds: how long a notification, and an idempotency key, is kept at most. */
  retentionMs: number;
  clock: Clock;
  logger: Logger;
  observer?: InboxStoreObserver | undefined;
  /** How often expired rows are deleted (default one minute); lists and counts leave them out meanwhile. */
  purgeIntervalMs?: number;
}

/** The PostgreSQL inbox, with the purge its timer runs exposed so tests and operators can run it at once. */
export interface PostgresInboxStore extends InboxStore {
  /** Deletes every notification and idempotency key expired by now; resolves with the notifications deleted. */
  purgeExpired(): Promise<number>;
}

/** Rows one purge transaction deletes at most, so a purge after a long pause holds few locks at a time. */
const PURGE_CHUNK = 1_000;
/** pg_advisory_xact_lock's first key for the inbox: with an idempotency key's hash, or PURGE_LOCK for the purge. */
const INBOX_LOCK = 0x696e6278;
const PURGE_LOCK = 0;
/** Greater than every id (bigint's maximum): "before" when a list starts at the newest. */
const NO_BOUND = '9223372036854775807';

interface OwnerKey {
  tenant: string;
  user: string;
}

/** A notifications row as read (bigint columns arrive as strings). */
interface NotificationRow {
  id: string;
  type: string;
  priority: string | null;
  title: string | null;
  message: string | null;
  data: string | null;
  event: string;
  created_at: string;
  read_at: string | null;
  expires_at: string | null;
}

/** What a write did, reported to the observer once it is committed. */
interface Effects {
  stored?: number;
  read?: number;
  deleted?: number;
  expired?: number;
  overCap?: number;
}

/** Where a statement stands: now, and the retention cutoff (created at or before it: expired). */
interface Moment {
  now: number;
  cutoff: number;
}

type AppendResult = Awaited<ReturnType<InboxStore['append']>>;

function ownerKey(owner: InboxOwner): OwnerKey {
  return { tenant: owner.tenantId ?? '', user: owner.userId };
}

/** The key the sequencer orders an inbox's writes by. */
const sequenceKey = (owner: OwnerKey) => JSON.stringify([owner.tenant, owner.user]);

const ms = (value: string) => Number(value);

function toRecord(owner: OwnerKey, row: NotificationRow): NotificationRecord {
  return {
    id: row.id,
    userId: owner.user,
    ...(owner.tenant !== '' ? { tenantId: owner.tenant } : {}),
    type: row.type,
    ...(row.priority !== null ? { priority: row.priority as NotificationPriority } : {}),
    ...(row.title !== null ? { title: row.title } : {}),
    ...(row.message !== null ? { message: row.message } : {}),
    ...(row.data !== null ? { data: JSON.parse(row.data) as unknown } : {}),
    event: row.event,
    createdAt: new Date(ms(row.created_at)).toISOString(),
    readAt: row.read_at === null ? null : new Date(ms(row.read_at)).toISOString(),
    ...(row.expires_at !== null ? { expiresAt: new Date(ms(row.expires_at)).toISOString() } : {}),
  };
}

function isIdempotentResult(value: unknown): value is IdempotentResult {
  if (typeof value !== 'object' || value === null || !('notificationIds' in value)) return false;
  const ids: unknown = value.notificationIds;
  return Array.isArray(ids) && ids.every((id) => typeof id === 'string');
}

const ROW_COLUMNS = 'n.id, n.type, n.priority, n.title, n.message, n.data, n.event, n.created_at, n.read_at, n.expires_at';
/** Which notifications still count at $now / $cutoff (parameter numbers given). */
const live = (cutoff: number, now: number) => `n.created_at > $${cutoff} AND (n.expires_at IS NULL OR n.expires_at > $${now})`;
/** The opposite of `live`, written so that each side is an index range (by creation, and by expiry). */
const expired = (cutoff: number, now: number) => `(n.created_at <= $${cutoff} OR n.expires_at <= $${now})`;
/** The rows of an owner's inbox, `n`, with the owner as $1 (tenant) and $2 (user). */
const OWNER_ROWS = 'inboxes i JOIN notifications n ON n.inbox_id = i.id WHERE i.tenant_id = $1 AND i.user_id = $2';

/** Counted down per inbox after rows were deleted: [inbox id, rows, unread rows]. */
function tallyByInbox(rows: readonly { inbox_id: string; unread: boolean }[]): Map<string, { total: number; unread: number }> {
  const byInbox = new Map<string, { total: number; unread: number }>();
  for (const row of rows) {
    const entry = byInbox.get(row.inbox_id) ?? { total: 0, unread: 0 };
    entry.total += 1;
    if (row.unread) entry.unread += 1;
    byInbox.set(row.inbox_id, entry);
  }
  return byInbox;
}

async function countDown(tx: Transaction, byInbox: Map<string, { total: number; unread: number }>): Promise<void> {
  if (byInbox.size === 0) return;
  const ids = [...byInbox.keys()];
  await tx.query(
    `UPDATE inboxes i SET total = i.total - d.total, unread = i.unread - d.unread
     FROM unnest($1::bigint[], $2::int[], $3::int[]) AS d(id, total, unread) WHERE i.id = d.id`,
    [ids, ids.map((id) => byInbox.get(id)!.total), ids.map((id) => byInbox.get(id)!.unread)],
  );
}

/**
 * The notification inbox in PostgreSQL, for cluster mode: every node reads and writes the
 * same inboxes. Same semantics as the SQLite store (the contract suite runs against both);
 * how they are kept with several writers:
 *
 * - Every write to an inbox locks its `inboxes` row first (an append locks all of its
 *   recipients' rows in one sorted statement, so two appends never deadlock), so writes to
 *   one inbox are serialized across nodes, ids are taken in that order, and the row's
 *   `unread` / `total` counters change in the same transaction as the rows they count.
 * - An unread count is the counter minus the inbox's expired unread rows not yet purged
 *   (index ranges over just those): exact, and O(1) in the inbox's size.
 * - `append` of 1,000 recipients is one transaction of a fixed number of statements: the
 *   rows go as arrays (unnest), not as a statement per row.
 * - An idempotency key is locked (pg_advisory_xact_lock on its hash) before it is looked
 *   up, so concurrent calls with one key, on any node, store once.
 * - Expired rows are deleted by a purge every `purgeIntervalMs` on every node; a
 *   transaction-level advisory lock lets one node purge at a time.
 * - Within this process, writes to one inbox also run in call order (keyed-sequencer.ts).
 */
export function createPostgresInboxStore(options: PostgresInboxStoreOptions): PostgresInboxStore {
  const { database: db, clock, logger, observer, maxPerUser, retentionMs } = options;
  const purgeIntervalMs = options.purgeIntervalMs ?? 60_000;
  const sequencer = createKeyedSequencer();
  const lifecycle = createStoreLifecycle({
    database: db,
    name: 'notification inbox',
    openedOnce: 'An inbox store can be opened once',
    notOpen: 'Storage unavailable: the notification inbox is not open',
    onOpen: () => purges.start(),
    onClose: () => purges.stop(),
  });
  /** Runs an operation of an open store; close() waits for it. */
  const tracked = lifecycle.operate;

  const moment = (): Moment => {
    const now = clock.now();
    return { now, cutoff: now - retentionMs };
  };

  function report(effects: Effects): void {
    if (observer === undefined) return;
    if (effects.stored) observer.stored(effects.stored);
    if (effects.read) observer.read(effects.read);
    if (effects.deleted) observer.deleted(effects.deleted);
    if (effects.expired) observer.expired(effects.expired, 'expired');
    if (effects.overCap) observer.expired(effects.overCap, 'over_cap');
  }

  /** A write to the inboxes of `owners`: in call order per inbox, reported once committed. */
  async function write<T>(action: string, owners: readonly OwnerKey[], run: (tx: Transaction, at: Moment) => Promise<{ value: T; effects?: Effects }>): Promise<T> {
    const started = performance.now();
    try {
      const { value, effects } = await sequencer.run(owners.map(sequenceKey), () => db.transaction(action, (tx) => run(tx, moment())));
      if (effects !== undefined) report(effects);
      return value;
    } finally {
      observer?.writeLatency((performance.now() - started) / 1000);
    }
  }

  /**
   * For inboxes whose rows (expired ones included) outnumber the cap: drops their expired
   * rows, then, while one still holds more than the cap, its oldest read notifications,
   * then its oldest unread ones. Two statements for all of them, whatever their number.
   */
  async function enforceRetention(tx: Transaction, inboxes: readonly { id: string; total: number }[], at: Moment): Promise<{ expired: number; overCap: number }> {
    const ids = inboxes.map((inbox) => inbox.id);
    const expiredRows = await tx.query<{ inbox_id: string; unread: boolean }>(
      `DELETE FROM notifications n WHERE n.inbox_id = ANY($1::bigint[]) AND ${expired(2, 3)}
       RETURNING n.inbox_id, n.read_at IS NULL AS unread`,
      [ids, at.cutoff, at.now],
    );
    const gone = tallyByInbox(expiredRows);
    const over = inboxes
      .map((inbox) => ({ id: inbox.id, n: inbox.total - (gone.get(inbox.id)?.total ?? 0) - maxPerUser }))
      .filter((inbox) => inbox.n > 0);
    const evicted =
      over.length === 0
        ? []
        : await tx.query<{ inbox_id: string; unread: boolean }>(
            `DELETE FROM notifications WHERE id IN (
               SELECT victim.id FROM unnest($1::bigint[], $2::int[]) AS o(inbox_id, n)
               CROSS JOIN LATERAL (
                 SELECT c.id FROM (
                   (SELECT id, 0 AS pass FROM notifications WHERE inbox_id = o.inbox_id AND read_at IS NOT NULL ORDER BY id LIMIT o.n)
                   UNION ALL
                   (SELECT id, 1 AS pass FROM notifications WHERE inbox_id = o.inbox_id AND read_at IS NULL ORDER BY id LIMIT o.n)
                 ) c ORDER BY c.pass, c.id LIMIT o.n
               ) victim
             ) RETURNING inbox_id, read_at IS NULL AS unread`,
            [over.map((inbox) => inbox.id), over.map((inbox) => inbox.n)],
          );
    await countDown(tx, tallyByInbox([...expiredRows, ...evicted]));
    return { expired: expiredRows.length, overCap: evicted.length };
  }

  async function purgeChunk(tx: Transaction, at: Moment): Promise<{ value: number; effects: Effects }> {
    const [locked] = await tx.query<{ locked: boolean }>('SELECT pg_try_advisory_xact_lock($1, $2) AS locked', [INBOX_LOCK, PURGE_LOCK]);
    // Another node is purging: it deletes what this one would.
    if (locked?.locked !== true) return { value: 0, effects: {} };
    const doomed = await tx.query<{ id: string; inbox_id: string }>(
      `(SELECT id, inbox_id FROM notifications WHERE created_at <= $1 ORDER BY created_at LIMIT $3)
       UNION
       (SELECT id, inbox_id FROM notifications WHERE expires_at <= $2 ORDER BY expires_at LIMIT $3)`,
      [at.cutoff, at.now, PURGE_CHUNK],
    );
    let purged: { inbox_id: string; unread: boolean }[] = [];
    if (doomed.length > 0) {
      // The inboxes first, in the order appends lock them, then their rows.
      await tx.query('SELECT id FROM inboxes WHERE id = ANY($1::bigint[]) ORDER BY tenant_id, user_id FOR UPDATE', [[...new Set(doomed.map((row) => row.inbox_id))]]);
      purged = await tx.query<{ inbox_id: string; unread: boolean }>(
        `DELETE FROM notifications n WHERE n.id = ANY($1::bigint[]) AND ${expired(2, 3)} RETURNING n.inbox_id, n.read_at IS NULL AS unread`,
        [doomed.map((row) => row.id), at.cutoff, at.now],
      );
      await countDown(tx, tallyByInbox(purged));
    }
    await tx.query('DELETE FROM inbox_idempotency_keys WHERE key IN (SELECT key FROM inbox_idempotency_keys WHERE expires_at <= $1 LIMIT $2)', [
      at.now,
      PURGE_CHUNK,
    ]);
    return { value: purged.length, effects: { expired: purged.length } };
  }

  const purges = createInboxPurgeSchedule({
    clock,
    logger,
    intervalMs: purgeIntervalMs,
    chunkSize: PURGE_CHUNK,
    isOpen: lifecycle.isOpen,
    purgeChunk: async () => {
      const { value, effects } = await db.transaction('delete expired notifications', (tx) => purgeChunk(tx, moment()));
      report(effects);
      return value;
    },
  });

  return {
    open: lifecycle.open,
    close: lifecycle.close,
    isWritable: lifecycle.isWritable,

    purgeExpired: () => purges.purgeExpired(),

    append(items, appendOptions = {}) {
      return tracked(async () => {
        const { idempotencyKey, answer } = appendOptions;
        // Checked before anything is written: a bad item fails its own call only.
        const expiries = items.map((item) => (item.expiresAt === undefined ? null : parseTime(item.expiresAt, 'expiresAt')));
        const owners = items.map(ownerKey);
        return write<AppendResult>('store notifications', owners, async (tx, at) => {
          if (idempotencyKey !== undefined) {
            await tx.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [INBOX_LOCK, idempotencyKey]);
            const [first] = await tx.query<{ result: string }>('SELECT result FROM inbox_idempotency_keys WHERE key = $1 AND expires_at > $2', [
              idempotencyKey,
              at.now,
            ]);
            if (first !== undefined) {
              const result: unknown = JSON.parse(first.result);
              if (!isIdempotentResult(result)) throw new Error('a stored idempotent result is not one');
              return { value: { replayed: true, result } };
            }
          }
          let records: NotificationRecord[] = [];
          const removed = { expired: 0, overCap: 0 };
          if (items.length > 0) {
            const counts = new Map<string, { owner: OwnerKey; n: number }>();
            for (const owner of owners) {
              const entry = counts.get(sequenceKey(owner));
              if (entry === undefined) counts.set(sequenceKey(owner), { owner, n: 1 });
              else entry.n += 1;
            }
            const groups = [...counts.values()];
            // Sorted in the statement, so every transaction locks inbox rows in one order.
            const inboxes = await tx.query<{ id: string; tenant_id: string; user_id: string; total: number; last_created_at: string }>(
              `INSERT INTO inboxes (tenant_id, user_id, total, unread, last_created_at)
               SELECT t, u, n, n, $4 FROM unnest($1::text[], $2::text[], $3::int[]) AS o(t, u, n) ORDER BY t, u
               ON CONFLICT (tenant_id, user_id) DO UPDATE SET
                 total = inboxes.total + excluded.total,
                 unread = inboxes.unread + excluded.unread,
                 last_created_at = GREATEST(inboxes.last_created_at, excluded.last_created_at)
               RETURNING id, tenant_id, user_id, total, last_created_at`,
              [groups.map((g) => g.owner.tenant), groups.map((g) => g.owner.user), groups.map((g) => g.n), at.now],
            );
            const inboxIdOf = new Map(inboxes.map((row) => [sequenceKey({ tenant: row.tenant_id, user: row.user_id }), row.id]));
            // One time for the whole append, never before an earlier one in any of its inboxes.
            const createdAt = Math.max(at.now, ...inboxes.map((row) => ms(row.last_created_at)));
            if (inboxes.some((row) => ms(row.last_created_at) < createdAt)) {
              await tx.query('UPDATE inboxes SET last_created_at = $2 WHERE id = ANY($1::bigint[]) AND last_created_at < $2', [
                inboxes.map((row) => row.id),
                createdAt,
              ]);
            }
            // One push gives every recipient the same data: serialised once, not once per row.
            const serialised = new Map<unknown, string | null>();
            const dataOf = (data: unknown) => {
              if (data === undefined) return null;
              let text = serialised.get(data);
              if (text === undefined) serialised.set(data, (text = JSON.stringify(data) ?? null));
              return text;
            };
            const column = <T>(pick: (item: NewNotification, index: number) => T) => items.map(pick);
            const inserted = await tx.query<{ id: string }>(
              `INSERT INTO notifications (inbox_id, type, priority, title, message, data, event, created_at, expires_at)
               SELECT inbox_id, type, priority, title, message, data, event, $9, expires_at
               FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[])
                 WITH ORDINALITY AS r(inbox_id, type, priority, title, message, data, event, expires_at, ord)
               ORDER BY ord
               RETURNING id`,
              [
                column((_, index) => inboxIdOf.get(sequenceKey(owners[index]!))),
                column((item) => item.type),
                column((item) => item.priority ?? null),
                column((item) => item.title ?? null),
                column((item) => item.message ?? null),
                column((item) => dataOf(item.data)),
                column((item) => item.event),
                expiries,
                createdAt,
              ],
            );
            // Ids are taken in row order; RETURNING's order is not promised, so they are sorted back.
            const ids = inserted.map((row) => row.id).sort((a, b) => ms(a) - ms(b));
            if (ids.length !== items.length) throw new Error(`${items.length} notifications were given and ${ids.length} stored`);
            records = items.map((item, index) =>
              toRecord(owners[index]!, {
                id: ids[index]!,
                type: item.type,
                priority: item.priority ?? null,
                title: item.title ?? null,
                message: item.message ?? null,
                data: dataOf(item.data),
                event: item.event,
                created_at: String(createdAt),
                read_at: null,
                expires_at: expiries[index] === null ? null : String(expiries[index]),
              }),
            );
            // Until an inbox reaches the cap, an append costs no statement for retention.
            const overCap = inboxes.filter((row) => row.total > maxPerUser);
            if (overCap.length > 0) Object.assign(removed, await enforceRetention(tx, overCap, at));
          }
          if (idempotencyKey !== undefined) {
            const result: IdempotentResult = { notificationIds: records.map((record) => record.id), answer: answer?.(records) };
            // Replaces an expired key not yet purged.
            await tx.query(
              `INSERT INTO inbox_idempotency_keys (key, result, expires_at) VALUES ($1, $2, $3)
               ON CONFLICT (key) DO UPDATE SET result = excluded.result, expires_at = excluded.expires_at`,
              [idempotencyKey, JSON.stringify(result), at.now + retentionMs],
            );
          }
          return { value: { records, replayed: false }, effects: { stored: records.length, ...removed } };
        });
      });
    },

    list(owner, { limit, before, unreadOnly }) {
      return tracked(async () => {
        if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw new AppError('INVALID_REQUEST', 'limit must be an integer from 1 to 100');
        const beforeId = before === undefined ? NO_BOUND : parseId(before);
        if (beforeId === undefined) throw new AppError('INVALID_REQUEST', 'before must be a notification id');
        const key = ownerKey(owner);
        const at = moment();
        const rows = await db.read<NotificationRow>(
          'read the inbox',
          `SELECT ${ROW_COLUMNS} FROM ${OWNER_ROWS} AND n.id < $3 AND ${live(4, 5)} ${unreadOnly === true ? 'AND n.read_at IS NULL' : ''}
           ORDER BY n.id DESC LIMIT $6`,
          [key.tenant, key.user, String(beforeId), at.cutoff, at.now, limit + 1],
        );
        const page = rows.slice(0, limit).map((row) => toRecord(key, row));
        const last = page.at(-1);
        return rows.length > limit && last !== undefined ? { notifications: page, nextBefore: last.id } : { notifications: page };
      });
    },

    get(owner, id) {
      return tracked(async () => {
        const numeric = parseId(id);
        if (numeric === undefined) return undefined;
        const key = ownerKey(owner);
        const at = moment();
        const [row] = await db.read<NotificationRow>('read the inbox', `SELECT ${ROW_COLUMNS} FROM ${OWNER_ROWS} AND n.id = $3 AND ${live(4, 5)}`, [
          key.tenant,
          key.user,
          String(numeric),
          at.cutoff,
          at.now,
        ]);
        return row === undefined ? undefined : toRecord(key, row);
      });
    },

    unreadCount(owner) {
      return tracked(async () => {
        const key = ownerKey(owner);
        const at = moment();
        // The counter, minus the expired unread rows not yet purged: two index ranges over just those.
        const [row] = await db.read<{ unread: number }>(
          'count unread notifications',
          `SELECT i.unread - (
             SELECT count(*) FROM notifications n
             WHERE n.inbox_id = i.id AND n.read_at IS NULL AND ${expired(3, 4)}
           )::int AS unread
           FROM inboxes i WHERE i.tenant_id = $1 AND i.user_id = $2`,
          [key.tenant, key.user, at.cutoff, at.now],
        );
        return row?.unread ?? 0;
      });
    },

    unreadCounts(owners) {
      return tracked(async () => {
        if (owners.length === 0) return [];
        const keys = owners.map(ownerKey);
        const at = moment();
        const rows = await db.read<{ ord: string; unread: number }>(
          'count unread notifications',
          `SELECT o.ord, COALESCE(i.unread - (
             SELECT count(*) FROM notifications n
             WHERE n.inbox_id = i.id AND n.read_at IS NULL AND ${expired(3, 4)}
           ), 0)::int AS unread
           FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS o(tenant_id, user_id, ord)
           LEFT JOIN inboxes i ON i.tenant_id = o.tenant_id AND i.user_id = o.user_id`,
          [keys.map((key) => key.tenant), keys.map((key) => key.user), at.cutoff, at.now],
        );
        const counts = new Array<number>(owners.length).fill(0);
        for (const row of rows) counts[Number(row.ord) - 1] = row.unread;
        return counts;
      });
    },

    markRead(owner, ids, readAt) {
      return tracked(async () => {
        const readAtMs = parseTime(readAt, 'readAt');
        const key = ownerKey(owner);
        const wanted = ids === 'all' ? 'all' : [...new Set(ids)].filter((id) => parseId(id) !== undefined);
        if (wanted !== 'all' && wanted.length === 0) return [];
        return write('mark notifications read', [key], async (tx, at) => {
          const [inbox] = await tx.query<{ id: string }>('SELECT id FROM inboxes WHERE tenant_id = $1 AND user_id = $2 FOR UPDATE', [key.tenant, key.user]);
          if (inbox === undefined) return { value: [] };
          const rows = await tx.query<{ id: string }>(
            `UPDATE notifications n SET read_at = $2 WHERE n.inbox_id = $1 AND n.read_at IS NULL AND ${live(3, 4)}
             ${wanted === 'all' ? '' : 'AND n.id = ANY($5::bigint[])'} RETURNING n.id`,
            wanted === 'all' ? [inbox.id, readAtMs, at.cutoff, at.now] : [inbox.id, readAtMs, at.cutoff, at.now, wanted],
          );
          const changedIds = new Set(rows.map((row) => row.id));
          const changed = wanted === 'all' ? [...changedIds].sort((a, b) => ms(a) - ms(b)) : wanted.filter((id) => changedIds.has(id));
          if (changed.length > 0) await tx.query('UPDATE inboxes SET unread = unread - $2 WHERE id = $1', [inbox.id, changed.length]);
          return { value: changed, effects: { read: changed.length } };
        });
      });
    },

    remove(owner, id) {
      return tracked(async () => {
        const numeric = parseId(id);
        if (numeric === undefined) return false;
        const key = ownerKey(owner);
        return write('delete a notification', [key], async (tx, at) => {
          const [inbox] = await tx.query<{ id: string }>('SELECT id FROM inboxes WHERE tenant_id = $1 AND user_id = $2 FOR UPDATE', [key.tenant, key.user]);
          if (inbox === undefined) return { value: false };
          const [removed] = await tx.query<{ unread: boolean }>(
            `DELETE FROM notifications n WHERE n.id = $2 AND n.inbox_id = $1 AND ${live(3, 4)} RETURNING n.read_at IS NULL AS unread`,
            [inbox.id, String(numeric), at.cutoff, at.now],
          );
          if (removed === undefined) return { value: false };
          await tx.query('UPDATE inboxes SET total = total - 1, unread = unread - $2 WHERE id = $1', [inbox.id, removed.unread ? 1 : 0]);
          return { value: true, effects: { deleted: 1 } };
        });
      });
    },
  };
}
