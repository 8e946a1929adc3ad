import { z } from 'zod';
import type { ChatSessionSummary } from '../contracts/chat.js';
import { AppError } from '../errors.js';
import { activityKeyOf, compareActivityKeys, type ActivityKey } from './chat-rules.js';

/** One page of a user's sessions, newest activity first. */
export interface SessionListPage {
  sessions: ChatSessionSummary[];
  /** Present when more sessions follow: pass it as `cursor` for the next page. */
  nextCursor?: string;
}

const cursorSchema = z.tuple([z.number().int(), z.number().int(), z.string().min(1).max(64)]);

/**
 * The cursor names the last session of a page by its place in the order (activity,
 * creation, id), not by an offset: a session that gets a message meanwhile moves to the
 * front, and the next page neither repeats one already seen nor skips one that did not
 * move. Opaque to clients (base64url of JSON), so its form may change.
 */
function encodeCursor(key: ActivityKey): string {
  return Buffer.from(JSON.stringify([key.activity, key.created, key.sessionId])).toString('base64url');
}

function decodeCursor(cursor: string): ActivityKey {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    json = undefined;
  }
  const parsed = cursorSchema.safeParse(json);
  if (!parsed.success) throw new AppError('INVALID_REQUEST', 'cursor is not one this server handed out (use nextCursor as given)');
  const [activity, created, sessionId] = parsed.data;
  return { activity, created, sessionId };
}

/** The page of `sorted` (in byNewestActivity order) that follows `cursor`, at most `limit` long. */
export function pageOfSessions(sorted: ChatSessionSummary[], page: { limit: number; cursor?: string | undefined }): SessionListPage {
  const after = page.cursor === undefined ? undefined : decodeCursor(page.cursor);
  const start = after === undefined ? 0 : firstAfter(sorted, after);
  const sessions = sorted.slice(start, start + page.limit);
  const last = sessions.at(-1);
  return start + sessions.length < sorted.length && last !== undefined ? { sessions, nextCursor: encodeCursor(activityKeyOf(last)) } : { sessions };
}

function firstAfter(sorted: ChatSessionSummary[], key: ActivityKey): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (compareActivityKeys(activityKeyOf(sorted[mid] as ChatSessionSummary), key) > 0) high = mid;
    else low = mid + 1;
  }
  return low;
}
