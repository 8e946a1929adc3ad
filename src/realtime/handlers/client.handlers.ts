import { randomUUID } from 'node:crypto';
import {
  clientActionPayloadSchema,
  clientEventPayloadSchema,
  clientMessagePayloadSchema,
  pingPayloadSchema,
} from '../../contracts/schemas.js';
import type { ActionContext } from '../../domain/actions.js';
import { AppError } from '../../errors.js';
import type { ActionRegistry } from '../action-registry.js';
import type { HandlerRegistry } from '../handle.js';
import { withCount, type RelayAudience } from '../relay-audience.js';
import type { RelayLimits } from '../relay-limits.js';
import { clientRoomsOf, userRoom } from '../rooms.js';
import type { AppSocket } from '../socket-types.js';

const contextOf = (socket: AppSocket): ActionContext => ({
  userId: socket.data.userId,
  tenantId: socket.data.tenantId,
  authenticated: socket.data.authenticated,
  socketId: socket.id,
  machineId: socket.data.machineId,
  rooms: clientRoomsOf(socket.id, socket.rooms),
});

/** `ping` (seeds 002, 004) and the seed 002 `client:*` request/response events. */
export function registerClientHandlers(handlers: HandlerRegistry, deps: { actions: ActionRegistry; relay: RelayLimits; audience: RelayAudience }): void {
  handlers.on(
    'ping',
    pingPayloadSchema,
    (payload) => ({
      timestamp: new Date().toISOString(),
      ...(payload?.timestamp !== undefined ? { clientTimestamp: payload.timestamp } : {}),
    }),
    { reply: 'pong' },
  );

  handlers.on(
    'client:event',
    clientEventPayloadSchema,
    async ({ type, data }, socket) => ({
      success: true as const,
      requestId: randomUUID(),
      data: await deps.actions.run('event', type, data, contextOf(socket)),
    }),
    { reply: 'server:response' },
  );

  handlers.on(
    'client:action',
    clientActionPayloadSchema,
    async ({ action, params }, socket) => ({
      success: true as const,
      requestId: randomUUID(),
      result: await deps.actions.run('action', action, params, contextOf(socket)),
    }),
    { reply: 'action:result' },
  );

  handlers.on(
    'client:message',
    clientMessagePayloadSchema,
    (message, socket) => {
      const { content, type, metadata } = message;
      const messageId = randomUUID();
      const delivery = {
        messageId,
        from: socket.data.userId ?? socket.id,
        content,
        type,
        metadata,
        timestamp: new Date().toISOString(),
      };
      const answer = { success: true as const, requestId: randomUUID(), messageId };
      const relayTo = (room: string) =>
        withCount(deps.audience.inRoom(socket, room), (recipients) => {
          deps.relay.charge(socket, message, recipients);
          socket.to(room).emit('client:message', delivery);
          return answer;
        });
      if (metadata?.to !== undefined) {
        if (socket.data.userId === undefined) throw new AppError('UNAUTHORIZED', 'Register or connect with a token to message users');
        return relayTo(userRoom(metadata.to, socket.data.tenantId));
      }
      if (metadata?.room !== undefined) {
        if (!socket.rooms.has(metadata.room)) throw new AppError('FORBIDDEN', 'Join the room before sending messages to it');
        return relayTo(metadata.room);
      }
      return answer;
    },
    { reply: 'message:ack' },
  );
}
