import { jobKey, type JobId, type JobListFilter, type JobRecord, type JobStore } from '../../domain/job-store.js';
import { AppError } from '../../errors.js';
import { checkListFilter, pageOf } from '../job-input.js';

interface Stored {
  /** Creation order, for newest-first pages. */
  seq: number;
  job: JobRecord;
}

/** What storing as JSON and reading back gives, so both stores hand back the same values. */
function asStored<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/**
 * The JobStore in process memory, for tests, and the reference of the port's semantics:
 * written to be obviously right rather than fast (a list scans every job). Nothing
 * survives the process and a write cannot fail, so `isWritable()` is true while it is open.
 */
export function createMemoryJobStore(): JobStore {
  /** By key. A Map, so ids such as `__proto__` are ordinary keys. */
  const jobs = new Map<string, Stored>();
  let lastSeq = 0;
  let nextId = 1;
  let state: 'new' | 'open' | 'closed' = 'new';

  const ready = () => {
    if (state !== 'open') throw new AppError('STORAGE_UNAVAILABLE', 'Storage unavailable: the job store is not open');
  };

  /** The next integer no job has; taken for good only once its job is stored. */
  function freeId(): number {
    let id = nextId;
    while (jobs.has(String(id))) id += 1;
    return id;
  }

  return {
    async open() {
      if (state !== 'new') throw new Error('A job store can be opened once');
      state = 'open';
    },

    async close() {
      state = 'closed';
    },

    isWritable() {
      return state === 'open';
    },

    async create(jobId, build) {
      ready();
      if (jobId !== undefined) {
        const existing = jobs.get(jobKey(jobId));
        if (existing !== undefined) return { job: structuredClone(existing.job), created: false };
      }
      const id: JobId = jobId ?? freeId();
      const job = asStored({ ...build(id), jobId: id });
      if (jobId === undefined) nextId = (id as number) + 1;
      lastSeq += 1;
      jobs.set(jobKey(id), { seq: lastSeq, job });
      return { job: structuredClone(job), created: true };
    },

    async get(jobId) {
      ready();
      const stored = jobs.get(jobKey(jobId));
      return stored === undefined ? undefined : structuredClone(stored.job);
    },

    async update(jobId, change) {
      ready();
      const stored = jobs.get(jobKey(jobId));
      if (stored === undefined) return undefined;
      const next = change(structuredClone(stored.job));
      if (next === undefined) return { job: structuredClone(stored.job), changed: false };
      stored.job = asStored({ ...next, jobId: stored.job.jobId });
      return { job: structuredClone(stored.job), changed: true };
    },

    async list(filter: JobListFilter) {
      ready();
      const { before } = checkListFilter(filter);
      const tenant = filter.tenantId ?? '';
      const matching = [...jobs.values()]
        .filter(({ seq, job }) => {
          const mine = job.assigneeId === filter.userId || job.creatorId === filter.userId;
          return mine && (job.tenantId ?? '') === tenant && seq < before && (filter.state === undefined || job.state === filter.state);
        })
        .sort((a, b) => b.seq - a.seq);
      return pageOf(matching.slice(0, filter.limit + 1), filter.limit, (stored) => ({ seq: stored.seq, job: structuredClone(stored.job) }));
    },
  };
}
