import type { Response } from 'express';
import {
  TEST_HELPER_DEFAULTS,
  socketTestAlarmBodySchema,
  socketTestBroadcastBodySchema,
  socketTestEmailBodySchema,
  socketTestEventBodySchema,
  socketTestNotificationBodySchema,
  socketTestResponseSchema,
  type BroadcastPayload,
  type SocketTestNotificationBody,
  type SocketTestResponse,
} from '../../contracts/test-helpers.js';
import type { Identity } from '../../domain/identity.js';
import {
  alarmNotification,
  emailNotification,
  orDefault,
  sendTestNotification,
  upcomingEventNotification,
  type TestNotification,
} from '../../domain/test-notifications.js';
import type { HttpDependencies } from '../dependencies.js';
import { defineRoute, type ResponseSpec } from '../route-definition.js';
import { contextOf } from '../request-context.js';

/** The caller: the `testHelper` guard has verified the Bearer token, so the identity is there. */
const callerOf = (res: Response): Identity => contextOf(res).identity!;

const answered: Record<number, ResponseSpec> = {
  200: { description: 'Sent', schema: socketTestResponseSchema },
  503: { description: 'Storage unavailable: nothing was stored or delivered' },
};

const NOTE = {
  delivered: 'User is connected, notification delivered',
  stored: 'User not connected, notification stored in their inbox for when they connect',
} as const;

const STORED = "Stored in the caller's own inbox first, then sent to the caller's sockets as `notification` (with `notification:new` and `notification:unread-count`).";

/**
 * A route that sends the caller a notification built from the request body (`build`),
 * stored in their inbox, and answers seed 004's `{ ok, message, userConnected, note }`.
 */
function selfNotificationHandler<B>(kind: string, answer: string, build: (body: B, now: number) => TestNotification) {
  return ({ inbox, metrics }: HttpDependencies) =>
    async ({ body }: { body: B }, _req: unknown, res: Response) => {
      const caller = callerOf(res);
      const now = Date.now();
      const { record, recipients } = await sendTestNotification(inbox, caller, build(body, now), new Date(now).toISOString());
      metrics.markDelivery(`socket-test-${kind}`, 'notification', recipients);
      const delivered = recipients > 0;
      const response: SocketTestResponse = {
        ok: true,
        message: answer,
        userConnected: delivered,
        note: delivered ? NOTE.delivered : NOTE.stored,
        notificationId: record.id,
      };
      res.json(response);
    };
}

/**
 * The development test helpers over HTTP (seed 004's `/socket/test/*`): each sends a
 * notification to the caller (the user of the Bearer token) or, `broadcast`, an
 * announcement to every socket. The `testHelper` access mounts them only while the test
 * helpers are on; otherwise they are 404 like any unknown route and absent from /openapi.json.
 */
export const socketTestRoutes = [
  defineRoute({
    method: 'post',
    path: '/socket/test/notification',
    access: 'testHelper',
    summary: 'Development helper: send yourself a notification `{ type, title, message, data? }`',
    description: STORED,
    body: socketTestNotificationBodySchema,
    responses: answered,
    handler: selfNotificationHandler('notification', 'Notification sent via Socket.IO', (body: SocketTestNotificationBody) => {
      const defaults = TEST_HELPER_DEFAULTS.notification;
      return {
        type: orDefault(body.type, defaults.type),
        title: orDefault(body.title, defaults.title),
        message: orDefault(body.message, defaults.message),
        data: body.data,
      };
    }),
  }),

  defineRoute({
    method: 'post',
    path: '/socket/test/email',
    access: 'testHelper',
    summary: 'Development helper: send yourself a "new email" notification (`From: …\\nSubject: …`)',
    description: STORED,
    body: socketTestEmailBodySchema,
    responses: answered,
    handler: selfNotificationHandler('email', 'Email notification sent', emailNotification),
  }),

  defineRoute({
    method: 'post',
    path: '/socket/test/event',
    access: 'testHelper',
    summary: 'Development helper: send yourself an "upcoming event" notification (`<title> at <time>`)',
    description: STORED,
    body: socketTestEventBodySchema,
    responses: answered,
    handler: selfNotificationHandler('event', 'Event notification sent', upcomingEventNotification),
  }),

  defineRoute({
    method: 'post',
    path: '/socket/test/alarm',
    access: 'testHelper',
    summary: 'Development helper: send yourself an alarm notification',
    description: STORED,
    body: socketTestAlarmBodySchema,
    responses: answered,
    handler: selfNotificationHandler('alarm', 'Alarm notification sent', alarmNotification),
  }),

  defineRoute({
    method: 'post',
    path: '/socket/test/broadcast',
    access: 'testHelper',
    summary: 'Development helper: send the `broadcast` event `{ title, message, from, timestamp }` to every connected socket',
    description: '`from` is the user id of the token. Nothing is stored.',
    body: socketTestBroadcastBodySchema,
    responses: { 200: answered[200]! },
    handler:
      ({ gateway, metrics }) =>
      async ({ body }, _req, res) => {
        const caller = callerOf(res);
        const defaults = TEST_HELPER_DEFAULTS.broadcast;
        const payload: BroadcastPayload = {
          title: orDefault(body.title, defaults.title),
          message: orDefault(body.message, defaults.message),
          from: caller.userId,
          timestamp: new Date().toISOString(),
        };
        const [own, stats] = await Promise.all([gateway.connectionsOf(caller.userId, caller.tenantId), gateway.stats()]);
        const recipients = await gateway.broadcast('broadcast', payload);
        metrics.markDelivery('socket-test-broadcast', 'broadcast', recipients);
        const response: SocketTestResponse = {
          ok: true,
          message: 'Broadcast sent to all connected users',
          userConnected: own > 0,
          note: `Delivered to ${recipients} connected socket${recipients === 1 ? '' : 's'}`,
          connectedUsers: stats.users,
        };
        res.json(response);
      },
  }),
];
