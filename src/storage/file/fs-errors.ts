import { AppError } from '../../errors.js';

/** The errno code of a Node system error (`ENOSPC`, `ENOENT`…), if `err` is one. */
export function errnoCode(err: unknown): string | undefined {
  if (err instanceof Error && 'code' in err && typeof err.code === 'string') return err.code;
  return undefined;
}

/**
 * What a client is told when the disk refused: STORAGE_UNAVAILABLE, whatever the errno.
 * The errno stays on `cause` for the logs; the message names only what could not be done.
 */
export function storageUnavailable(action: string, cause: unknown): AppError {
  return new AppError('STORAGE_UNAVAILABLE', `Storage unavailable: could not ${action}`, { cause });
}
