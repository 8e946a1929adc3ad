import type { Logger } from '../../observability/logger.js';
import { errnoCode } from './fs-errors.js';

/**
 * Whether the chat store's last write succeeded: false after a failed write, until one
 * succeeds again. Drives `isWritable()` and so GET /ready. Shared by every part of the
 * store that writes (the session logs, session.json rewrites, creations and deletions).
 */
export interface WriteHealth {
  readonly writable: boolean;
  written(): void;
  failed(err: unknown, context: Record<string, unknown>): void;
}

export function createWriteHealth(logger: Logger, dir: string): WriteHealth {
  let writable = true;
  return {
    get writable() {
      return writable;
    },
    written() {
      if (!writable) logger.info({ dir }, 'chat storage is writable again');
      writable = true;
    },
    failed(err, context) {
      writable = false;
      logger.error({ err, code: errnoCode(err), ...context }, 'chat storage write failed');
    },
  };
}
