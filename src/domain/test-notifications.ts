import type { NotificationPriority, NotificationRecord } from '../contracts/inbox.js';
import {
  TEST_HELPER_DEFAULTS,
  type SocketTestAlarmBody,
  type SocketTestEmailBody,
  type SocketTestEventBody,
  type TestNotificationEvent,
} from '../contracts/test-helpers.js';
import type { InboxService } from './inbox-service.js';
import type { InboxOwner } from './inbox-store.js';

/**
 * What the development test helpers send, shared by the `test:notification` socket event
 * and `POST /socket/test/*`: a notification in seed 004's shape, stored in the caller's own
 * inbox and delivered to the caller's sockets. Nothing here reaches another user.
 */

/** A notification before it is sent: seed 004's `{ type, title, message, data? }`, and seed 003's priority. */
export interface TestNotification {
  type: string;
  priority?: NotificationPriority | undefined;
  title: string;
  message: string;
  data?: unknown;
}

export interface SentTestNotification {
  /** The record stored in the caller's inbox. */
  record: NotificationRecord;
  /** The caller's sockets connected when it was stored, each then handed the notification (0: offline). */
  recipients: number;
}

/** An empty text is a missing one, as the seed's own `body.x || default` has it. */
export const orDefault = (value: string | undefined, fallback: string): string => (value === undefined || value === '' ? fallback : value);

/**
 * Stores `notification` in `owner`'s inbox (durably, before it resolves) and hands it to
 * their sockets: the `notification` event `{ type, title, message, data?, timestamp }` with
 * the record's `id` and `notificationId`, then `notification:new` and
 * `notification:unread-count`. Offline, the notification waits in the inbox.
 */
export async function sendTestNotification(
  inbox: InboxService,
  owner: InboxOwner,
  notification: TestNotification,
  timestamp: string,
): Promise<SentTestNotification> {
  const { priority, data, ...fields } = notification;
  // `data` is always a key of the payload, even when undefined: the inbox then stores it
  // as the record's data (nothing), rather than the payload's other fields (`timestamp`).
  const payload: TestNotificationEvent = { ...fields, ...(priority !== undefined ? { priority } : {}), data, timestamp };
  const outcome = await inbox.push({ userIds: [owner.userId], tenantId: owner.tenantId, event: 'notification', data: payload, persist: true, priority });
  const record = outcome.records?.[0];
  // A push with persist and no idempotency key always stores, one record per user.
  if (record === undefined) throw new Error('the inbox stored no record for a test notification');
  return { record, recipients: outcome.recipients };
}

/** "New email" (seed 004): `From: …\nSubject: …`, with `{ from, subject, id }` as its data. */
export function emailNotification(body: SocketTestEmailBody): TestNotification {
  const defaults = TEST_HELPER_DEFAULTS.email;
  const data = { from: orDefault(body.from, defaults.from), subject: orDefault(body.subject, defaults.subject), id: orDefault(body.id, defaults.id) };
  return { type: 'info', title: '📧 New Email', message: `From: ${data.from}\nSubject: ${data.subject}`, data };
}

/** "Upcoming event" (seed 004): `<title> at <time>`, with `{ title, time, location }` as its data. */
export function upcomingEventNotification(body: SocketTestEventBody, now: number): TestNotification {
  const defaults = TEST_HELPER_DEFAULTS.event;
  const data = {
    title: orDefault(body.title, defaults.title),
    time: orDefault(body.time, new Date(now + defaults.minutesAhead * 60_000).toISOString()),
    location: orDefault(body.location, defaults.location),
  };
  return { type: 'warning', title: '📅 Upcoming Event', message: `${data.title} at ${data.time}`, data };
}

/** "Alarm" (seed 004): the alarm's title as the message, with `{ title, time }` as its data. */
export function alarmNotification(body: SocketTestAlarmBody, now: number): TestNotification {
  const data = { title: orDefault(body.title, TEST_HELPER_DEFAULTS.alarm.title), time: orDefault(body.time, new Date(now).toISOString()) };
  return { type: 'warning', title: '⏰ Alarm', message: data.title, data };
}
