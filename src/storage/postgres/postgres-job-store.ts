import { jobKey, type JobId, type JobRecord, type JobStore } from '../../domain/job-store.js';
import { checkListFilter, pageOf } from '../job-input.js';
import type { PostgresDatabase, Transaction } from './postgres-database.js';
import { createStoreLifecycle } from './store-lifecycle.js';

export interface PostgresJobStoreOptions {
  /** The process's shared database; the store runs its migrations at open() and leaves closing it to the owner. */
  database: PostgresDatabase;
}

/** pg_advisory_xact_lock's first key for a job's key (the second is the key's hash). */
const JOB_KEY_LOCK = 0x6a6f6273;

interface JobRow {
  seq: string;
  record: string;
}

const parse = (row: JobRow): { seq: number; job: JobRecord } => ({ seq: Number(row.seq), job: JSON.parse(row.record) as JobRecord });

/** The columns lists select by, taken from the record each time it is written. */
function columnsOf(job: JobRecord): [string, string, string | null, string | null, string, string] {
  return [jobKey(job.jobId), job.tenantId ?? '', job.creatorId ?? null, job.assigneeId ?? null, job.state, JSON.stringify(job)];
}

/** Until this transaction ends, no other can create (or consider taking) a job with this key. */
const lockKey = (tx: Transaction, key: string) => tx.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [JOB_KEY_LOCK, key]);

/**
 * Jobs in PostgreSQL, for cluster mode: every node reads and changes the same jobs. Same
 * semantics as the SQLite store (the contract suite runs against both); how they are kept
 * with several writers:
 *
 * - A create locks its job's key (an advisory lock) before looking it up, so concurrent
 *   creates of one id, on any node, store one job and call `build` once.
 * - An id the store gives comes from `job_ids`, whose row lock orders the nodes taking
 *   ids; each candidate is locked by key too, so it cannot race a create that names it.
 *   A failed create rolls its id back with it.
 * - A change reads the job FOR UPDATE and runs the caller's function on that version, so
 *   changes to one job are serialized across nodes.
 */
export function createPostgresJobStore(options: PostgresJobStoreOptions): JobStore {
  const { database: db } = options;
  const lifecycle = createStoreLifecycle({
    database: db,
    name: 'job store',
    openedOnce: 'A job store can be opened once',
    notOpen: 'Storage unavailable: the job store is not open',
  });
  const { operate } = lifecycle;

  /** The next integer id no job has, reserved in this transaction. */
  async function freeId(tx: Transaction): Promise<number> {
    const [row] = await tx.query<{ next: string }>('SELECT next FROM job_ids WHERE id = 1 FOR UPDATE');
    let id = Number(row?.next ?? 1);
    for (;;) {
      await lockKey(tx, String(id));
      const taken = await tx.query('SELECT 1 FROM jobs WHERE key = $1', [String(id)]);
      if (taken.length === 0) break;
      id += 1;
    }
    await tx.query('UPDATE job_ids SET next = $1 WHERE id = 1', [id + 1]);
    return id;
  }

  return {
    open: lifecycle.open,
    close: lifecycle.close,
    isWritable: lifecycle.isWritable,

    create(jobId, build) {
      return operate(() =>
        db.transaction('store a job', async (tx) => {
          if (jobId !== undefined) {
            await lockKey(tx, jobKey(jobId));
            const [existing] = await tx.query<JobRow>('SELECT seq, record FROM jobs WHERE key = $1', [jobKey(jobId)]);
            if (existing !== undefined) {
              tx.rollbackInstead();
              return { job: parse(existing).job, created: false };
            }
          }
          const id: JobId = jobId ?? (await freeId(tx));
          const columns = columnsOf({ ...build(id), jobId: id });
          await tx.query('INSERT INTO jobs (key, tenant_id, creator_id, assignee_id, state, record) VALUES ($1, $2, $3, $4, $5, $6)', columns);
          return { job: JSON.parse(columns[5]) as JobRecord, created: true };
        }),
      );
    },

    get(jobId) {
      return operate(async () => {
        const [row] = await db.read<JobRow>('read a job', 'SELECT seq, record FROM jobs WHERE key = $1', [jobKey(jobId)]);
        return row === undefined ? undefined : parse(row).job;
      });
    },

    update(jobId, change) {
      return operate(() =>
        db.transaction('change a job', async (tx) => {
          const [row] = await tx.query<JobRow>('SELECT seq, record FROM jobs WHERE key = $1 FOR UPDATE', [jobKey(jobId)]);
          if (row === undefined) {
            tx.rollbackInstead();
            return undefined;
          }
          const current = parse(row).job;
          const next = change(parse(row).job);
          if (next === undefined) {
            tx.rollbackInstead();
            return { job: current, changed: false };
          }
          const [key, tenant, creator, assignee, jobState, record] = columnsOf({ ...next, jobId: current.jobId });
          await tx.query('UPDATE jobs SET tenant_id = $2, creator_id = $3, assignee_id = $4, state = $5, record = $6 WHERE seq = $1 AND key = $7', [
            row.seq,
            tenant,
            creator,
            assignee,
            jobState,
            record,
            key,
          ]);
          return { job: JSON.parse(record) as JobRecord, changed: true };
        }),
      );
    },

    list(filter) {
      return operate(async () => {
        const { before } = checkListFilter(filter);
        const n = filter.limit + 1;
        // Each side of "the user's jobs" walks its own index newest first; a job the user
        // both created and is assigned to comes from both, and UNION keeps it once.
        const side = (column: string) =>
          `(SELECT seq, record FROM jobs WHERE tenant_id = $1 AND ${column} = $2 AND seq < $3 AND ($4::text IS NULL OR state = $4) ORDER BY seq DESC LIMIT $5)`;
        const rows = await db.read<JobRow>('list jobs', `${side('assignee_id')} UNION ${side('creator_id')} ORDER BY seq DESC LIMIT $5`, [
          filter.tenantId ?? '',
          filter.userId,
          before,
          filter.state ?? null,
          n,
        ]);
        return pageOf(rows, filter.limit, parse);
      });
    },
  };
}
