import type { RealtimeGateway } from '../domain/realtime-gateway.js';
import { untyped, type AppServer } from './socket-types.js';
import { clientRoomsOf, isUserRoom, seedUserRoomAlias, userRoom } from './rooms.js';

/**
 * RealtimeGateway over a Socket.IO server. Counts come from the adapter's rooms, the
 * source of truth for who is connected, so they cannot drift from delivery.
 */
export function createSocketGateway(io: AppServer): RealtimeGateway {
  const nsp = io.of('/');
  const rooms = () => nsp.adapter.rooms;
  const countIn = (names: readonly string[]) => {
    if (names.length === 1) return rooms().get(names[0]!)?.size ?? 0;
    const ids = new Set<string>();
    for (const name of names) for (const id of rooms().get(name) ?? []) ids.add(id);
    return ids.size;
  };


  return {
    async broadcast(event, payload) {
      const recipients = nsp.sockets.size;
      untyped(nsp).emit(event, payload);
      return recipients;
    },
    async emitToUsers({ userIds, tenantId }, event, payload) {
      const names = userIds.map((userId) => userRoom(userId, tenantId));
      const recipients = countIn(names);
      // Emitted even when nobody is connected: a client that dropped a moment ago may
      // still recover, and recovery can only replay what went through the adapter.
      untyped(nsp.to(names)).emit(event, payload);
      return recipients;
    },
    async emitToRoom(requested, event, payload) {
      // Seed 003 backends address a user as `tenant_{tenantId}:user_{userId}`.
      const room = seedUserRoomAlias(requested) ?? requested;
      const recipients = countIn([room]);
      untyped(nsp.to(room)).emit(event, payload);
      return recipients;
    },
    async stats() {
      let users = 0;
      let named = 0;
      for (const [name, members] of rooms()) {
        // Every socket sits in a room named after its own id; those are not rooms to report.
        if (members.size === 1 && members.has(name)) continue;
        named += 1;
        if (isUserRoom(name)) users += 1;
      }
      return { connections: nsp.sockets.size, users, rooms: named };
    },
    async connectionsOf(userId, tenantId) {
      return countIn([userRoom(userId, tenantId)]);
    },
    async listConnections({ userId, tenantId, limit }) {
      const sockets = userId === undefined ? await nsp.fetchSockets() : await nsp.in(userRoom(userId, tenantId)).fetchSockets();
      return sockets
        .sort((a, b) => (a.data.connectedAt ?? 0) - (b.data.connectedAt ?? 0))
        .slice(0, limit)
        .map((socket) => ({
          socketId: socket.id,
          userId: socket.data.userId ?? null,
          tenantId: socket.data.tenantId ?? null,
          machineId: socket.data.machineId ?? null,
          authenticated: socket.data.authenticated ?? false,
          connectedAt: new Date(socket.data.connectedAt ?? Date.now()).toISOString(),
          rooms: clientRoomsOf(socket.id, socket.rooms),
        }));
    },
  };
}
