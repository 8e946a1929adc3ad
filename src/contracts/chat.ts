/**
 * Chat session data as it travels on the wire and sits in files (seed 001 shapes plus
 * cursors). The chat store port in `domain/` produces and consumes these.
 */

export interface ParticipantCursor {
  /** Last seq delivered to this user (0 = none). */
  delivered: number;
  /** Last seq this user has read (0 = none). */
  read: number;
}

/**
 * session.json: the seed 001 fields plus cursors. Messages live in messages.jsonl.
 * `cursors` is keyed by user id, and a user may be called `__proto__`: read it with
 * `Object.hasOwn`, and never assign into it (the server builds it without a prototype).
 */
export interface ChatSession {
  sessionId: string;
  machineId: string;
  senderUserId: string;
  receiverUserId: string;
  createdAt: string;
  participants: [string, string];
  tenantId?: string | undefined;
  cursors: Record<string, ParticipantCursor>;
}

/** One line of messages.jsonl. */
export interface ChatMessage {
  id: string;
  seq: number;
  senderUserId: string;
  receiverUserId: string;
  message: string;
  timestamp: string;
  machineId: string;
  clientMessageId?: string | undefined;
}

export interface ChatSessionSummary extends ChatSession {
  lastMessage: ChatMessage | null;
  messageCount: number;
  /** Messages to this user with seq above the user's read cursor. */
  unreadCount: number;
  /** Messages to this user with seq above the user's delivered cursor: not yet handed to any of their sockets. */
  undeliveredCount: number;
}

export interface MessagePage {
  messages: ChatMessage[];
  /** Present when more messages remain: pass it as `after` for the next page. */
  nextAfter?: number;
}
