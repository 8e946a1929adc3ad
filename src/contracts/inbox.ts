/**
 * The notification inbox on the wire (seeds 003 and 004): what `notification:*` events,
 * their acks and the `/api/users/:userId/notifications` routes carry.
 */

export const NOTIFICATION_PRIORITIES = ['LOW', 'NORMAL', 'HIGH', 'URGENT'] as const;

export type NotificationPriority = (typeof NOTIFICATION_PRIORITIES)[number];

/** One stored notification, as clients receive it. */
export interface NotificationRecord {
  /** Server-assigned, unique, and ordered: a later notification of a user has a greater id. */
  id: string;
  userId: string;
  tenantId?: string;
  /** 'info' | 'success' | 'warning' | 'error', or any string of at most 32 characters. */
  type: string;
  priority?: NotificationPriority;
  title?: string;
  message?: string;
  data?: unknown;
  /** The event the push was emitted as (default `notification`). */
  event: string;
  createdAt: string;
  readAt: string | null;
  expiresAt?: string;
}

/** A page of a user's inbox, newest first. `nextBefore` is the `before` of the next page. */
export interface NotificationPage {
  notifications: NotificationRecord[];
  nextBefore?: string;
  unreadCount: number;
}

export interface UnreadCountPayload {
  count: number;
}

export type MarkedReadPayload =
  | { notificationIds: string[]; readAt: string }
  | { all: true; readAt: string; changed: number };

export interface NotificationDeletedPayload {
  notificationId: string;
}
