import { randomUUID } from 'node:crypto';
import {
  clientActionPayloadSchema,
  clientEventPayloadSchema,
  clientMessagePayloadSchema,
  pingPayloadSchema,
} from '../../contracts/schemas.js';
import type { ActionContext } from '../../domain/actions.js';
import { AppError } from '../../errors.js';
import type { RealtimeDependencies } from '../io.js';
import { handle } from '../handle.js';
import { clientRoomsOf, userRoom } from '../rooms.js';
import type { AppSocket } from '../socket-types.js';

/** `ping` (seeds 002, 004) and the seed 002 `client:*` request/response events. */
export function registerClientHandlers(socket: AppSocket, deps: RealtimeDependencies): void {
  const context = (): ActionContext => ({
    userId: socket.data.userId,
    tenantId: socket.data.tenantId,
    authenticated: socket.data.authenticated,
    socketId: socket.id,
    machineId: socket.data.machineId,
    rooms: clientRoomsOf(socket.id, socket.rooms),
  });

  handle(
    socket,
    deps,
    'ping',
    pingPayloadSchema,
    (payload) => ({
      timestamp: new Date().toISOString(),
      ...(payload?.timestamp !== undefined ? { clientTimestamp: payload.timestamp } : {}),
    }),
    { reply: (s, result) => s.emit('pong', result) },
  );

  handle(
    socket,
    deps,
    'client:event',
    clientEventPayloadSchema,
    async ({ type, data }) => ({
      success: true as const,
      requestId: randomUUID(),
      data: await deps.actions.run('event', type, data, context()),
    }),
    { reply: (s, result) => s.emit('server:response', result) },
  );

  handle(
    socket,
    deps,
    'client:action',
    clientActionPayloadSchema,
    async ({ action, params }) => ({
      success: true as const,
      requestId: randomUUID(),
      result: await deps.actions.run('action', action, params, context()),
    }),
    { reply: (s, result) => s.emit('action:result', result) },
  );

  handle(
    socket,
    deps,
    'client:message',
    clientMessagePayloadSchema,
    ({ content, type, metadata }) => {
      const messageId = randomUUID();
      const delivery = {
        messageId,
        from: socket.data.userId ?? socket.id,
        content,
        type,
        metadata,
        timestamp: new Date().toISOString(),
      };
      if (metadata?.to !== undefined) {
        if (socket.data.userId === undefined) throw new AppError('UNAUTHORIZED', 'Register or connect with a token to message users');
        socket.to(userRoom(metadata.to, socket.data.tenantId)).emit('client:message', delivery);
      } else if (metadata?.room !== undefined) {
        if (!socket.rooms.has(metadata.room)) throw new AppError('FORBIDDEN', 'Join the room before sending messages to it');
        socket.to(metadata.room).emit('client:message', delivery);
      }
      return { success: true as const, requestId: randomUUID(), messageId };
    },
    { reply: (s, result) => s.emit('message:ack', result) },
  );
}
