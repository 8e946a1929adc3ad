import type { z } from 'zod';
import { INGEST_VALUE_SCHEMAS, type IngestRejectReason, type IngestTopic } from '../contracts/ingest.js';
import { isAppError } from '../errors.js';
import { describeIssues, nestingExceeds } from '../validation.js';
import type { EventMirror } from './event-mirror.js';
import type { InboxService } from './inbox-service.js';

export type { IngestRejectReason, IngestTopic } from '../contracts/ingest.js';

/**
 * The ingest: events other systems produce (seed 004's Kafka topics), consumed from a
 * durable log and turned into stored, delivered notifications. One adapter today, on Redis
 * Streams consumer groups (integrations/redis-streams-ingest.ts); a Kafka one would be a
 * second implementation of this port over the same IngestHandler.
 *
 * Guarantees an implementation gives:
 * - At least once, nothing lost: an entry is acknowledged to the log only after the
 *   handler resolved for it (the notification is durable in the inbox). An entry whose
 *   handler failed stays unacknowledged and is handled again later, by this consumer or
 *   another: a consumer that died holding entries does not keep them.
 * - Exactly once for users: the handler stores with an idempotency key made of the stream
 *   and the entry id, so handling an entry again stores and delivers nothing again.
 * - An entry the handler rejects (malformed) is acknowledged, counted and logged with its
 *   id, and never handled again.
 * - The log going away and coming back resumes consumption without a restart; while it is
 *   away the server keeps serving (the ingest does not make the node unready: see
 *   docs/protocol.md, "Event stream and ingest").
 */
export interface Ingest {
  /** Starts consuming in the background; returns at once, whether or not the log is reachable yet. */
  start(): void;
  /** Stops reading, waits (bounded) for the entries being handled, then closes. Idempotent. */
  stop(): Promise<void>;
}

/** One entry as a source hands it over: a Kafka record under its topic. */
export interface IngestEntry {
  /** Which of seed 004's topics it is: the mapping applied, and the `kafka-event` topic. */
  topic: IngestTopic;
  /** The stream it was read from (the topic's name, after INGEST_STREAM_PREFIX). */
  stream: string;
  /** The log's id of the entry, unique within the stream (Redis: `1700000000000-0`). */
  id: string;
  /**
   * When the entry was produced (ms since the epoch; Redis: the id's time part): the
   * notification's `timestamp`. Taken from the log, not the clock, so that handling the
   * entry again makes exactly the same push, which the inbox then recognizes by its key.
   */
  producedAt: number;
  /** The record's value, JSON as the producer wrote it; undefined when the entry has none. */
  value: string | undefined;
  /** The record's key, when it has one. The mappings do not use it (Kafka partitions by it; a stream has none). */
  key: string | undefined;
}

export type IngestResult =
  /** Stored in the inbox now and handed to the user's sockets. */
  | { outcome: 'stored'; recipients: number }
  /** Handled before (the idempotency key was known): nothing stored or delivered again. */
  | { outcome: 'duplicate' }
  /** Refused for good: acknowledge it, never retry. */
  | { outcome: 'rejected'; reason: IngestRejectReason; detail: string };

/**
 * Handles one entry. Resolves when the entry is done with (stored, a duplicate, or
 * rejected for good); rejects when it should be tried again later (the inbox could not
 * store it: STORAGE_UNAVAILABLE, or an unexpected failure).
 */
export type IngestHandler = (entry: IngestEntry) => Promise<IngestResult>;

/** What the ingest tells the composition root (metrics): counts, never contents. */
export interface IngestObserver {
  /** An entry was handled: `failed` means it stays pending and comes back. */
  handled(topic: IngestTopic, outcome: IngestResult['outcome'] | 'failed'): void;
  rejected(topic: IngestTopic, reason: IngestRejectReason): void;
  /** Whether the source is reachable now. */
  connected(up: boolean): void;
}

/** A notification for one user, in seed 004's `notification` event shape (before its timestamp). */
interface MappedNotification {
  userId: string;
  tenantId: string | undefined;
  type: string;
  title: string;
  message: string;
  data: unknown;
}

