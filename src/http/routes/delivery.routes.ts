import { randomUUID } from 'node:crypto';
import {
  broadcastBodySchema,
  deliveryResponseSchema,
  notifyBodySchema,
  notifyResponseSchema,
  pushBodySchema,
  pushResponseSchema,
  roomBodySchema,
  type NotifyResponse,
} from '../../contracts/schemas.js';
import { defineRoute } from '../route-definition.js';
import { runBroadcast, runPush, runRoom } from './delivery-ops.js';

/** Cluster mode while this node cannot reach Redis (docs/scaling.md): it sends nothing rather than claim deliveries. */
const clusterDown = { description: 'SERVICE_UNAVAILABLE (cluster mode): this node cannot reach Redis; nothing was sent' };

/**
 * Delivery endpoints: a backend pushes an event and it reaches sockets now (and, for a
 * stored push, the users' inboxes first). POST /notify keeps seed 000's exact shapes;
 * /api/push, /api/broadcast and /api/room are seed 002's.
 * Server to server: the API key itself, never a user token. Each delivery is mirrored to
 * the `kafka-events` monitoring stream (topics `notify`, `api.push`, `api.broadcast`,
 * `api.room`) as `{ event, data, <target>, recipients }`.
 */
export const deliveryRoutes = [
  defineRoute({
    method: 'post',
    path: '/notify',
    access: 'apiKey',
    summary: 'Broadcast a notification to every connected socket',
    description: 'Failures answer `{ error: "Failed to send notification", message, code, requestId }`.',
    failureTitle: 'Failed to send notification',
    body: notifyBodySchema,
    responses: { 200: { description: 'Delivered', schema: notifyResponseSchema }, 503: clusterDown },
    handler:
      ({ gateway, metrics, mirror }) =>
      async ({ body }, _req, res) => {
        const id = typeof body.id === 'string' || typeof body.id === 'number' ? String(body.id) : randomUUID();
        const timestamp = typeof body.timestamp === 'string' ? body.timestamp : new Date().toISOString();
        // Delivered exactly as sent, with id and timestamp added only when absent.
        const notification = { ...body, id: body.id ?? id, timestamp: body.timestamp ?? timestamp };
        const recipients = await gateway.broadcast('notification', notification);
        metrics.markDelivery('notify', 'notification', recipients);
        mirror.publish('notify', { event: 'notification', data: notification, recipients });
        const response: NotifyResponse = { message: 'Notification sent successfully', recipients, id, timestamp };
        res.json(response);
      },
  }),

  defineRoute({
    method: 'post',
    path: '/api/push',
    access: 'apiKey',
    summary: 'Push an event to one user or up to 1000 users, storing it in their inboxes first with `persist`',
    description:
      "With `persist: true` (default: PERSIST_NOTIFICATIONS) the notification is stored in each user's inbox, " +
      'all users in one durable write, before the answer; the answer adds `notificationIds`. ' +
      'A retry with the same `idempotencyKey` gets the first answer (header `Idempotent-Replayed: true`) and stores and delivers nothing. ' +
      'Keys are per tenant; a key used again for a different push (users, event, data, persist, ttlSeconds or priority) is refused with 422 IDEMPOTENCY_KEY_REUSED.',
    body: pushBodySchema,
    responses: {
      200: { description: 'Delivered (`delivered: false` when no socket of theirs is connected)', schema: pushResponseSchema },
      422: { description: 'IDEMPOTENCY_KEY_REUSED: the key was used for a different push; nothing was stored or delivered' },
      503: {
        description:
          'STORAGE_UNAVAILABLE: nothing was stored or delivered; or SERVICE_UNAVAILABLE (cluster mode): this node cannot reach Redis, and nothing was stored or sent',
      },
    },
    handler: (deps) => async ({ body }, _req, res) => {
      const { response, replayed } = await runPush(deps, body);
      if (replayed) res.set('Idempotent-Replayed', 'true');
      res.json(response);
    },
  }),

  defineRoute({
    method: 'post',
    path: '/api/broadcast',
    access: 'apiKey',
    summary: 'Broadcast an event to every connected socket',
    body: broadcastBodySchema,
    responses: { 200: { description: 'Delivered', schema: deliveryResponseSchema }, 503: clusterDown },
    handler: (deps) => async ({ body }, _req, res) => {
      res.json(await runBroadcast(deps, body));
    },
  }),

  defineRoute({
    method: 'post',
    path: '/api/room',
    access: 'apiKey',
    summary: 'Emit an event to every socket in a room',
    body: roomBodySchema,
    responses: { 200: { description: 'Delivered', schema: deliveryResponseSchema }, 503: clusterDown },
    handler: (deps) => async ({ body }, _req, res) => {
      res.json(await runRoom(deps, body));
    },
  }),
];

