import Database from 'better-sqlite3';
import { AppError } from '../../errors.js';

/**
 * Result codes that say the storage under the database failed or is out of reach (disk
 * full, I/O error, read-only or missing file, another process holding the lock), as
 * opposed to a bug in a statement. Extended codes (`SQLITE_IOERR_FSYNC`) share the prefix.
 * A failed system call of our own on the files (Node's errors with a `syscall`) is one too.
 */
const STORAGE_CODES = ['SQLITE_FULL', 'SQLITE_IOERR', 'SQLITE_READONLY', 'SQLITE_CANTOPEN', 'SQLITE_BUSY', 'SQLITE_LOCKED', 'SQLITE_CORRUPT', 'SQLITE_NOTADB'];

export function isStorageFailure(err: unknown): boolean {
  // A failed system call on the database's files (the WAL's fdatasync): EIO, ENOSPC, EROFS…
  if (err instanceof Error && typeof (err as NodeJS.ErrnoException).syscall === 'string') return true;
  if (!(err instanceof Database.SqliteError)) return false;
  return STORAGE_CODES.some((code) => err.code === code || err.code.startsWith(`${code}_`));
}

/**
 * What a caller is told: STORAGE_UNAVAILABLE when the storage failed, whatever SQLite's
 * code (kept on `cause` for the logs); anything else is passed on as it is and ends as
 * INTERNAL_SERVER_ERROR at the edge.
 */
export function toStoreError(action: string, err: unknown): unknown {
  if (err instanceof AppError || !isStorageFailure(err)) return err;
  return new AppError('STORAGE_UNAVAILABLE', `Storage unavailable: could not ${action}`, { cause: err });
}
