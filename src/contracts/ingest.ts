import { z } from 'zod';
import { tenantIdSchema, userIdSchema } from './schemas.js';

/**
 * What producers put on the ingested streams: seed 004's Kafka topics, one stream each.
 * A Kafka record maps onto a stream entry as the field `value` (the JSON the producer
 * would put on the topic) and an optional `key`. Each topic's value is parsed with its
 * schema here; extra fields are ignored by the mapping (the `kafka-event` mirror carries
 * the value whole).
 */
export const INGEST_TOPICS = ['notification.send', 'document.processed', 'report.ready'] as const;

export type IngestTopic = (typeof INGEST_TOPICS)[number];

export function isIngestTopic(name: string): name is IngestTopic {
  return (INGEST_TOPICS as readonly string[]).includes(name);
}

/** Seed 004's user ids are numbers (`"userId": 39`); both forms name the same user. */
const userRef = z.union([z.string(), z.number().int().nonnegative()]).transform(String).pipe(userIdSchema);
const tenantRef = z.union([z.string(), z.number().int().nonnegative()]).transform(String).pipe(tenantIdSchema);

/** `notification.send`: a notification for one user, as seed 004's `notification` event carries it. */
export const notificationSendValueSchema = z.object({
  userId: userRef,
  tenantId: tenantRef.optional(),
  /** Seed 004 uses info, success, warning and error; any short type is kept. */
  type: z.string().min(1).max(32).default('info'),
  title: z.string().max(1024),
  message: z.string().max(64 * 1024).default(''),
  data: z.unknown().optional(),
});

/** `document.processed`: a user's document is ready (`id` or `documentId` names it). */
export const documentProcessedValueSchema = z
  .object({
    userId: userRef,
    tenantId: tenantRef.optional(),
    id: z.union([z.string().min(1).max(128), z.number()]).optional(),
    documentId: z.union([z.string().min(1).max(128), z.number()]).optional(),
    title: z.string().min(1).max(1024),
    chunks: z.number().int().nonnegative(),
  })
  .refine((value) => value.id !== undefined || value.documentId !== undefined, { message: 'id (or documentId) is required', path: ['id'] });

/** `report.ready`: a user's report of some `type` (weekly, monthly, ...) is ready. */
export const reportReadyValueSchema = z.object({
  userId: userRef,
  tenantId: tenantRef.optional(),
  type: z.string().min(1).max(64),
});

export const INGEST_VALUE_SCHEMAS = {
  'notification.send': notificationSendValueSchema,
  'document.processed': documentProcessedValueSchema,
  'report.ready': reportReadyValueSchema,
} as const satisfies Record<IngestTopic, z.ZodType>;

/** Why an entry was refused for good (acknowledged and counted, never retried). */
export const INGEST_REJECT_REASONS = ['missing_value', 'bad_json', 'invalid_value', 'too_large', 'too_deep', 'refused'] as const;

export type IngestRejectReason = (typeof INGEST_REJECT_REASONS)[number];
