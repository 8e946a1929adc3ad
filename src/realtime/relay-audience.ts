import { CONNECTIONS_FIELD, clusterUnavailable, type ClusterView } from '../cluster/cluster-presence.js';
import { othersIn } from './rooms.js';
import type { AppSocket } from './socket-types.js';

/**
 * How many other sockets a client's relay reaches (`message`, `client:message`): what
 * the relay budget charges and the ack reports. A number on one node, so that path stays
 * synchronous; a promise in a cluster, where the other nodes' part is read from Redis.
 */
export interface RelayAudience {
  /** Who `socket.to(room)` reaches. */
  inRoom(socket: AppSocket, room: string): number | Promise<number>;
  /** Who `socket.broadcast` reaches. */
  everyone(socket: AppSocket): number | Promise<number>;
}

/** One node: its own adapter's counts. */
export const nodeAudience: RelayAudience = {
  inRoom: othersIn,
  everyone: (socket) => socket.nsp.sockets.size - 1,
};

/**
 * A cluster node: this node's count plus the other live nodes' (one script call). Fails
 * with SERVICE_UNAVAILABLE while Redis is out of reach, so the relay is refused before
 * anything is sent.
 */
export function clusterAudience(cluster: ClusterView): RelayAudience {
  const plusElsewhere = async (here: number, field: string) => {
    if (!cluster.available()) throw clusterUnavailable();
    const [others = 0] = await cluster.countElsewhere([field]);
    return here + others;
  };
  return {
    inRoom: (socket, room) => plusElsewhere(othersIn(socket, room), room),
    everyone: (socket) => plusElsewhere(socket.nsp.sockets.size - 1, CONNECTIONS_FIELD),
  };
}

/** Runs `then` with the count: at once when it is a number, after it when it is a promise. */
export function withCount<T>(count: number | Promise<number>, then: (count: number) => T): T | Promise<T> {
  return typeof count === 'number' ? then(count) : count.then(then);
}
