import Database from 'better-sqlite3';
import { systemClock, type Clock } from '../../src/domain/clock.js';
import type { InboxOwner, InboxStore, InboxStoreObserver, NewNotification, NotificationRecord } from '../../src/domain/inbox-store.js';
import { createSqliteInboxStore, type SqliteInboxStore, type SqliteInboxStoreOptions } from '../../src/storage/sqlite/sqlite-inbox-store.js';
import { silentLogger } from './chat-store-harness.js';

export const DAY_MS = 24 * 3600 * 1000;

/** Opens the SQLite inbox store on `file`, with a silent logger, real time and a 90-day retention unless told otherwise. */
export async function openSqliteInbox(file: string, options: Partial<SqliteInboxStoreOptions> = {}): Promise<SqliteInboxStore> {
  const store = createSqliteInboxStore({
    file,
    maxPerUser: 1000,
    retentionMs: 90 * DAY_MS,
    clock: systemClock satisfies Clock,
    logger: silentLogger(),
    ...options,
  });
  await store.open();
  return store;
}

export function notificationFor(owner: InboxOwner, fields: Partial<NewNotification> = {}): NewNotification {
  return { ...owner, type: 'info', event: 'notification', ...fields };
}

/** Every notification of `owner`, newest first, read page by page as a client would. */
export async function readInbox(store: InboxStore, owner: InboxOwner): Promise<NotificationRecord[]> {
  const all: NotificationRecord[] = [];
  let before: string | undefined;
  do {
    const page = await store.list(owner, { limit: 100, before });
    all.push(...page.notifications);
    before = page.nextBefore;
  } while (before !== undefined);
  return all;
}

/** An observer that adds up what the store reports. */
export function recordingObserver(): { observer: InboxStoreObserver; totals: Record<string, number>; latencies: number[] } {
  const totals: Record<string, number> = { stored: 0, read: 0, deleted: 0, expired: 0, over_cap: 0 };
  const latencies: number[] = [];
  const add = (name: string, count: number) => {
    totals[name] = (totals[name] ?? 0) + count;
  };
  return {
    totals,
    latencies,
    observer: {
      stored: (count) => add('stored', count),
      read: (count) => add('read', count),
      deleted: (count) => add('deleted', count),
      expired: (count, reason) => add(reason, count),
      writeLatency: (seconds) => latencies.push(seconds),
    },
  };
}

/**
 * A second, independent connection to the database file, to look at what is on disk
 * while the store has it open (SQLite's WAL mode allows readers beside the writer).
 */
export function inspectDatabase(file: string) {
  const db = new Database(file);
  return {
    /** Frames in the write-ahead log: every commit adds at least one, so N commits add at least N. */
    walFrames(): number {
      const [result] = db.pragma('wal_checkpoint(PASSIVE)') as { log: number }[];
      return result?.log ?? 0;
    },
    /** Copies the log into the database and empties it, so the next walFrames() counts from zero. */
    resetWal(): void {
      const [result] = db.pragma('wal_checkpoint(TRUNCATE)') as { busy: number }[];
      if (result?.busy !== 0) throw new Error('the WAL could not be reset: a transaction is open');
    },
    rows(table: 'notifications' | 'inboxes' | 'idempotency_keys'): number {
      return (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
    },
    integrityCheck(): string {
      return db.pragma('integrity_check', { simple: true }) as string;
    },
    close(): void {
      db.close();
    },
  };
}
