import type { ChatSession, ChatSessionSummary, ParticipantCursor } from '../contracts/chat.js';
import { AppError } from '../errors.js';
import type { NewChatSession } from './chat-store.js';

/**
 * Rules every ChatStore implementation and the chat service apply the same way: cursor
 * movement, argument checks and the order of a user's session list. Shared so the file
 * store and the memory store (the reference of the semantics) cannot drift apart.
 *
 * User ids are keys of `cursors`, and a user may be called `__proto__` or `constructor`:
 * cursors are read only through `cursorOf` (own properties) and built only through
 * `cursorsOf` / `withCursor` (objects without a prototype, where assigning `__proto__`
 * adds a property instead of replacing the prototype).
 */

const ZERO: ParticipantCursor = Object.freeze({ delivered: 0, read: 0 });

export function cursorOf(session: Pick<ChatSession, 'cursors'>, userId: string): ParticipantCursor {
  return Object.hasOwn(session.cursors, userId) ? (session.cursors[userId] as ParticipantCursor) : ZERO;
}

/** A cursors record without a prototype, holding `entries`. */
export function cursorsOf(entries: Iterable<readonly [string, ParticipantCursor]>): Record<string, ParticipantCursor> {
  const cursors = Object.create(null) as Record<string, ParticipantCursor>;
  for (const [userId, cursor] of entries) cursors[userId] = cursor;
  return cursors;
}

/** A copy of `cursors` with `userId`'s cursor replaced. */
export function withCursor(cursors: Record<string, ParticipantCursor>, userId: string, cursor: ParticipantCursor): Record<string, ParticipantCursor> {
  return cursorsOf([...Object.entries(cursors), [userId, cursor]]);
}

/** Cursors only move forward, never past the last stored message, and read implies delivered. */
export function advancedCursor(current: ParticipantCursor, requested: { delivered?: number; read?: number }, lastSeq: number): ParticipantCursor {
  const read = Math.max(current.read, Math.min(requested.read ?? 0, lastSeq));
  const delivered = Math.max(current.delivered, Math.min(requested.delivered ?? 0, lastSeq), read);
  return { delivered, read };
}

function isCount(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0;
}

export function assertCursor(cursor: { delivered?: number; read?: number }): void {
  if ((cursor.delivered !== undefined && !isCount(cursor.delivered)) || (cursor.read !== undefined && !isCount(cursor.read))) {
    throw new AppError('INVALID_REQUEST', 'Cursor positions must be non-negative integers');
  }
}

export function assertPage(page: { after: number; limit: number }): void {
  if (!isCount(page.after) || !isCount(page.limit) || page.limit === 0) {
    throw new AppError('INVALID_REQUEST', 'after must be a non-negative integer and limit a positive one');
  }
}

/** Where a session sits in a user's list: newest activity first, then newest creation, then id. */
export interface ActivityKey {
  /** Epoch ms of the last message, else of the creation. */
  activity: number;
  created: number;
  sessionId: string;
}

export function activityKeyOf(summary: ChatSessionSummary): ActivityKey {
  return {
    activity: timeOf(summary.lastMessage?.timestamp ?? summary.createdAt),
    created: timeOf(summary.createdAt),
    sessionId: summary.sessionId,
  };
}

/** Epoch ms of an ISO time; 0 for one that does not parse (seed files are not trusted). */
function timeOf(iso: string): number {
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? 0 : ms;
}

/** Negative when `a` comes first in a user's list. */
export function compareActivityKeys(a: ActivityKey, b: ActivityKey): number {
  return b.activity - a.activity || b.created - a.created || (a.sessionId < b.sessionId ? -1 : a.sessionId > b.sessionId ? 1 : 0);
}

/** Newest activity (last message, else creation) first; ties by newest creation, then by id. */
export function byNewestActivity(a: ChatSessionSummary, b: ChatSessionSummary): number {
  return compareActivityKeys(activityKeyOf(a), activityKeyOf(b));
}

/** A new session as every store records it: the seed 001 fields plus zeroed cursors. */
export function newSessionRecord(sessionId: string, input: NewChatSession, createdAt: Date): ChatSession {
  const participants: [string, string] = [input.senderUserId, input.receiverUserId];
  return {
    sessionId,
    machineId: input.machineId,
    senderUserId: input.senderUserId,
    receiverUserId: input.receiverUserId,
    createdAt: createdAt.toISOString(),
    participants,
    ...(input.tenantId !== undefined ? { tenantId: input.tenantId } : {}),
    cursors: cursorsOf(participants.map((userId) => [userId, { delivered: 0, read: 0 }])),
  };
}
