import type { ChatMessage, ChatSession, MessagePage } from '../contracts/chat.js';
import type { MessageSent, PendingChatSession } from '../contracts/events.js';
import { AppError } from '../errors.js';
import { createChatQuotas, type ChatQuotaLimits, type ChatQuotaWindows } from './chat-quotas.js';
import { cursorOf } from './chat-rules.js';
import { pageOfSessions, type SessionListPage } from './chat-session-list.js';
import type { ChatStore } from './chat-store.js';
import type { RealtimeGateway } from './realtime-gateway.js';

/**
 * Who is asking: a backend with an API key (sees and may do everything, naming the
 * sender itself) or a user (only their own sessions; someone else's is NOT_FOUND, so
 * ids cannot be probed).
 */
export type ChatActor = { kind: 'server' } | { kind: 'user'; userId: string; tenantId: string | undefined };

export interface ChatServiceOptions {
  store: ChatStore;
  gateway: RealtimeGateway;
  maxMessageBytes: number;
  /** How many undelivered messages per session are pushed on connect; the rest are read over REST. */
  offlinePageSize?: number;
  /** How many undelivered messages in all are pushed on connect (CHAT_OFFLINE_MAX_MESSAGES). */
  offlineMaxMessages?: number;
  /** What one user may make the server store; users acting through an API key are the backend's and exempt. */
  quotas?: ChatQuotaLimits;
  /** Where the message and peer-session windows are counted instead of in this process (cluster mode: Redis). */
  quotaWindows?: ChatQuotaWindows;
  /** Milliseconds since the epoch, for the quota windows (tests move it instead of waiting). */
  now?: () => number;
  /** Told about failures of work the caller does not wait for (cursor bookkeeping). */
  onBackgroundError?: (err: unknown, context: Record<string, unknown>) => void;
}

/**
 * Chat between two users (seed 001): the rules, on top of the durable store and the
 * realtime gateway. Used alike by the socket events and the REST API, so both paths give
 * the same guarantees and emit the same events.
 */
