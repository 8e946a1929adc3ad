import { randomUUID } from 'node:crypto';
import { Router, type RequestHandler } from 'express';
import {
  broadcastBodySchema,
  notifyBodySchema,
  pushBodySchema,
  roomBodySchema,
  type DeliveryResponse,
  type NotifyResponse,
  type PushResponse,
} from '../../contracts/schemas.js';
import type { RealtimeGateway } from '../../domain/realtime-gateway.js';
import type { Metrics } from '../../observability/metrics.js';
import { withBody } from '../middleware/validate.js';
import { contextOf } from '../request-context.js';

/** Seed 000's failure shape for /notify carries this title. */
const notifyFailureTitle: RequestHandler = (_req, res, next) => {
  contextOf(res).failureTitle = 'Failed to send notification';
  next();
};

/**
 * Delivery endpoints: a backend pushes an event and it reaches sockets now. POST /notify
 * keeps seed 000's exact shapes; /api/push, /api/broadcast and /api/room are seed 002's.
 * `guard` runs before each (API key, rate limit, JSON body, signature).
 */
export function createDeliveryRoutes(deps: { gateway: RealtimeGateway; metrics: Metrics }, guard: RequestHandler[]): Router {
  const { gateway, metrics } = deps;
  const router = Router();

  router.post(
    '/notify',
    notifyFailureTitle,
    ...guard,
    withBody(notifyBodySchema, async (body, _req, res) => {
      const id = typeof body.id === 'string' || typeof body.id === 'number' ? String(body.id) : randomUUID();
      const timestamp = typeof body.timestamp === 'string' ? body.timestamp : new Date().toISOString();
      // Delivered exactly as sent, with id and timestamp added only when absent.
      const notification = { ...body, id: body.id ?? id, timestamp: body.timestamp ?? timestamp };
      const recipients = await gateway.broadcast('notification', notification);
      metrics.markDelivery('notify', 'notification', recipients);
      const response: NotifyResponse = { message: 'Notification sent successfully', recipients, id, timestamp };
      res.json(response);
    }),
  );

  router.post(
    '/api/push',
    ...guard,
    withBody(pushBodySchema, async (body, _req, res) => {
      const userIds = body.userIds ?? (body.userId !== undefined ? [body.userId] : []);
      const recipients = await gateway.emitToUsers({ userIds, tenantId: body.tenantId }, body.event, body.data);
      metrics.markDelivery('push', body.event, recipients);
      const response: PushResponse = {
        success: true,
        delivered: recipients > 0,
        recipients,
        messageId: randomUUID(),
        timestamp: new Date().toISOString(),
      };
      res.json(response);
    }),
  );

  router.post(
    '/api/broadcast',
    ...guard,
    withBody(broadcastBodySchema, async (body, _req, res) => {
      const recipients = await gateway.broadcast(body.event, body.data);
      metrics.markDelivery('broadcast', body.event, recipients);
      res.json(deliveryResponse(recipients));
    }),
  );

  router.post(
    '/api/room',
    ...guard,
    withBody(roomBodySchema, async (body, _req, res) => {
      const recipients = await gateway.emitToRoom(body.room, body.event, body.data);
      metrics.markDelivery('room', body.event, recipients);
      res.json(deliveryResponse(recipients));
    }),
  );

  return router;
}

function deliveryResponse(recipients: number): DeliveryResponse {
  return { success: true, recipients, messageId: randomUUID(), timestamp: new Date().toISOString() };
}
