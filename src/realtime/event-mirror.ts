import type { ClusterView } from '../cluster/cluster-presence.js';
import type { Clock } from '../domain/clock.js';
import type { EventMirror } from '../domain/event-mirror.js';
import { EVENT_STREAM_ROOM } from './rooms.js';
import type { AppServer } from './socket-types.js';

/**
 * The EventMirror over Socket.IO: `kafka-event` `{ topic, event, timestamp }` to the
 * sockets in the `kafka-events` room (rooms.ts says who may join it).
 *
 * Every delivery calls it, so it costs one map lookup while nobody watches: the room's
 * size on this node is read before any payload is made or encoded. Nothing is kept for
 * connection state recovery when the room is empty, which is right for a monitoring copy.
 *
 * In a cluster (`cluster` given) the emit reaches the room's sockets on every node, and is
 * made when any live node has one: this node's room, or the other nodes' count as of the
 * last heartbeat (cluster-presence.ts watches the room). So a subscriber's first mirrored
 * events may be missed for up to one heartbeat after it joins on another node, and an
 * emit may go out for up to 3 heartbeats after the last one left. While this node cannot
 * reach Redis it mirrors nothing: the copy would wait in the client's queue.
 */
export function createSocketEventMirror(io: AppServer, clock: Clock, cluster?: ClusterView): EventMirror {
  const nsp = io.of('/');
  const watchedHere = () => (nsp.adapter.rooms.get(EVENT_STREAM_ROOM)?.size ?? 0) > 0;
  const watched =
    cluster === undefined ? watchedHere : () => (watchedHere() || cluster.watchedElsewhere(EVENT_STREAM_ROOM) > 0) && cluster.available();
  return {
    publish(topic, event) {
      if (!watched()) return;
      nsp.to(EVENT_STREAM_ROOM).emit('kafka-event', { topic, event, timestamp: new Date(clock.now()).toISOString() });
    },
  };
}
