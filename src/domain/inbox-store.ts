import type { NotificationPriority, NotificationRecord } from '../contracts/inbox.js';

export type { NotificationPriority, NotificationRecord } from '../contracts/inbox.js';

/** Whose inbox: the same user id in two tenants is two inboxes. */
export interface InboxOwner {
  userId: string;
  tenantId?: string | undefined;
}

/** A notification to store, before the store gives it an id, createdAt and readAt. */
export interface NewNotification extends InboxOwner {
  type: string;
  priority?: NotificationPriority | undefined;
  title?: string | undefined;
  message?: string | undefined;
  data?: unknown;
  event: string;
  expiresAt?: string | undefined;
}

/** What an idempotent append remembers of its first call, returned to every retry. */
export interface IdempotentResult {
  notificationIds: string[];
  /** The answer the caller built the first time (e.g. the HTTP response), stored as JSON. */
  answer: unknown;
}

export interface ListOptions {
  /** 1..100. */
  limit: number;
  /** Only notifications with an id less than this (the previous page's `nextBefore`). */
  before?: string | undefined;
  unreadOnly?: boolean | undefined;
}

/**
 * Durable per-user notification inboxes (seed 003). The embedded implementation keeps a
 * SQLite database under the data directory; the PostgreSQL one (DATABASE_URL) keeps rows
 * that several servers share. Both pass the same contract tests
 * (test/unit/inbox-store-contract.test.ts).
 *
 * Guarantees every implementation gives:
 * - `append` resolves only once every record is durable (for the embedded store: after
 *   fsync), all of one call in one write: a resolved append is never lost; a rejected one
 *   stored nothing.
 * - Ids are unique and increase with time within an inbox, so "newest first" is "greatest
 *   id first" and `before` pages are stable while new notifications arrive.
 * - Counts are exact (never capped) and cost O(1) in the number of notifications.
 * - Expired notifications (`expiresAt` passed, or older than the retention period) are
 *   absent from lists and counts as soon as they expire, without a restart; each inbox
 *   keeps at most its cap (the oldest read ones go first, then the oldest).
 * - Another owner's id, or an unknown id, changes nothing (`markRead` and `remove` report
 *   that nothing changed).
 * - Failures to persist reject with AppError('STORAGE_UNAVAILABLE') and `isWritable()`
 *   turns false until a write succeeds again.
 */
export interface InboxStore {
  open(): Promise<void>;
  /** Flushes pending writes and releases the storage. Idempotent. */
  close(): Promise<void>;
  isWritable(): boolean;

  /**
   * Stores one notification per item, all in one durable write, and resolves with the
   * records in the order given. With `idempotencyKey`: when that key was used before (and
   * has not expired), nothing is stored and the first call's result is returned with
   * `replayed: true`; otherwise the key is stored in the same write, with `answer` (built
   * from the new records) as the result later retries get.
   */
  append(
    items: readonly NewNotification[],
    options?: { idempotencyKey?: string | undefined; answer?: (records: readonly NotificationRecord[]) => unknown },
  ): Promise<{ records: NotificationRecord[]; replayed: false } | { replayed: true; result: IdempotentResult }>;

  /** The owner's notifications, newest first. */
  list(owner: InboxOwner, options: ListOptions): Promise<{ notifications: NotificationRecord[]; nextBefore?: string }>;
  /** One notification, or undefined (also for another owner's id). */
  get(owner: InboxOwner, id: string): Promise<NotificationRecord | undefined>;
  unreadCount(owner: InboxOwner): Promise<number>;
  /** The exact unread counts of several inboxes, in the order given, read at one moment (a push to 1,000 users announces 1,000 counts). */
  unreadCounts(owners: readonly InboxOwner[]): Promise<number[]>;
  /** Marks unread notifications read at `readAt`; resolves with the ids that changed (already read, unknown or foreign ids are left out). */
  markRead(owner: InboxOwner, ids: readonly string[] | 'all', readAt: string): Promise<string[]>;
  /** Resolves true when the owner's notification existed and is now gone. */
  remove(owner: InboxOwner, id: string): Promise<boolean>;
}

/**
 * What a store tells the composition root (metrics) after each change has become durable:
 * numbers of notifications, never their content.
 */
export interface InboxStoreObserver {
  stored(count: number): void;
  read(count: number): void;
  /** Removed by their owner. */
  deleted(count: number): void;
  /** Removed by retention: past `expiresAt` or the retention period, or beyond the per-user cap. */
  expired(count: number, reason: 'expired' | 'over_cap'): void;
  /** Seconds from a write's call until it was durable (or failed). */
  writeLatency(seconds: number): void;
}
