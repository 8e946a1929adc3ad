/**
 * The seed 004 monitoring stream: every event the server delivers or ingests, mirrored as
 * `kafka-event` `{ topic, event, timestamp }` to the sockets subscribed to `kafka-events`.
 *
 * Topics: `notify`, `api.push`, `api.broadcast`, `api.room`, `jobs`, and each ingested
 * stream's name. Publishing never fails its caller and never waits: the mirror is a copy
 * for operators, not part of a delivery.
 */
export interface EventMirror {
  /** Mirrors one event under `topic`; `event` is the payload as it was delivered or ingested. */
  publish(topic: string, event: unknown): void;
}

/** A mirror that keeps nothing, for compositions without one (unit tests of a single service). */
export const noEventMirror: EventMirror = { publish() {} };
