import { z } from 'zod';
import { cursorsOf } from '../../domain/chat-rules.js';
import type { ChatMessage, ChatSession, ParticipantCursor } from '../../domain/chat-store.js';

/** Disk is a boundary too: what is read back is parsed, never trusted. */

const cursorSchema = z.object({
  delivered: z.number().int().nonnegative(),
  read: z.number().int().nonnegative(),
});

const storedSessionSchema = z.object({
  sessionId: z.string(),
  machineId: z.string(),
  senderUserId: z.string(),
  receiverUserId: z.string(),
  createdAt: z.string(),
  // Seed 001 files may lack the fields below; they get their defaults.
  participants: z.tuple([z.string(), z.string()]).optional(),
  tenantId: z.string().optional(),
  // Keyed by user id, so checked by hand below: z.record drops a `__proto__` key.
  cursors: z.unknown().optional(),
  // Seed 001 kept the messages inside session.json.
  messages: z.array(z.unknown()).optional(),
});

const storedMessageSchema = z.object({
  id: z.string(),
  seq: z.number().int().positive(),
  senderUserId: z.string(),
  receiverUserId: z.string(),
  message: z.string(),
  timestamp: z.string(),
  machineId: z.string(),
  clientMessageId: z.string().optional(),
});

/** A message of a seed 001 session.json, before it had a seq. */
const seedMessageSchema = storedMessageSchema.omit({ seq: true, clientMessageId: true });

export interface StoredSession {
  session: ChatSession;
  /** The seed 001 `messages` array, when session.json still carries one. */
  seedMessages: unknown[] | undefined;
}

/** Parses a session.json text; undefined when it is not one. */
export function parseSessionFile(text: string): StoredSession | undefined {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  const parsed = storedSessionSchema.safeParse(json);
  if (!parsed.success) return undefined;
  const stored = parsed.data;
  const participants = stored.participants ?? [stored.senderUserId, stored.receiverUserId];
  const storedCursors = parseCursors(stored.cursors);
  if (storedCursors === undefined) return undefined;
  const cursors = cursorsOf(participants.map((userId) => [userId, storedCursors.get(userId) ?? { delivered: 0, read: 0 }]));
  return {
    session: {
      sessionId: stored.sessionId,
      machineId: stored.machineId,
      senderUserId: stored.senderUserId,
      receiverUserId: stored.receiverUserId,
      createdAt: stored.createdAt,
      participants,
      ...(stored.tenantId !== undefined ? { tenantId: stored.tenantId } : {}),
      cursors,
    },
    seedMessages: stored.messages !== undefined && stored.messages.length > 0 ? stored.messages : undefined,
  };
}

/**
 * The `cursors` of a session.json, by user id; undefined when it is not a cursors object.
 * JSON.parse makes a `"__proto__"` key an own property, which Object.entries sees; it goes
 * into a Map, never into an ordinary object where it would become the prototype.
 */
function parseCursors(value: unknown): Map<string, ParticipantCursor> | undefined {
  const cursors = new Map<string, ParticipantCursor>();
  if (value === undefined) return cursors;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  for (const [userId, raw] of Object.entries(value)) {
    const cursor = cursorSchema.safeParse(raw);
    if (!cursor.success) return undefined;
    cursors.set(userId, cursor.data);
  }
  return cursors;
}

/** The session.json text: the seed 001 fields (without messages) plus cursors. */
export function serializeSession(session: ChatSession): string {
  return `${JSON.stringify(session, null, 2)}\n`;
}

/** Parses one line of messages.jsonl (without its newline); undefined when it is not a message. */
export function parseMessageLine(line: string): ChatMessage | undefined {
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch {
    return undefined;
  }
  const parsed = storedMessageSchema.safeParse(json);
  return parsed.success ? parsed.data : undefined;
}

/** One line of messages.jsonl, newline included, fields in the documented order. */
export function serializeMessage(message: ChatMessage): string {
  const { id, seq, senderUserId, receiverUserId, message: text, timestamp, machineId, clientMessageId } = message;
  return `${JSON.stringify({ id, seq, senderUserId, receiverUserId, message: text, timestamp, machineId, clientMessageId })}\n`;
}

/** Gives a seed 001 message its seq; undefined when the entry is not a message. */
export function upgradeSeedMessage(entry: unknown, seq: number): ChatMessage | undefined {
  const parsed = seedMessageSchema.safeParse(entry);
  return parsed.success ? { ...parsed.data, seq } : undefined;
}
