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
 * connection state recovery when the room is empty, which is right for a monitoring copy;
 * with a cluster adapter, each node mirrors its own deliveries to its own subscribers.
 */
export function createSocketEventMirror(io: AppServer, clock: Clock): EventMirror {
  const nsp = io.of('/');
  return {
    publish(topic, event) {
      if ((nsp.adapter.rooms.get(EVENT_STREAM_ROOM)?.size ?? 0) === 0) return;
      nsp.to(EVENT_STREAM_ROOM).emit('kafka-event', { topic, event, timestamp: new Date(clock.now()).toISOString() });
    },
  };
}
