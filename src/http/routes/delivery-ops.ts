import { randomUUID } from 'node:crypto';
import type { BroadcastBody, DeliveryResponse, PushBody, PushResponse, RoomBody } from '../../contracts/schemas.js';
import type { HttpDependencies } from '../dependencies.js';

/** What a delivery needs: the same for the single endpoints and for POST /api/batch. */
export type DeliveryDeps = Pick<HttpDependencies, 'gateway' | 'inbox' | 'metrics' | 'mirror' | 'config'>;

/**
 * POST /api/push's work, whoever asks: stored first when persisted, delivered, counted and
 * mirrored (a replayed idempotent push is neither delivered nor counted again). Answers the
 * endpoint's body and whether it was a replay (the endpoint says so in a header).
 */
export async function runPush(deps: DeliveryDeps, body: PushBody): Promise<{ response: PushResponse; replayed: boolean }> {
  const userIds = body.userIds ?? (body.userId !== undefined ? [body.userId] : []);
  const outcome = await deps.inbox.push({
    userIds,
    tenantId: body.tenantId,
    event: body.event,
    data: body.data,
    persist: body.persist ?? deps.config.inbox.persistByDefault,
    ttlSeconds: body.ttlSeconds,
    idempotencyKey: body.idempotencyKey,
    priority: body.priority,
  });
  if (!outcome.replayed) {
    deps.metrics.markDelivery('push', body.event, outcome.recipients);
    deps.mirror.publish('api.push', {
      event: body.event,
      data: body.data,
      userIds,
      ...(body.tenantId !== undefined ? { tenantId: body.tenantId } : {}),
      recipients: outcome.recipients,
      ...(outcome.notificationIds !== undefined ? { notificationIds: outcome.notificationIds } : {}),
    });
  }
  const response: PushResponse = {
    success: true,
    delivered: outcome.recipients > 0,
    recipients: outcome.recipients,
    messageId: outcome.messageId,
    timestamp: outcome.timestamp,
    ...(outcome.notificationIds !== undefined ? { notificationIds: outcome.notificationIds } : {}),
  };
  return { response, replayed: outcome.replayed };
}

/** POST /api/broadcast's work: every connected socket. */
export async function runBroadcast(deps: DeliveryDeps, body: BroadcastBody): Promise<DeliveryResponse> {
  const recipients = await deps.gateway.broadcast(body.event, body.data);
  deps.metrics.markDelivery('broadcast', body.event, recipients);
  deps.mirror.publish('api.broadcast', { event: body.event, data: body.data, recipients });
  return deliveryResponse(recipients);
}

/** POST /api/room's work: every socket in the room. */
export async function runRoom(deps: DeliveryDeps, body: RoomBody): Promise<DeliveryResponse> {
  const recipients = await deps.gateway.emitToRoom(body.room, body.event, body.data);
  deps.metrics.markDelivery('room', body.event, recipients);
  deps.mirror.publish('api.room', { event: body.event, data: body.data, room: body.room, recipients });
  return deliveryResponse(recipients);
}

function deliveryResponse(recipients: number): DeliveryResponse {
  return { success: true, recipients, messageId: randomUUID(), timestamp: new Date().toISOString() };
}
