import type Database from 'better-sqlite3';
import { jobKey, type JobId, type JobRecord, type JobStore } from '../../domain/job-store.js';
import type { Logger } from '../../observability/logger.js';
import { checkListFilter, pageOf } from '../job-input.js';
import { migrateJobSchema } from './job-schema.js';
import { toStoreError } from './sqlite-errors.js';
import { createSqliteStoreLifecycle } from './store-lifecycle.js';

export interface SqliteJobStoreOptions {
  /** The database file (JOBS_DB_PATH); its directory is created when missing. */
  file: string;
  logger: Logger;
  /** SQLite's page cache (default 8 MiB): the store's only memory that grows with use, and it is capped. */
  cacheKiB?: number;
}

/** Writes per transaction at most (see write-batcher.ts); a job write is one row. */
const MAX_BATCH_WEIGHT = 1_000;

/** The columns lists select by, taken from the record each time it is written. */
interface JobColumns {
  key: string;
  tenant: string;
  creator: string | null;
  assignee: string | null;
  state: string;
  record: string;
}

interface JobRow {
  seq: number;
  record: string;
}

function columnsOf(job: JobRecord): JobColumns {
  return {
    key: jobKey(job.jobId),
    tenant: job.tenantId ?? '',
    creator: job.creatorId ?? null,
    assignee: job.assigneeId ?? null,
    state: job.state,
    record: JSON.stringify(job),
  };
}

const parse = (row: JobRow): { seq: number; job: JobRecord } => ({ seq: row.seq, job: JSON.parse(row.record) as JobRecord });

/** The statements the store runs, prepared once when it opens. */
function prepareStatements(db: Database.Database) {
  type Side = { tenant: string; user: string; before: number; state: string | null; n: number };
  // Each side of "the user's jobs" walks its own index in creation order, newest first.
  const side = (index: string, column: string) =>
    db.prepare<Side, JobRow>(
      `SELECT seq, record FROM jobs INDEXED BY ${index}
       WHERE tenant_id = @tenant AND ${column} = @user AND seq < @before AND (@state IS NULL OR state = @state)
       ORDER BY seq DESC LIMIT @n`,
    );
  return {
    byKey: db.prepare<{ key: string }, JobRow>('SELECT seq, record FROM jobs WHERE key = @key'),
    taken: db.prepare<{ key: string }, number>('SELECT 1 FROM jobs WHERE key = @key').pluck(),
    insert: db.prepare<JobColumns>(
      'INSERT INTO jobs (key, tenant_id, creator_id, assignee_id, state, record) VALUES (@key, @tenant, @creator, @assignee, @state, @record)',
    ),
    replace: db.prepare<JobColumns & { seq: number }>(
      'UPDATE jobs SET tenant_id = @tenant, creator_id = @creator, assignee_id = @assignee, state = @state, record = @record WHERE seq = @seq AND key = @key',
    ),
    nextId: db.prepare<[], number>('SELECT next FROM job_ids WHERE id = 1').pluck(),
    setNextId: db.prepare<{ next: number }>('UPDATE job_ids SET next = @next WHERE id = 1'),
    assignedTo: side('jobs_by_assignee', 'assignee_id'),
    createdBy: side('jobs_by_creator', 'creator_id'),
  };
}

type Statements = ReturnType<typeof prepareStatements>;

/**
 * Jobs in an embedded SQLite database (better-sqlite3), its own file beside the inbox's:
 * a job is a small mutable record, changed in place by its transitions and listed by
 * user, which an indexed table does directly.
 *
 * Durability: a write resolves once its transaction is on disk (an fdatasync of the WAL
 * after the commit, off the event loop: open-database.ts), and a SIGKILL at any moment
 * leaves a database that opens with every committed transaction. Writes are
 * group-committed (write-batcher.ts): every create and transition asked while a batch
 * gathers (up to 3 turns of the event loop) is one transaction. A transition runs
 * its state machine inside that transaction, on the row as stored, so two transitions of
 * one job can never both act on the same version.
 *
 * Memory: nothing per job is held in the process; SQLite's page cache is capped.
 */
export function createSqliteJobStore(options: SqliteJobStoreOptions): JobStore {
  const { file, logger } = options;
  const lifecycle = createSqliteStoreLifecycle({
    file,
    logger,
    cacheKiB: options.cacheKiB ?? 8 * 1024,
    migrate: (opening) => migrateJobSchema(opening, file),
    prepare: prepareStatements,
    maxBatchWeight: MAX_BATCH_WEIGHT,
    name: 'job store',
    databaseName: 'job database',
    openedOnce: 'A job store can be opened once',
  });
  const { opened } = lifecycle;

  /** Runs `run` in the next group-committed transaction; resolves once it is durable. */
  async function write<T>(action: string, run: (s: Statements) => T): Promise<T> {
    const store = opened();
    return store.batcher.write(action, () => run(store.sql));
  }

  function read<T>(action: string, run: (s: Statements) => T): T {
    const store = opened();
    try {
      return run(store.sql);
    } catch (err) {
      throw toStoreError(action, err);
    }
  }

  /** The next integer id no job has (ids given with a job are skipped), reserved in this transaction. */
  function freeId(s: Statements): number {
    let id = s.nextId.get() ?? 1;
    while (s.taken.get({ key: String(id) }) !== undefined) id += 1;
    s.setNextId.run({ next: id + 1 });
    return id;
  }

  return {
    open: lifecycle.open,
    close: lifecycle.close,
    isWritable: lifecycle.isWritable,

    create(jobId, build) {
      return write('store a job', (s) => {
        if (jobId !== undefined) {
          const existing = s.byKey.get({ key: jobKey(jobId) });
          if (existing !== undefined) return { job: parse(existing).job, created: false };
        }
        const id: JobId = jobId ?? freeId(s);
        const job: JobRecord = { ...build(id), jobId: id };
        const columns = columnsOf(job);
        s.insert.run(columns);
        return { job: JSON.parse(columns.record) as JobRecord, created: true };
      });
    },

    async get(jobId) {
      const row = read('read a job', (s) => s.byKey.get({ key: jobKey(jobId) }));
      return row === undefined ? undefined : parse(row).job;
    },

    update(jobId, change) {
      return write('change a job', (s) => {
        const row = s.byKey.get({ key: jobKey(jobId) });
        if (row === undefined) return undefined;
        const current = parse(row).job;
        const next = change(parse(row).job);
        if (next === undefined) return { job: current, changed: false };
        const columns = columnsOf({ ...next, jobId: current.jobId });
        if (s.replace.run({ ...columns, seq: row.seq }).changes !== 1) throw new Error('the job row was not rewritten');
        return { job: JSON.parse(columns.record) as JobRecord, changed: true };
      });
    },

    async list(filter) {
      const { before } = checkListFilter(filter);
      const side = { tenant: filter.tenantId ?? '', user: filter.userId, before, state: filter.state ?? null, n: filter.limit + 1 };
      const rows = read('list jobs', (s) => [...s.assignedTo.all(side), ...s.createdBy.all(side)]);
      // A job the user both created and is assigned to comes from both sides: once here.
      const unique = [...new Map(rows.map((row) => [row.seq, row])).values()].sort((a, b) => b.seq - a.seq);
      return pageOf(unique.slice(0, filter.limit + 1), filter.limit, parse);
    },
  };
}
