import { ERROR_CATALOG, type ErrorCode } from './contracts/error-codes.js';

/**
 * An error a client can be told about: a catalog code plus a message that is safe to
 * show. Anything thrown that is not an AppError is treated as a bug and reaches clients
 * only as INTERNAL_SERVER_ERROR, with its message withheld.
 */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly retryAfter: number | undefined;

  constructor(code: ErrorCode, message?: string, options?: { retryAfter?: number; cause?: unknown }) {
    super(message ?? ERROR_CATALOG[code].text, { cause: options?.cause });
    this.name = 'AppError';
    this.code = code;
    this.retryAfter = options?.retryAfter;
  }

  get status(): number {
    return ERROR_CATALOG[this.code].status;
  }
}

/** Maps anything thrown to a client-safe AppError. */
export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  return new AppError('INTERNAL_SERVER_ERROR', undefined, { cause: err });
}

export function isAppError(err: unknown): err is AppError {
  return err instanceof AppError;
}
