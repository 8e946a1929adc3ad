import path from 'node:path';
import { validate as isUuid } from 'uuid';
import { AppError } from '../../errors.js';

export const SESSION_FILE = 'session.json';
export const MESSAGES_FILE = 'messages.jsonl';
/** Session directories are renamed to this prefix before removal, so a delete is one atomic step. */
export const DELETED_DIR_PREFIX = '.deleted-';

/**
 * The canonical (lower-case) form of a session id. Throws INVALID_REQUEST for anything
 * that is not a UUID; callers run it before any path is built from the id.
 */
export function canonicalSessionId(sessionId: string): string {
  if (!isUuid(sessionId)) throw new AppError('INVALID_REQUEST', 'sessionId must be a UUID');
  return sessionId.toLowerCase();
}

/** True when a directory entry is named like a session this store created. */
export function isSessionDirName(name: string): boolean {
  return isUuid(name) && name === name.toLowerCase();
}

/**
 * The directory of a session. `root` must be absolute and resolved. The id is already a
 * canonical UUID; the check below is the second line of defence against a path that
 * would leave the root.
 */
export function sessionDirOf(root: string, canonicalId: string): string {
  const dir = path.resolve(root, canonicalId);
  if (path.dirname(dir) !== root || path.basename(dir) !== canonicalId) {
    throw new AppError('INVALID_REQUEST', 'sessionId must be a UUID');
  }
  return dir;
}
