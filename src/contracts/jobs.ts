import { z } from 'zod';

/**
 * Jobs on the wire (seed 003): a small durable resource owned by the application's
 * backend and worked by one assignee, with the state machine
 * `created → assigned → started → completed` (`assigned → assigned` on reassignment, and
 * `cancelled` from any state but `completed`). What the `job:*` events, their acks, the
 * `test:*-job` development helpers and the `/api/jobs` routes carry.
 */

export const JOB_STATES = ['created', 'assigned', 'started', 'completed', 'cancelled'] as const;

export type JobState = (typeof JOB_STATES)[number];

/**
 * A job id as its creator gave it: a non-negative integer or a string. A number and its
 * decimal string name the same job (a path parameter cannot tell them apart); the job
 * keeps, and every event carries, the type it was created with.
 */
export type JobId = number | string;

/** One step of a job's life, as kept in its `history`. */
export interface JobHistoryEntry {
  /** null for the creation. */
  from: JobState | null;
  to: JobState;
  at: string;
  /** The user who made the change, or null for the backend (an API key). */
  by: string | null;
}

/** A job, as every event, ack and REST answer carries it. */
export interface JobRecord {
  jobId: JobId;
  tenantId?: string;
  projectId?: number | string;
  jobTypeId?: number | string;
  subject: string;
  creatorId?: string;
  assigneeId?: string;
  data?: unknown;
  state: JobState;
  createdAt: string;
  updatedAt: string;
  startedAt?: string;
  completedAt?: string;
  cancelledAt?: string;
  /** The note given with `job:complete`. */
  note?: string;
  /** Oldest first: the creation, then every transition (the most recent 100 are kept). */
  history: JobHistoryEntry[];
}

/** `job:status-changed`: sent on every transition to the assignee and the creator. */
export interface JobStatusChangedPayload {
  jobId: JobId;
  from: JobState;
  to: JobState;
  at: string;
  by: string | null;
}

/** The ack of `job:start`, `job:complete`, `test:create-job` and `test:assign-job`. */
export interface JobReply {
  success: true;
  job: JobRecord;
}

// ---- Schemas: request bodies, socket payloads, and REST answers for /openapi.json ----

const ID_TEXT = /^[A-Za-z0-9_.:-]{1,64}$/;
const ID_TEXT_RULE = 'must be 1-64 characters of letters, digits and _.:-';
const wholeNumber = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

export const jobIdSchema = z
  .union([wholeNumber, z.string().regex(ID_TEXT, ID_TEXT_RULE)])
  .meta({ description: 'Job id: a non-negative integer, or 1-64 letters, digits and _.:-; kept as given', example: 42 });

/** The id in a path: `1` names the job created with the number 1 or the string "1". */
export const jobIdParamSchema = z
  .string()
  .regex(ID_TEXT, ID_TEXT_RULE)
  .meta({ description: 'Job id (a number is written in decimal)', example: '42' });

export const jobStateSchema = z.enum(JOB_STATES);

/** Seed 003 applications hold user ids as numbers; a number names the user of its decimal string. */
const userRefSchema = z.union([
  z
    .string()
    .min(1)
    .max(128)
    .regex(/^[^\s/\\]+$/, 'must not contain whitespace or slashes'),
  wholeNumber.transform(String),
]);

/** The application's own ids (a project, a job type), stored as given. */
const referenceSchema = z.union([wholeNumber, z.string().min(1).max(128)]);

const subjectSchema = z.string().min(1, 'must not be empty').max(500);

const tenantSchema = z
  .string()
  .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be 1-64 characters of letters, digits and _.-')
  .meta({ description: "The job's tenant: its creator's and assignee's; their sockets in that tenant get its events", example: 'acme' });

