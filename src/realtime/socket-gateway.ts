import { CONNECTIONS_FIELD, clusterUnavailable, type ClusterView } from '../cluster/cluster-presence.js';
import type { ConnectionInfo, RealtimeGateway } from '../domain/realtime-gateway.js';
import { AppError } from '../errors.js';
import { holdingWrites, type EngineConnection } from './coalesce-writes.js';
import { untyped, type AppServer } from './socket-types.js';
import { clientRoomsOf, isUserRoom, seedUserRoomAlias, userRoom } from './rooms.js';

/**
 * How long /api/connections waits for the other nodes' sockets. A node that died without
 * closing its Redis connection (frozen, cut off) is still counted as a listener until
 * Redis notices, and would otherwise hold the request for the adapter's 5 s.
 */
const FETCH_SOCKETS_TIMEOUT_MS = 2_000;
/** Socket.IO's EVENT packet type. */
const EVENT_PACKET = 2;

/**
 * RealtimeGateway over a Socket.IO server. Counts come from the adapter's rooms, the
 * source of truth for who is connected, so they cannot drift from delivery. With
 * `cluster` (cluster mode) they are cluster-wide: see createClusterGateway.
 */
export function createSocketGateway(io: AppServer, cluster?: ClusterView): RealtimeGateway {
  const local = createNodeGateway(io);
  return cluster === undefined ? local : createClusterGateway(io, local, cluster);
}

/** Sockets, oldest first, at most `limit`, as /api/connections shows them. */
function describeSockets(sockets: Awaited<ReturnType<AppServer['fetchSockets']>>, limit: number): ConnectionInfo[] {
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
}

/** This node's sockets in any of the rooms `names`, each counted once. */
function countIn(nsp: ReturnType<AppServer['of']>, names: readonly string[]): number {
  const rooms = nsp.adapter.rooms;
  if (names.length === 1) return rooms.get(names[0]!)?.size ?? 0;
  const ids = new Set<string>();
  for (const name of names) for (const id of rooms.get(name) ?? []) ids.add(id);
  return ids.size;
}

/** The gateway of one node: emits through its adapter, counts its own sockets. */
function createNodeGateway(io: AppServer): RealtimeGateway {
  const nsp = io.of('/');
  const rooms = () => nsp.adapter.rooms;

  return {
    async broadcast(event, payload) {
      const recipients = nsp.sockets.size;
      untyped(nsp).emit(event, payload);
      return recipients;
    },
    async emitToUsers({ userIds, tenantId }, event, payload) {
      const names = userIds.map((userId) => userRoom(userId, tenantId));
      const recipients = countIn(nsp, names);
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
      const recipients = countIn(nsp, [room]);
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
      return countIn(nsp, [userRoom(userId, tenantId)]);
    },
    async listConnections({ userId, tenantId, limit }) {
      const sockets = userId === undefined ? await nsp.fetchSockets() : await nsp.in(userRoom(userId, tenantId)).fetchSockets();
      return describeSockets(sockets, limit);
    },
  };
}

/** How long an emit waits for Redis to take it (XADD) before the caller is told it is not confirmed. */
const PUBLISH_TIMEOUT_MS = 5_000;

/** The cluster adapter's broadcast, which resolves once the packet is in the stream and delivered here. */
interface PublishingAdapter {
  broadcast(packet: { type: number; data: unknown[] }, opts: { rooms: Set<string>; except: Set<string>; flags: object }): Promise<void> | void;
}

/**
 * The gateway of a cluster node. Each count is this node's, from its adapter, plus the
 * other live nodes', read from Redis in one script call (cluster-presence.ts) before the
 * emit. Every method first fails with SERVICE_UNAVAILABLE while this node cannot reach
 * Redis: the emit would wait in the client's queue, other nodes would not get it, and the
 * count would be a guess.
 *
 * Emits are awaited: each resolves once Redis has taken it into the stream every node
 * reads (and this node has delivered it), so what a caller acknowledges after an emit (a
 * chat message, a push) is on its way to every node even if this node dies the next
 * moment. socket.io's own `emit` does not wait for that (its adapter call is not awaited).
 * An emit Redis has not taken after PUBLISH_TIMEOUT_MS is answered SERVICE_UNAVAILABLE; it
 * stays queued in the client and goes out if Redis comes back.
 */
