import { AppError } from '../../errors.js';

/**
 * Node socket errors that mean the server is out of reach (refused, reset, unreachable,
 * no such host), as opposed to a statement the server refused.
 */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED']);

/**
 * SQLSTATE classes and codes that say the database cannot serve now, whatever the
 * statement: connection exceptions (08), insufficient resources such as a full disk or
 * too many connections (53), operator intervention such as an admin shutdown or a
 * cancelled statement (57), system and I/O errors (58), invalid authorization (28), a
 * database that does not exist (3D000), and a read-only standby (25006).
 */
const UNAVAILABLE_CLASSES = ['08', '53', '57', '58', '28'];
const UNAVAILABLE_CODES = new Set(['3D000', '25006']);

/** Text PostgreSQL cannot store (a NUL character): invalid byte sequence, untranslatable character. */
const UNSTORABLE_TEXT_CODES = new Set(['22021', '22P05']);

/** Deadlocks and serialization failures: the transaction was rolled back and may simply run again. */
const RETRYABLE_CODES = new Set(['40P01', '40001']);

/** What `pg` and `pg-pool` throw without a code when a connection is lost or cannot be had. */
const CONNECTION_MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error and is not queryable',
  'Client was closed and is not queryable',
  'Cannot use a pool after calling end on the pool',
  'Query read timeout',
];

function codeOf(err: unknown): string | undefined {
  return err instanceof Error && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
}

/** True when `err` means the connection to PostgreSQL failed or was lost: nothing of an open transaction was committed. */
export function isConnectionFailure(err: unknown): boolean {
  const code = codeOf(err);
  if (code !== undefined && (NETWORK_CODES.has(code) || code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03')) return true;
  return err instanceof Error && CONNECTION_MESSAGES.some((message) => err.message.startsWith(message));
}

export function isRetryable(err: unknown): boolean {
  const code = codeOf(err);
  return code !== undefined && RETRYABLE_CODES.has(code);
}

/** True when `err` says the database is unavailable rather than that a statement is wrong. */
export function isUnavailable(err: unknown): boolean {
  if (isConnectionFailure(err) || isRetryable(err)) return true;
  const code = codeOf(err);
  if (code === undefined) return false;
  return UNAVAILABLE_CODES.has(code) || UNAVAILABLE_CLASSES.some((prefix) => code.startsWith(prefix));
}

/**
 * What a caller is told: STORAGE_UNAVAILABLE when the database is out of reach or cannot
 * serve (the driver's error kept on `cause` for the logs); anything else, a bug in a
 * statement, is passed on as it is and ends as INTERNAL_SERVER_ERROR at the edge.
 */
export function toStoreError(action: string, err: unknown): unknown {
  if (err instanceof AppError) return err;
  // PostgreSQL text cannot hold NUL, which JavaScript strings can: the client's input, not a fault.
  if (UNSTORABLE_TEXT_CODES.has(codeOf(err) ?? '')) return new AppError('INVALID_REQUEST', 'Text must not contain NUL characters', { cause: err });
  if (!isUnavailable(err)) return err;
  return new AppError('STORAGE_UNAVAILABLE', `Storage unavailable: could not ${action}`, { cause: err });
}