export const createJobBodySchema = z
  .object({
    jobId: jobIdSchema.optional().meta({ description: 'Your id for the job: a repeat with the same id returns the job stored first, unchanged' }),
    tenantId: tenantSchema.optional(),
    projectId: referenceSchema.optional(),
    jobTypeId: referenceSchema.optional(),
    subject: subjectSchema,
    creatorId: userRefSchema.optional().meta({ description: 'The user the job is for: told when it starts and completes' }),
    assigneeId: userRefSchema.optional().meta({ description: 'Assigns the job at once (created → assigned in the same write)' }),
    data: z.unknown().optional().meta({ description: 'Any JSON, kept with the job and sent with its events' }),
  })
  .meta({ id: 'CreateJobRequest' });

export const assignJobBodySchema = z.object({ assigneeId: userRefSchema }).meta({ id: 'AssignJobRequest' });

export const userJobsQuerySchema = z.object({
  state: jobStateSchema.optional().meta({ description: 'Only jobs in this state' }),
  limit: z.coerce.number<string>().int().min(1).max(100).default(20),
  cursor: z
    .string()
    .regex(/^[1-9][0-9]{0,15}$/, 'must be a nextCursor as given')
    .optional()
    .meta({ description: '`nextCursor` of the previous page; absent for the first page' }),
  tenantId: tenantSchema.optional().meta({ description: "The tenant of the user's jobs (none: jobs without a tenant)" }),
});

export type CreateJobBody = z.output<typeof createJobBodySchema>;
export type UserJobsQuery = z.output<typeof userJobsQuerySchema>;

const isoTimestamp = z.string().meta({ description: 'ISO 8601 timestamp', example: '2026-01-01T00:00:00.000Z' });

const jobRecordSchema = z
  .object({
    jobId: z.union([z.number(), z.string()]),
    tenantId: z.string().optional(),
    projectId: z.union([z.number(), z.string()]).optional(),
    jobTypeId: z.union([z.number(), z.string()]).optional(),
    subject: z.string(),
    creatorId: z.string().optional(),
    assigneeId: z.string().optional(),
    data: z.unknown().optional(),
    state: jobStateSchema,
    createdAt: isoTimestamp,
    updatedAt: isoTimestamp,
    startedAt: isoTimestamp.optional(),
    completedAt: isoTimestamp.optional(),
    cancelledAt: isoTimestamp.optional(),
    note: z.string().optional(),
    history: z.array(
      z.object({ from: jobStateSchema.nullable(), to: jobStateSchema, at: isoTimestamp, by: z.string().nullable() }),
    ),
  })
  .meta({ id: 'Job' });

export const jobResponseSchema = z.object({ success: z.literal(true), job: jobRecordSchema }).meta({ id: 'JobResponse' });

export const jobCreatedResponseSchema = z
  .object({
    success: z.literal(true),
    created: z.boolean().meta({ description: 'false when a job with this jobId existed: it is returned unchanged' }),
    job: jobRecordSchema,
  })
  .meta({ id: 'JobCreatedResponse' });

export const userJobsResponseSchema = z
  .object({
    success: z.literal(true),
    userId: z.string(),
    jobs: z.array(jobRecordSchema).meta({ description: 'Jobs the user is assigned to or created, newest first' }),
    nextCursor: z.string().optional().meta({ description: 'Present when more jobs follow: the `cursor` of the next page' }),
  })
  .meta({ id: 'UserJobsResponse' });

// ---- Socket payloads (client → server) ----

export const jobStartPayloadSchema = z.object({ jobId: jobIdSchema });
export const jobCompletePayloadSchema = z.object({ jobId: jobIdSchema, note: z.string().max(2000).optional() });
/** Development only: a job created by the caller, in the caller's tenant. */
export const testCreateJobPayloadSchema = z.object({ projectId: referenceSchema, jobTypeId: referenceSchema, subject: subjectSchema });
/** Development only: assigns a job of the caller's tenant. */
export const testAssignJobPayloadSchema = z.object({ jobId: jobIdSchema, assigneeId: userRefSchema });

export type JobStartPayload = z.input<typeof jobStartPayloadSchema>;
export type JobCompletePayload = z.input<typeof jobCompletePayloadSchema>;
export type TestCreateJobPayload = z.input<typeof testCreateJobPayloadSchema>;
export type TestAssignJobPayload = z.input<typeof testAssignJobPayloadSchema>;