/** Seed 004's table: what each topic's value becomes. */
const MAPPINGS: { [T in IngestTopic]: (value: z.output<(typeof INGEST_VALUE_SCHEMAS)[T]>) => MappedNotification } = {
  'notification.send': (value) => ({
    userId: value.userId,
    tenantId: value.tenantId,
    type: value.type,
    title: value.title,
    message: value.message,
    data: value.data,
  }),
  'document.processed': (value) => {
    const id = value.id ?? value.documentId;
    return {
      userId: value.userId,
      tenantId: value.tenantId,
      type: 'success',
      title: '📄 Document Ready',
      message: `${value.title} has been processed (${value.chunks} chunks)`,
      data: { id, title: value.title, chunks: value.chunks },
    };
  },
  'report.ready': (value) => ({
    userId: value.userId,
    tenantId: value.tenantId,
    type: 'success',
    title: '📊 Report Ready',
    message: `Your ${value.type} report is ready!`,
    data: { type: value.type },
  }),
};

function mapValue(topic: IngestTopic, value: unknown): MappedNotification | z.ZodError {
  const parsed = INGEST_VALUE_SCHEMAS[topic].safeParse(value);
  if (!parsed.success) return parsed.error;
  return (MAPPINGS[topic] as (value: unknown) => MappedNotification)(parsed.data);
}

/** The idempotency key of an entry: the same entry handled twice is stored once. */
export function ingestIdempotencyKey(entry: Pick<IngestEntry, 'stream' | 'id'>): string {
  return `ingest:${entry.stream}:${entry.id}`;
}

export interface IngestHandlerOptions {
  inbox: InboxService;
  mirror: EventMirror;
  /** Largest value accepted, in bytes (MAX_BODY_BYTES, as for an HTTP push). */
  maxValueBytes: number;
  /** Deepest nesting accepted (MAX_PAYLOAD_DEPTH, as for an HTTP push). */
  maxDepth: number;
}

const rejected = (reason: IngestRejectReason, detail: string): IngestResult => ({ outcome: 'rejected', reason, detail });

/**
 * The handler every ingest adapter calls: parses the entry's value with its topic's schema,
 * maps it as seed 004's table says, stores and delivers it through the inbox (the user's
 * `notification` event, `notification:new`, `notification:unread-count`; kept for a user
 * who is offline), then mirrors the value to `kafka-events` under its topic.
 */
export function createIngestHandler(options: IngestHandlerOptions): IngestHandler {
  const { inbox, mirror } = options;
  return async (entry) => {
    if (entry.value === undefined) return rejected('missing_value', 'the entry has no value field');
    if (Buffer.byteLength(entry.value) > options.maxValueBytes) return rejected('too_large', `value larger than ${options.maxValueBytes} bytes`);
    let value: unknown;
    try {
      value = JSON.parse(entry.value);
    } catch {
      // JSON.parse's message quotes the text: the log must not carry message bodies.
      return rejected('bad_json', 'value is not JSON');
    }
    if (nestingExceeds(value, options.maxDepth)) return rejected('too_deep', `value nested deeper than ${options.maxDepth} levels`);
    const mapped = mapValue(entry.topic, value);
    if (mapped instanceof Error) return rejected('invalid_value', describeIssues(mapped));

    const { userId, tenantId, ...notification } = mapped;
    try {
      const outcome = await inbox.push({
        userIds: [userId],
        tenantId,
        event: 'notification',
        // `data` stays a key even when undefined, so the record's data is the notification's
        // own data and not its other fields (the inbox's rule for seed 004 payloads).
        data: { ...notification, timestamp: new Date(entry.producedAt).toISOString() },
        persist: true,
        idempotencyKey: ingestIdempotencyKey(entry),
      });
      if (outcome.replayed) return { outcome: 'duplicate' };
      mirror.publish(entry.topic, value);
      return { outcome: 'stored', recipients: outcome.recipients };
    } catch (err) {
      // A request the inbox refuses (4xx) will be refused again: not worth retrying.
      // Storage failures (5xx) pass the entry back to be tried again.
      if (isAppError(err) && err.status < 500) return rejected('refused', err.message);
      throw err;
    }
  };
}
