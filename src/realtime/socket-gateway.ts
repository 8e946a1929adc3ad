import type { RealtimeGateway } from '../domain/realtime-gateway.js';
import { untyped, type AppServer } from './socket-types.js';
import { clientRoomsOf, isUserRoom, seedUserRoomAlias, userRoom } from './rooms.js';

/** The parts of an Engine.IO connection `holdingWrites` reads and calls (see there). */
interface EngineConnection {
  transport: { writable: boolean };
  flush(): void;
}

/**
 * Runs `emit` with the given connections' idle transports marked busy, so the packets it
 * emits wait in Engine.IO's buffer, then flushes each buffer once: a connection gets all
 * of them in one write (one WebSocket write call, coalesced by coalesce-writes.ts) instead
 * of the first alone and the rest after its callback. Only transports that were writable
 * are touched, and they are writable again afterwards whatever `emit` did; a transport
 * already busy keeps its own state and buffers anyway. Engine.IO's `transport.writable`
 * and `flush()` are not in its typed API: test/integration/write-coalescing.test.ts fails
 * if they stop doing this.
 */
function holdingWrites(connections: Iterable<EngineConnection>, emit: () => void): void {
  const held: EngineConnection[] = [];
  for (const connection of connections) {
    if (connection.transport.writable) {
      connection.transport.writable = false;
      held.push(connection);
    }
  }
  try {
    emit();
  } finally {
    for (const connection of held) {
      connection.transport.writable = true;
      connection.flush();
    }
  }
}

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
    async emitSequenceToUser({ userId, tenantId }, events) {
      const room = userRoom(userId, tenantId);
      const members = rooms().get(room);
      if (members === undefined || members.size === 0 || events.length < 2) {
        for (const [event, payload] of events) untyped(nsp.to(room)).emit(event, payload);
        return members?.size ?? 0;
      }
      const connections: EngineConnection[] = [];
      for (const id of members) {
        const socket = nsp.sockets.get(id);
        if (socket !== undefined) connections.push(socket.conn as unknown as EngineConnection);
      }
      holdingWrites(connections, () => {
        for (const [event, payload] of events) untyped(nsp.to(room)).emit(event, payload);
      });
      return members.size;
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
