import type { ChatSession, ChatSessionSummary, ParticipantCursor } from '../contracts/chat.js';
import type { NewChatSession } from '../domain/chat-store.js';
import { AppError } from '../errors.js';

/**
 * Rules every ChatStore implementation applies the same way: cursor movement, argument
 * checks and the order of a user's session list. Shared so the file store and the
 * memory store (the reference of the semantics) cannot drift apart.
 */

export function cursorOf(session: ChatSession, userId: string): ParticipantCursor {
  return Object.hasOwn(session.cursors, userId) ? (session.cursors[userId] as ParticipantCursor) : { delivered: 0, read: 0 };
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

function activityOf(summary: ChatSessionSummary): number {
  return timeOf(summary.lastMessage?.timestamp ?? summary.createdAt);
}

/** Epoch ms of an ISO time; 0 for one that does not parse (seed files are not trusted). */
function timeOf(iso: string): number {
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? 0 : ms;
}

/** Newest activity (last message, else creation) first; ties by newest creation, then by id. */
export function byNewestActivity(a: ChatSessionSummary, b: ChatSessionSummary): number {
  return (
    activityOf(b) - activityOf(a) ||
    timeOf(b.createdAt) - timeOf(a.createdAt) ||
    (a.sessionId < b.sessionId ? -1 : a.sessionId > b.sessionId ? 1 : 0)
  );
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
    cursors: Object.fromEntries(participants.map((userId) => [userId, { delivered: 0, read: 0 }])),
  };
}
