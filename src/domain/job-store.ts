import type { JobId, JobRecord, JobState } from '../contracts/jobs.js';

export type { JobHistoryEntry, JobId, JobRecord, JobState } from '../contracts/jobs.js';

/** The key a job is stored under: a number and its decimal string name the same job. */
export function jobKey(jobId: JobId): string {
  return String(jobId);
}

/** Which jobs `list` answers: those the user is assigned to or created, within one tenant. */
export interface JobListFilter {
  userId: string;
  /** undefined: jobs without a tenant. */
  tenantId?: string | undefined;
  state?: JobState | undefined;
  /** 1..100. */
  limit: number;
  /** `nextCursor` of the previous page. */
  cursor?: string | undefined;
}

/**
 * Durable jobs (seed 003). The store only stores: the state machine is the caller's
 * (domain/job-service.ts), handed to `create` and `update` as functions the store runs
 * inside its write, so that what they read is what they replace. Contract tests:
 * test/unit/job-store-contract.test.ts, run against every implementation.
 *
 * Guarantees every implementation gives:
 * - `create` and `update` resolve only once their write is durable (for the embedded
 *   store: after fsync); a resolved write is never lost, a rejected one changed nothing.
 * - A job's id is unique across tenants. Ids the store gives are integers from 1 up,
 *   skipping any already taken, and never given twice.
 * - Changes to one job are serialized: `update`'s function always sees the latest version.
 * - `list` is newest created first, `limit` jobs at most, and its cursor pages are stable
 *   while jobs are created or change.
 * - Failures to persist reject with AppError('STORAGE_UNAVAILABLE') and `isWritable()`
 *   turns false until a write succeeds again. An error thrown by the caller's function
 *   rejects that call alone, with that error, and writes nothing.
 */
export interface JobStore {
  open(): Promise<void>;
  /** Flushes pending writes and releases the storage. Idempotent. */
  close(): Promise<void>;
  isWritable(): boolean;

  /**
   * Creates a job in one durable write. When `jobId` is given and a job already has it
   * (as a number or as its decimal string), nothing is written and that job is returned
   * with `created: false`. Otherwise `build` is called inside the write with the job's id
   * (the one given, or the next free integer) and what it returns is stored.
   */
  create(jobId: JobId | undefined, build: (jobId: JobId) => JobRecord): Promise<{ job: JobRecord; created: boolean }>;

  get(jobId: JobId): Promise<JobRecord | undefined>;

  /**
   * Changes one job in one durable write: `change` receives the stored job and returns its
   * next version (its `jobId` is kept), or undefined to leave it as it is; it may throw to
   * refuse, and then nothing is written. Resolves with the job as stored afterwards and
   * whether it changed, or undefined when there is no such job (`change` is not called).
   */
  update(jobId: JobId, change: (job: JobRecord) => JobRecord | undefined): Promise<{ job: JobRecord; changed: boolean } | undefined>;

  /** Jobs the user is currently assigned to or created, newest created first. */
  list(filter: JobListFilter): Promise<{ jobs: JobRecord[]; nextCursor?: string }>;
}
