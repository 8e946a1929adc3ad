import type { NotificationPage, NotificationPriority, NotificationRecord } from '../contracts/inbox.js';
import type { InboxOwner, ListOptions } from './inbox-store.js';

/**
 * The inbox's rules, shared by every transport: HTTP routes and socket handlers call these
 * methods and never the store, and every change reaches all of the owner's sockets (every
 * device) with the same events, whichever transport made it:
 * - a stored push: `notification:new` <record> and `notification:unread-count` { count },
 *   besides the push's own event (default `notification`) carrying the record's id;
 * - a read: `notification:marked-read` then `notification:unread-count`;
 * - a delete: `notification:deleted` then `notification:unread-count`.
 *
 * Failures are AppErrors with catalog codes: an unknown id, or another owner's, is
 * NOT_FOUND and changes nothing; storage failures are STORAGE_UNAVAILABLE.
 */
export interface InboxService {
  /**
   * Delivers a push to users' sockets; with `persist`, stores one record per user first
   * (one durable write for all of them) and resolves only once they are durable. With an
   * `idempotencyKey`, a retry resolves with the first call's outcome and neither stores
   * nor delivers again.
   */
  push(input: PushInput): Promise<PushOutcome>;
  list(owner: InboxOwner, options: ListOptions): Promise<NotificationPage>;
  unreadCount(owner: InboxOwner): Promise<number>;
  /** Marks read; resolves with how many changed (ids that were unread). NOT_FOUND when a single given id is not the owner's. */
  markRead(owner: InboxOwner, ids: readonly string[] | 'all'): Promise<{ changed: number; notificationIds: string[]; readAt: string }>;
  /** NOT_FOUND when the id is not the owner's. */
  remove(owner: InboxOwner, id: string): Promise<void>;
}

export interface PushInput {
  userIds: readonly string[];
  tenantId?: string | undefined;
  event: string;
  data: unknown;
  persist: boolean;
  /** Seconds until the stored records expire (`expiresAt`); the retention period bounds it. */
  ttlSeconds?: number | undefined;
  idempotencyKey?: string | undefined;
  /** Overrides for the record; otherwise taken from `data` when it has them (seed 004's `{ type, title, message, data }`). */
  priority?: NotificationPriority | undefined;
}

export interface PushOutcome {
  /** Sockets the push was handed to on this node. */
  recipients: number;
  /** One per user, in `userIds` order, when persisted. */
  notificationIds?: string[];
  /** The records stored, in `userIds` order (for the caller's own use; not all transports answer them). */
  records?: NotificationRecord[];
  /** True when this was a retry of an earlier call with the same idempotency key. */
  replayed: boolean;
  messageId: string;
  timestamp: string;
}
