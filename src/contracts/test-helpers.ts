import { z } from 'zod';
import { NOTIFICATION_PRIORITIES, type NotificationRecord } from './inbox.js';

/**
 * The development test helpers on the wire: the `test:notification` socket event, the
 * `POST /socket/test/*` endpoints and the `broadcast` event the last of them sends. They
 * exist only while the server's test helpers are on (outside production, or with
 * ENABLE_TEST_ENDPOINTS=true); otherwise the socket event answers UNKNOWN_ACTION and the
 * endpoints 404, as if they had never existed.
 *
 * Every text field of a body is optional: missing or empty, it takes the default named in
 * its description, so a bare `curl -X POST` already sends something to look at.
 */

/** A notification's `type`, as the inbox stores it (empty: the default). */
const notificationTypeSchema = z
  .string()
  .max(32)
  .meta({ description: "'info' | 'success' | 'warning' | 'error', or any type of at most 32 characters", example: 'info' });

const text = (max: number, description: string, example: string) => z.string().max(max).optional().meta({ description, example });
const title = (fallback: string, example: string) => text(1000, `Default: "${fallback}"`, example);
const message = (fallback: string, example: string) => text(10_000, `Default: "${fallback}"`, example);

/** The defaults of the fields above, where the handlers apply them (a time default is "now"). */
export const TEST_HELPER_DEFAULTS = {
  notification: { type: 'info', title: '🧪 Test Notification', message: 'This is a test notification via Socket.IO!' },
  email: { from: 'Test Sender <test@example.com>', subject: 'Test Email Subject', id: 'test-email-id' },
  event: { title: 'Test Meeting', location: 'Conference Room A', minutesAhead: 5 },
  alarm: { title: 'Test Alarm' },
  broadcast: { title: '📢 Broadcast Message', message: 'This is a broadcast to all connected users!' },
} as const;

const { notification, email, event, alarm, broadcast } = TEST_HELPER_DEFAULTS;

// ---- Socket: test:notification (client → server) ----

/** `test:notification`: every field optional; absent, the payload is `{}`. */
export const testNotificationPayloadSchema = z
  .object({
    type: notificationTypeSchema.optional(),
    priority: z.enum(NOTIFICATION_PRIORITIES).optional(),
    title: title(notification.title, 'Test Notification'),
    message: message(notification.message, 'This is a test'),
    data: z.unknown().optional(),
  })
  .optional();

export type TestNotificationPayload = z.input<typeof testNotificationPayloadSchema>;

/** `test:notification`'s answer, on its ack and on `test:notification:ack`: the record stored in the caller's inbox. */
export interface TestNotificationReply {
  success: true;
  notification: NotificationRecord;
}

// ---- HTTP: POST /socket/test/* bodies ----

export const socketTestNotificationBodySchema = z
  .object({
    type: notificationTypeSchema.optional().meta({ description: `Default: "${notification.type}"` }),
    title: title(notification.title, 'Test'),
    message: message(notification.message, 'Hello from Socket.IO!'),
    data: z.unknown().optional().meta({ description: 'Any JSON, delivered and stored as the notification\'s `data`' }),
  })
  .meta({ id: 'SocketTestNotificationRequest' });

export const socketTestEmailBodySchema = z
  .object({
    from: text(1000, `Default: "${email.from}"`, 'sender@example.com'),
    subject: text(1000, `Default: "${email.subject}"`, 'Test Email'),
    id: text(128, `Default: "${email.id}"`, 'abc123'),
  })
  .meta({ id: 'SocketTestEmailRequest' });

export const socketTestEventBodySchema = z
  .object({
    title: title(event.title, 'Team Meeting'),
    time: text(100, `Any text; default: ${event.minutesAhead} minutes from now, ISO 8601`, '2025-12-08T15:00:00Z'),
    location: text(1000, `Default: "${event.location}"`, 'Conference Room A'),
  })
  .meta({ id: 'SocketTestEventRequest' });

export const socketTestAlarmBodySchema = z
  .object({
    title: title(alarm.title, 'Wake up!'),
    time: text(100, 'Any text; default: now, ISO 8601', '2025-12-08T07:00:00.000Z'),
  })
  .meta({ id: 'SocketTestAlarmRequest' });

export const socketTestBroadcastBodySchema = z
  .object({
    title: title(broadcast.title, 'System Announcement'),
    message: message(broadcast.message, 'Server maintenance in 10 minutes'),
  })
  .meta({ id: 'SocketTestBroadcastRequest' });

export type SocketTestNotificationBody = z.output<typeof socketTestNotificationBodySchema>;
export type SocketTestEmailBody = z.output<typeof socketTestEmailBodySchema>;
export type SocketTestEventBody = z.output<typeof socketTestEventBodySchema>;
export type SocketTestAlarmBody = z.output<typeof socketTestAlarmBodySchema>;
export type SocketTestBroadcastBody = z.output<typeof socketTestBroadcastBodySchema>;

export const socketTestResponseSchema = z
  .object({
    ok: z.literal(true),
    message: z.string().meta({ example: 'Notification sent via Socket.IO' }),
    userConnected: z.boolean().meta({ description: 'Whether the caller had a socket connected when it was sent' }),
    note: z.string().meta({ example: 'User is connected, notification delivered' }),
    notificationId: z
      .string()
      .optional()
      .meta({ description: "The notification stored in the caller's inbox (every endpoint but broadcast)" }),
    connectedUsers: z.number().int().optional().meta({ description: 'broadcast: users with a socket connected' }),
  })
  .meta({ id: 'SocketTestResponse' });

export type SocketTestResponse = z.infer<typeof socketTestResponseSchema>;

// ---- Server → client ----

/** The `notification` event the helpers send (seed 004's shape), plus the inbox's `id` and `notificationId`. */
export interface TestNotificationEvent {
  type: string;
  priority?: (typeof NOTIFICATION_PRIORITIES)[number];
  title: string;
  message: string;
  data?: unknown;
  timestamp: string;
}

/** `broadcast`, to every connected socket: `from` is the user id of the token that asked. */
export interface BroadcastPayload {
  title: string;
  message: string;
  from: string;
  timestamp: string;
}
