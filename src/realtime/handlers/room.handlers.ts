import { channelPayloadSchema, relayPayloadSchema, roomPayloadSchema } from '../../contracts/schemas.js';
import { AppError } from '../../errors.js';
import type { HandlerRegistry } from '../handle.js';
import { MAX_CLIENT_ROOMS, clientRoomsOf, isReservedRoom, joinRefusal } from '../rooms.js';
import type { AppSocket } from '../socket-types.js';

/**
 * Public rooms: `room:join` / `room:leave` (seed 002) and their seed 004 aliases
 * `subscribe` / `unsubscribe`, plus the seed 000 `message` relay.
 */
export function registerRoomHandlers(handlers: HandlerRegistry): void {
  const join = async (socket: AppSocket, room: string) => {
    const refusal = joinRefusal(room, socket.data.roomGrants);
    if (refusal !== undefined) throw new AppError('FORBIDDEN', refusal);
    if (!socket.rooms.has(room) && clientRoomsOf(socket.id, socket.rooms).length >= MAX_CLIENT_ROOMS) {
      throw new AppError('FORBIDDEN', `A socket may be in at most ${MAX_CLIENT_ROOMS} rooms`);
    }
    await socket.join(room);
    return { success: true as const, room };
  };
  const leave = async (socket: AppSocket, room: string) => {
    if (isReservedRoom(room)) throw new AppError('FORBIDDEN', 'Reserved rooms cannot be left by clients');
    await socket.leave(room);
    return { success: true as const, room };
  };

  handlers.on('room:join', roomPayloadSchema, ({ room }, socket) => join(socket, room), {
    reply: (socket, result) => socket.emit('room:join:ack', result),
  });
  handlers.on('room:leave', roomPayloadSchema, ({ room }, socket) => leave(socket, room), {
    reply: (socket, result) => socket.emit('room:leave:ack', result),
  });
  handlers.on('subscribe', channelPayloadSchema, (room, socket) => join(socket, room));
  handlers.on('unsubscribe', channelPayloadSchema, (room, socket) => leave(socket, room));

  handlers.on('message', relayPayloadSchema, (data, socket) => {
    const from = socket.data.userId ?? socket.id;
    const payload = { from, data, timestamp: new Date().toISOString() };
    const room = typeof data === 'object' && data !== null ? (data as { room?: unknown }).room : undefined;
    if (room !== undefined) {
      if (typeof room !== 'string' || !socket.rooms.has(room) || room === socket.id) {
        throw new AppError('FORBIDDEN', 'Join the room before sending messages to it');
      }
      socket.to(room).emit('message', payload);
      const members = socket.nsp.adapter.rooms.get(room)?.size ?? 1;
      return { success: true as const, recipients: members - 1 };
    }
    socket.broadcast.emit('message', payload);
    return { success: true as const, recipients: socket.nsp.sockets.size - 1 };
  });
}