export function createChatService(options: ChatServiceOptions) {
  const { store, gateway } = options;
  const offlinePageSize = options.offlinePageSize ?? 100;
  const offlineMaxMessages = options.offlineMaxMessages ?? 500;
  const quotas = options.quotas === undefined ? undefined : createChatQuotas(options.quotas, options.now ?? Date.now, options.quotaWindows);

  const otherParticipant = (session: ChatSession, userId: string) =>
    session.participants[0] === userId ? session.participants[1] : session.participants[0];

  const toUser = (session: ChatSession, userId: string, event: string, payload: unknown) =>
    gateway.emitToUsers({ userIds: [userId], tenantId: session.tenantId }, event, payload);

  /** The session, if the actor may see it; NOT_FOUND otherwise (never FORBIDDEN). */
  async function visibleSession(actor: ChatActor, sessionId: string): Promise<ChatSession> {
    const session = await store.getSession(sessionId);
    if (!session || (actor.kind === 'user' && !canSee(actor, session))) {
      throw new AppError('NOT_FOUND', `No chat session ${sessionId}`);
    }
    return session;
  }

  function canSee(actor: { userId: string; tenantId: string | undefined }, session: ChatSession): boolean {
    return session.participants.includes(actor.userId) && session.tenantId === actor.tenantId;
  }

  /** The acting user: a user actor is who they are; a server actor names the sender. */
  function senderOf(actor: ChatActor, claimed: string | undefined): string {
    if (actor.kind === 'user') {
      if (claimed !== undefined && claimed !== actor.userId) {
        throw new AppError('FORBIDDEN', 'senderUserId must be the authenticated user');
      }
      return actor.userId;
    }
    if (claimed === undefined) throw new AppError('INVALID_REQUEST', 'senderUserId is required');
    return claimed;
  }

  /** Up to `limit` messages to `userId` with seq above `after`, oldest first. */
  async function receivedAfter(sessionId: string, userId: string, after: number, limit: number): Promise<ChatMessage[]> {
    const messages: ChatMessage[] = [];
    let from = after;
    while (messages.length < limit) {
      const page = await store.readMessages(sessionId, { after: from, limit: offlinePageSize });
      messages.push(...page.messages.filter((m) => m.receiverUserId === userId).slice(0, limit - messages.length));
      if (page.nextAfter === undefined) break;
      from = page.nextAfter;
    }
    return messages;
  }

  return {
    async createSession(
      actor: ChatActor,
      input: { machineId: string; senderUserId?: string | undefined; receiverUserId: string; tenantId?: string | undefined },
    ): Promise<ChatSession> {
      const senderUserId = senderOf(actor, input.senderUserId);
      if (senderUserId === input.receiverUserId) throw new AppError('INVALID_REQUEST', 'A chat session needs two different users');
      const tenantId = actor.kind === 'user' ? actor.tenantId : input.tenantId;
      const create = () => store.createSession({ machineId: input.machineId, senderUserId, receiverUserId: input.receiverUserId, tenantId });
      const session =
        actor.kind === 'user' && quotas !== undefined
          ? await quotas.oneCreationAtATime(senderUserId, tenantId, async () => {
              // Counted from the store, so the total survives restarts and deletions free a place.
              quotas.checkSessionTotal(await store.countSessionsCreatedBy(senderUserId, tenantId));
              await quotas.spendPeerSession(senderUserId, tenantId, input.receiverUserId);
              return create();
            })
          : await create();
      await toUser(session, input.receiverUserId, 'new_chat_session', {
        sessionId: session.sessionId,
        senderUserId,
        receiverUserId: input.receiverUserId,
        createdAt: session.createdAt,
      });
      return session;
    },

    /**
     * Stores the message durably, then hands it to the receiver's sockets. Resolves only
     * after the store acknowledged it; a retry with the same clientMessageId resolves to
     * the first message (`duplicate: true`) without storing it again, and delivers it
     * again only when the receiver's delivered cursor does not cover it yet.
     */
    async sendMessage(
      actor: ChatActor,
      input: {
        sessionId: string;
        senderUserId?: string | undefined;
        receiverUserId?: string | undefined;
        machineId?: string | undefined;
        message: string;
        clientMessageId?: string | undefined;
      },
    ): Promise<MessageSent & { message: ChatMessage }> {
      const session = await visibleSession(actor, input.sessionId);
      const senderUserId = senderOf(actor, input.senderUserId);
      if (!session.participants.includes(senderUserId)) throw new AppError('NOT_FOUND', `No chat session ${input.sessionId}`);
      const receiverUserId = otherParticipant(session, senderUserId);
      if (input.receiverUserId !== undefined && input.receiverUserId !== receiverUserId) {
        throw new AppError('INVALID_REQUEST', 'receiverUserId is not the other participant of this session');
      }
      if (Buffer.byteLength(input.message) > options.maxMessageBytes) {
        throw new AppError('PAYLOAD_TOO_LARGE', `message is larger than ${options.maxMessageBytes} bytes`);
      }
      if (actor.kind === 'user') await quotas?.spendMessage(actor.userId, actor.tenantId);

      const { message, duplicate } = await store.appendMessage(session.sessionId, {
        senderUserId,
        receiverUserId,
        message: input.message,
        machineId: input.machineId ?? session.machineId,
        clientMessageId: input.clientMessageId,
      });
      const sent = { sessionId: session.sessionId, messageId: message.id, seq: message.seq, timestamp: message.timestamp, duplicate };
      // A retry of a message that no socket of the receiver is known to have been handed is
      // handed over again: the first attempt may have stored it and then died (a node
      // killed between its commit and its publish) with the receiver still connected
      // elsewhere, who would otherwise get it on no socket. Clients de-duplicate by id.
      if (duplicate && cursorOf(session, receiverUserId).delivered >= message.seq) return { ...sent, delivered: true, message };

      // The receiver's delivered cursor moves where a socket is handed the message, not
      // here: `recipients` may count sockets of other nodes, one of which may be dying.
      const recipients = await toUser(session, receiverUserId, 'new_message', { sessionId: session.sessionId, message });
      if (recipients === 0) {
        await toUser(session, senderUserId, 'receiver_unavailable', {
          sessionId: session.sessionId,
          receiverUserId,
          messageId: message.id,
          stored: true,
        });
      }
      return { ...sent, delivered: recipients > 0, message };
    },

    /** Marks everything up to `seq` read by the actor and tells the other participant. */
    async markRead(actor: ChatActor & { kind: 'user' }, sessionId: string, seq: number): Promise<number> {
      const session = await visibleSession(actor, sessionId);
      const updated = await store.advanceCursor(sessionId, actor.userId, { read: seq });
      const { read } = cursorOf(updated, actor.userId);
      await toUser(session, otherParticipant(session, actor.userId), 'message_read', { sessionId, seq: read, readerUserId: actor.userId });
      return read;
    },

    /** Relays a typing notice to the other participant; nothing is stored. */
    async typing(actor: ChatActor & { kind: 'user' }, sessionId: string): Promise<void> {
      const session = await visibleSession(actor, sessionId);
      await toUser(session, otherParticipant(session, actor.userId), 'typing', { sessionId, userId: actor.userId });
    },

    /**
     * Messages sent to the user that none of their sockets has been handed yet, per
     * session (newest activity first), oldest first within a session: at most
     * `offlinePageSize` per session and `offlineMaxMessages` in all, so that a user with a
     * large backlog is not sent all of it at once. `remaining` names the sessions holding
     * more, for the client to read over REST; it lists at most PENDING_SESSIONS_LISTED.
     */
    async undelivered(userId: string, tenantId: string | undefined): Promise<OfflineDelivery> {
      const batches: OfflineDelivery['batches'] = [];
      const remaining: PendingChatSession[] = [];
      let truncated = false;
      let budget = offlineMaxMessages;
      for (const summary of await store.listSessionsOf(userId)) {
        if (summary.tenantId !== tenantId || summary.undeliveredCount === 0) continue;
        const { delivered } = cursorOf(summary, userId);
        const messages = budget > 0 ? await receivedAfter(summary.sessionId, userId, delivered, Math.min(offlinePageSize, budget)) : [];
        budget -= messages.length;
        if (messages.length > 0) batches.push({ sessionId: summary.sessionId, messages });
        const pending = summary.undeliveredCount - messages.length;
        if (pending <= 0) continue;
        if (remaining.length === PENDING_SESSIONS_LISTED) truncated = true;
        else remaining.push({ sessionId: summary.sessionId, after: messages.at(-1)?.seq ?? delivered, pending });
      }
      return { batches, remaining, truncated };
    },

    /**
     * Records that a socket of `userId` was handed the session's messages up to `seq`, as
     * the node holding that socket sees it (see createDeliveryTracker). Neither awaited
     * nor written at once: a cursor update that is lost or late only means the message is
     * offered again on the next connect, so one rewrite per few seconds serves a busy session.
     */
    handedOver(sessionId: string, userId: string, seq: number): void {
      store.advanceCursor(sessionId, userId, { delivered: seq }, { deferrable: true }).catch((err: unknown) =>
        options.onBackgroundError?.(err, { sessionId, what: 'delivered cursor' }),
      );
    },

    /** Records a late delivery and tells the sender, whose message_sent said `delivered: false`. */
    async markDelivered(sessionId: string, userId: string, seq: number): Promise<void> {
      const session = await store.advanceCursor(sessionId, userId, { delivered: seq });
      await toUser(session, otherParticipant(session, userId), 'message_delivered', { sessionId, seq, receiverUserId: userId });
    },

    async getSession(actor: ChatActor, sessionId: string, page: { after: number; limit: number }): Promise<ChatSession & MessagePage> {
      const session = await visibleSession(actor, sessionId);
      return { ...session, ...(await store.readMessages(sessionId, page)) };
    },

    async readMessages(actor: ChatActor, sessionId: string, page: { after: number; limit: number }): Promise<MessagePage> {
      await visibleSession(actor, sessionId);
      return store.readMessages(sessionId, page);
    },

    async listSessions(actor: ChatActor, userId: string, page: { limit: number; cursor?: string | undefined }): Promise<SessionListPage> {
      // A user asking for someone else's list sees nothing of it, as if it were empty.
      if (actor.kind === 'user' && actor.userId !== userId) return pageOfSessions([], page);
      const sessions = await store.listSessionsOf(userId);
      return pageOfSessions(actor.kind === 'user' ? sessions.filter((s) => s.tenantId === actor.tenantId) : sessions, page);
    },

    async deleteSession(actor: ChatActor, sessionId: string): Promise<void> {
      await visibleSession(actor, sessionId);
      await store.deleteSession(sessionId);
    },
  };
}

export type ChatService = ReturnType<typeof createChatService>;

/** What offline delivery pushes at connect, and what it leaves for the client to read over REST. */
export interface OfflineDelivery {
  batches: { sessionId: string; messages: ChatMessage[] }[];
  remaining: PendingChatSession[];
  /** More sessions than `remaining` lists hold undelivered messages. */
  truncated: boolean;
}

/** Sessions named in one `chat:pending` at most; the rest are found by `undeliveredCount` in the session list. */
export const PENDING_SESSIONS_LISTED = 200;
