import type { ChatMessage, ChatSession, ChatSessionSummary, MessagePage } from '../contracts/chat.js';

export type { ChatMessage, ChatSession, ChatSessionSummary, MessagePage, ParticipantCursor } from '../contracts/chat.js';

/**
 * Durable storage of two-user chat sessions (seed 001). The embedded implementation
 * keeps files under CHAT_SESSIONS_DIR; the PostgreSQL one (DATABASE_URL) keeps rows that
 * several servers share. Both pass the same contract tests
 * (test/unit/chat-store-contract.test.ts).
 *
 * Guarantees every implementation gives:
 * - `appendMessage` resolves only once the message is durable (for files: after fsync;
 *   for PostgreSQL: after COMMIT).
 *   A resolved append is never lost, whatever happens to the process afterwards.
 * - Within a session, `seq` starts at 1 and increases by exactly 1 per stored message, in
 *   the order appends resolve; no two messages share a seq.
 * - The same `clientMessageId` in the same session stores one message: a retry resolves to
 *   the first message with `duplicate: true`.
 * - Failures to persist reject with AppError('STORAGE_UNAVAILABLE'); nothing is
 *   acknowledged that was not stored. What was stored before stays readable.
 * - Unknown or malformed session ids reject with AppError('NOT_FOUND') or
 *   AppError('INVALID_REQUEST') before any path is built.
 */
export interface ChatStore {
  /** Takes ownership of the storage (a second owner is refused), repairs and indexes it. */
  open(): Promise<void>;
  /** Flushes pending writes and releases ownership. Idempotent. */
  close(): Promise<void>;
  /** False after a failed write, until a write succeeds again (drives GET /ready). */
  isWritable(): boolean;
  /** Sessions and messages held in memory as indexes (exported in /metrics); 0 for a store that holds none. */
  indexStats(): { sessions: number; messages: number };

  createSession(input: NewChatSession): Promise<ChatSession>;
  /** Resolves undefined when no such session exists. */
  getSession(sessionId: string): Promise<ChatSession | undefined>;
  /** Removes the session and its messages. Resolves false when it did not exist. */
  deleteSession(sessionId: string): Promise<boolean>;
  /** The user's sessions, newest activity first, with counts. */
  listSessionsOf(userId: string): Promise<ChatSessionSummary[]>;
  /**
   * How many existing sessions `userId` created (is their `senderUserId`) in `tenantId`
   * (undefined: sessions without a tenant). Answered from what is stored, without
   * reading any messages.
   */
  countSessionsCreatedBy(userId: string, tenantId: string | undefined): Promise<number>;

  appendMessage(sessionId: string, input: NewChatMessage): Promise<{ message: ChatMessage; duplicate: boolean }>;
  /** Messages with seq > after, oldest first, at most `limit`; `nextAfter` when more remain. */
  readMessages(sessionId: string, page: { after: number; limit: number }): Promise<MessagePage>;
  /**
   * Moves a participant's cursors forward (never backward). `delivered` is the last seq
   * handed to one of the user's sockets; `read` the last seq the user has read (read
   * implies delivered). Resolves with the session as updated, once it is stored.
   *
   * `deferrable`: the change is visible at once but may reach storage some seconds later
   * (the file store: up to 5 s), together with the session's other deferred changes
   * (close() writes what is pending), and a crash may lose it. For cursors whose loss
   * only means a re-delivery, such as a live delivery's: without it, every delivered
   * message would rewrite session.json.
   */
  advanceCursor(
    sessionId: string,
    userId: string,
    cursor: { delivered?: number; read?: number },
    options?: { deferrable?: boolean },
  ): Promise<ChatSession>;
}

export interface NewChatSession {
  machineId: string;
  senderUserId: string;
  receiverUserId: string;
  tenantId?: string | undefined;
}

export interface NewChatMessage {
  senderUserId: string;
  receiverUserId: string;
  message: string;
  machineId: string;
  clientMessageId?: string | undefined;
}