function createClusterGateway(io: AppServer, local: RealtimeGateway, cluster: ClusterView): RealtimeGateway {
  const nsp = io.of('/');
  const ensureAvailable = () => {
    if (!cluster.available()) throw clusterUnavailable();
  };
  const elsewhere = async (fields: readonly string[]) => (await cluster.countElsewhere(fields)).reduce((sum, count) => sum + count, 0);
  /** Emits `event` to `rooms` (every socket when empty) on every node; resolves once Redis took it. */
  const publish = async (rooms: readonly string[], event: string, payload: unknown) => {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        // Read at each call: the cluster adapter replaces the first one when the server starts listening.
        (nsp.adapter as unknown as PublishingAdapter).broadcast({ type: EVENT_PACKET, data: [event, payload] }, { rooms: new Set(rooms), except: new Set(), flags: {} }),
        new Promise((_resolve, reject) => {
          timer = setTimeout(
            () => reject(new AppError('SERVICE_UNAVAILABLE', `Redis did not take the emit within ${PUBLISH_TIMEOUT_MS} ms; it may still be delivered when it is back`)),
            PUBLISH_TIMEOUT_MS,
          );
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  };

  return {
    async broadcast(event, payload) {
      ensureAvailable();
      const others = await elsewhere([CONNECTIONS_FIELD]);
      const here = nsp.sockets.size;
      await publish([], event, payload);
      return others + here;
    },
    async emitToUsers(target, event, payload) {
      ensureAvailable();
      // A socket is in one user room at most, so the rooms' counts add up without overlap.
      const names = [...new Set(target.userIds.map((userId) => userRoom(userId, target.tenantId)))];
      const others = await elsewhere(names);
      const here = countIn(nsp, names);
      // Emitted even when nobody is connected: a client that dropped a moment ago may still recover.
      await publish(names, event, payload);
      return others + here;
    },
    async emitSequenceToUser(target, events) {
      ensureAvailable();
      const room = userRoom(target.userId, target.tenantId);
      const others = await elsewhere([room]);
      const here = countIn(nsp, [room]);
      // Issued together, in order: one connection to Redis keeps them in that order.
      await Promise.all(events.map(([event, payload]) => publish([room], event, payload)));
      return others + here;
    },
    async emitToRoom(requested, event, payload) {
      ensureAvailable();
      // Seed 003 backends address a user as `tenant_{tenantId}:user_{userId}`. Socket-id
      // rooms are not published across nodes: naming one counts this node's socket only.
      const room = seedUserRoomAlias(requested) ?? requested;
      const others = await elsewhere([room]);
      const here = countIn(nsp, [room]);
      await publish([room], event, payload);
      return others + here;
    },
    async stats(scope) {
      if (scope === 'node') return local.stats();
      ensureAvailable();
      const { connections, users, rooms } = await cluster.totals();
      return { connections, users, rooms };
    },
    async connectionsOf(userId, tenantId) {
      ensureAvailable();
      const others = await elsewhere([userRoom(userId, tenantId)]);
      return others + (await local.connectionsOf(userId, tenantId));
    },
    async listConnections({ userId, tenantId, limit }) {
      ensureAvailable();
      const everywhere = userId === undefined ? nsp : nsp.in(userRoom(userId, tenantId));
      try {
        return describeSockets(await everywhere.timeout(FETCH_SOCKETS_TIMEOUT_MS).fetchSockets(), limit);
      } catch (err) {
        throw new AppError('SERVICE_UNAVAILABLE', `A node of the cluster did not answer within ${FETCH_SOCKETS_TIMEOUT_MS} ms; retry shortly`, { cause: err });
      }
    },
  };
}
