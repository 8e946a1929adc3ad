import type { JobListFilter, JobRecord } from '../domain/job-store.js';
import { AppError } from '../errors.js';

/**
 * How every JobStore reads a list request and builds a page, shared so the SQLite store
 * and the memory store (the reference of the semantics) cannot drift apart. A cursor is
 * the creation sequence number of the last job of the previous page, as a decimal string.
 */

const CURSOR = /^[1-9][0-9]{0,15}$/;

/** The sequence numbers a page may hold: all below `before`. INVALID_REQUEST for a bad limit or cursor. */
export function checkListFilter(filter: JobListFilter): { before: number } {
  if (!Number.isInteger(filter.limit) || filter.limit < 1 || filter.limit > 100) {
    throw new AppError('INVALID_REQUEST', 'limit must be an integer from 1 to 100');
  }
  if (filter.cursor === undefined) return { before: Number.MAX_SAFE_INTEGER };
  const before = CURSOR.test(filter.cursor) ? Number(filter.cursor) : Number.NaN;
  if (!Number.isSafeInteger(before)) throw new AppError('INVALID_REQUEST', 'cursor must be a nextCursor as given');
  return { before };
}

/**
 * A page from up to `limit + 1` matching rows, newest first: the first `limit` jobs, and
 * the cursor after the last of them when another row followed.
 */
export function pageOf<T>(rows: readonly T[], limit: number, read: (row: T) => { seq: number; job: JobRecord }): { jobs: JobRecord[]; nextCursor?: string } {
  const page = rows.slice(0, limit).map(read);
  const last = page.at(-1);
  const jobs = page.map((entry) => entry.job);
  return rows.length > limit && last !== undefined ? { jobs, nextCursor: String(last.seq) } : { jobs };
}
