import { channelPayloadSchema, relayPayloadSchema, roomPayloadSchema } from '../../contracts/schemas.js';
import { AppError } from '../../errors.js';
import type { HandlerRegistry } from '../handle.js';
import { withCount, type RelayAudience } from '../relay-audience.js';
import type { RelayLimits } from '../relay-limits.js';
import { MAX_CLIENT_ROOMS, clientRoomsOf, eventStreamRefusal, joinRefusal, leaveRefusal } from '../rooms.js';
import type { AppSocket } from '../socket-types.js';

/**
 * Public rooms: `room:join` / `room:leave` (seed 002) and their seed 004 aliases
 * `subscribe` / `unsubscribe` (also for seed 004's `kafka-events` monitoring room, which
 * needs more than a name: see eventStreamRefusal), plus the seed 000 `message` relay.
 */
export function registerRoomHandlers(
  handlers: HandlerRegistry,
  deps: {
    relay: RelayLimits;
    /** Who a relay reaches: this node's sockets, or the cluster's. */
    audience: RelayAudience;
    /** Any identified socket may join the `kafka-events` monitoring room (outside production). */
    eventStreamOpen: boolean;
  },
): void {
  const join = async (socket: AppSocket, room: string) => {
    const { userId, roomGrants } = socket.data;
    const refusal = joinRefusal(room, roomGrants) ?? eventStreamRefusal(room, { userId, grants: roomGrants }, deps.eventStreamOpen);
    if (refusal !== undefined) throw new AppError('FORBIDDEN', refusal);
    if (!socket.rooms.has(room) && clientRoomsOf(socket.id, socket.rooms).length >= MAX_CLIENT_ROOMS) {
      throw new AppError('FORBIDDEN', `A socket may be in at most ${MAX_CLIENT_ROOMS} rooms`);
    }
    await socket.join(room);
    return { success: true as const, room };
  };
  const leave = async (socket: AppSocket, room: string) => {
    const refusal = leaveRefusal(room);
    if (refusal !== undefined) throw new AppError('FORBIDDEN', refusal);
    await socket.leave(room);
    return { success: true as const, room };
  };

  handlers.on('room:join', roomPayloadSchema, ({ room }, socket) => join(socket, room), { reply: 'room:join:ack' });
  handlers.on('room:leave', roomPayloadSchema, ({ room }, socket) => leave(socket, room), { reply: 'room:leave:ack' });
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
      return withCount(deps.audience.inRoom(socket, room), (recipients) => {
        deps.relay.charge(socket, data, recipients);
        socket.to(room).emit('message', payload);
        return { success: true as const, recipients };
      });
    }
    return withCount(deps.audience.everyone(socket), (recipients) => {
      deps.relay.charge(socket, data, recipients);
      socket.broadcast.emit('message', payload);
      return { success: true as const, recipients };
    });
  });
}
