import { v4 as uuidv4, validate as isUuid } from 'uuid';
import type { ChatMessage, ChatSession, ChatSessionSummary, ChatStore } from '../../domain/chat-store.js';
import { AppError } from '../../errors.js';
import { advancedCursor, assertCursor, assertPage, byNewestActivity, cursorOf, newSessionRecord, withCursor } from '../../domain/chat-rules.js';

interface StoredSession {
  session: ChatSession;
  messages: ChatMessage[];
}

/**
 * The ChatStore in process memory, for tests and benchmarks, and the reference of the
 * port's semantics: it is written to be obviously right rather than fast, and the file
 * store must pass the same contract tests. Nothing survives the process; `open()` takes
 * no lock and a failed write cannot happen, so `isWritable()` is always true.
 */
export function createMemoryChatStore(options: { now?: () => Date } = {}): ChatStore {
  const now = options.now ?? (() => new Date());
  const sessions = new Map<string, StoredSession>();
  let state: 'new' | 'open' | 'closed' = 'new';

  const ready = () => {
    if (state !== 'open') throw new AppError('STORAGE_UNAVAILABLE', 'The chat store is not open');
  };

  const find = (sessionId: string): StoredSession | undefined => {
    ready();
    if (!isUuid(sessionId)) throw new AppError('INVALID_REQUEST', 'sessionId must be a UUID');
    return sessions.get(sessionId.toLowerCase());
  };

  const lookup = (sessionId: string): StoredSession => {
    const stored = find(sessionId);
    if (stored === undefined) throw new AppError('NOT_FOUND', 'Chat session not found');
    return stored;
  };

  const summarize = ({ session, messages }: StoredSession, userId: string): ChatSessionSummary => {
    const { read, delivered } = cursorOf(session, userId);
    const received = messages.filter((message) => message.receiverUserId === userId);
    const last = messages.at(-1);
    return {
      ...structuredClone(session),
      lastMessage: last === undefined ? null : { ...last },
      messageCount: messages.length,
      unreadCount: received.filter((message) => message.seq > read).length,
      undeliveredCount: received.filter((message) => message.seq > delivered).length,
    };
  };

  return {
    async open() {
      if (state !== 'new') throw new Error('A chat store can be opened once');
      state = 'open';
    },

    async close() {
      state = 'closed';
    },

    indexStats() {
      let messages = 0;
      for (const stored of sessions.values()) messages += stored.messages.length;
      return { sessions: sessions.size, messages };
    },

    isWritable() {
      return true;
    },

    async createSession(input) {
      ready();
      const sessionId = uuidv4();
      const session = newSessionRecord(sessionId, input, now());
      sessions.set(sessionId, { session, messages: [] });
      return structuredClone(session);
    },

    async getSession(sessionId) {
      const stored = find(sessionId);
      return stored === undefined ? undefined : structuredClone(stored.session);
    },

    async deleteSession(sessionId) {
      const stored = find(sessionId);
      if (stored === undefined) return false;
      sessions.delete(stored.session.sessionId);
      return true;
    },

    async listSessionsOf(userId) {
      ready();
      return [...sessions.values()]
        .filter(({ session }) => session.participants.includes(userId))
        .map((stored) => summarize(stored, userId))
        .sort(byNewestActivity);
    },

    async countSessionsCreatedBy(userId, tenantId) {
      ready();
      return [...sessions.values()].filter(({ session }) => session.senderUserId === userId && session.tenantId === tenantId).length;
    },

    async appendMessage(sessionId, input) {
      const { messages } = lookup(sessionId);
      const { clientMessageId } = input;
      const earlier = clientMessageId === undefined ? undefined : messages.find((m) => m.clientMessageId === clientMessageId);
      if (earlier !== undefined) return { message: { ...earlier }, duplicate: true };
      const message: ChatMessage = {
        id: uuidv4(),
        seq: messages.length + 1,
        senderUserId: input.senderUserId,
        receiverUserId: input.receiverUserId,
        message: input.message,
        timestamp: now().toISOString(),
        machineId: input.machineId,
        ...(clientMessageId !== undefined ? { clientMessageId } : {}),
      };
      messages.push(message);
      return { message: { ...message }, duplicate: false };
    },

    async readMessages(sessionId, page) {
      const { messages } = lookup(sessionId);
      assertPage(page);
      const remaining = messages.filter((message) => message.seq > page.after);
      const taken = remaining.slice(0, page.limit).map((message) => ({ ...message }));
      const last = taken.at(-1);
      return remaining.length > taken.length && last !== undefined ? { messages: taken, nextAfter: last.seq } : { messages: taken };
    },

    async advanceCursor(sessionId, userId, cursor) {
      const stored = lookup(sessionId);
      if (!stored.session.participants.includes(userId)) {
        throw new AppError('FORBIDDEN', 'Only a participant of a chat session has cursors in it');
      }
      assertCursor(cursor);
      const advanced = advancedCursor(cursorOf(stored.session, userId), cursor, stored.messages.length);
      stored.session = { ...stored.session, cursors: withCursor(stored.session.cursors, userId, advanced) };
      return structuredClone(stored.session);
    },
  };
}
