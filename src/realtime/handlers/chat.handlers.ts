import {
  createChatSessionPayloadSchema,
  messageReadPayloadSchema,
  sendMessagePayloadSchema,
  typingPayloadSchema,
} from '../../contracts/schemas.js';
import type { AckFailure } from '../../contracts/error-codes.js';
import type { ChatErrorPayload, NewMessagePayload } from '../../contracts/events.js';
import type { ChatActor, ChatService } from '../../domain/chat-service.js';
import { AppError } from '../../errors.js';
import type { HandleDependencies, HandlerRegistry } from '../handle.js';
import type { AppSocket } from '../socket-types.js';

export interface ChatHandlerDependencies extends HandleDependencies {
  chat: ChatService;
}

/** The acting user of a socket: its token's user, or (development) the one register_user bound. */
function actorOf(socket: AppSocket): ChatActor & { kind: 'user' } {
  const { userId, tenantId } = socket.data;
  if (userId === undefined) throw new AppError('UNAUTHORIZED', 'Connect with a token, or register_user first');
  return { kind: 'user', userId, tenantId };
}

/**
 * Seed 001's chat events (`create_chat_session`, `send_message`, with their result and
 * error events) plus read receipts and typing notices.
 */
export function registerChatHandlers(handlers: HandlerRegistry, deps: ChatHandlerDependencies): void {
  const { chat } = deps;

  handlers.on(
    'create_chat_session',
    createChatSessionPayloadSchema,
    async (payload, socket) => {
      const session = await chat.createSession(actorOf(socket), payload);
      return { sessionId: session.sessionId, session };
    },
    {
      reply: 'session_created',
      replyFailure: (socket, failure) => socket.emit('session_error', chatError(failure)),
    },
  );

  handlers.on(
    'send_message',
    sendMessagePayloadSchema,
    async (payload, socket) => {
      const { message: _stored, ...sent } = await chat.sendMessage(actorOf(socket), payload);
      return sent;
    },
    {
      reply: 'message_sent',
      replyFailure: (socket, failure) => socket.emit('message_error', chatError(failure)),
    },
  );

  handlers.on('message_read', messageReadPayloadSchema, async ({ sessionId, seq }, socket) => ({
    success: true as const,
    sessionId,
    seq: await chat.markRead(actorOf(socket), sessionId, seq),
  }));

  handlers.on('typing', typingPayloadSchema, async ({ sessionId }, socket) => {
    await chat.typing(actorOf(socket), sessionId);
    return { success: true as const };
  });
}

/** The seed's `session_error` / `message_error` shape, plus `retryAfter` when rate limited. */
function chatError(failure: AckFailure): ChatErrorPayload {
  return failure.retryAfter === undefined
    ? { error: failure.error, code: failure.code }
    : { error: failure.error, code: failure.code, retryAfter: failure.retryAfter };
}

/**
 * Hands an identified socket the messages sent to its user while no socket of theirs
 * was connected: `new_message` for each, oldest first, then moves the delivered cursor.
 * What the caps left out is named in one `chat:pending`, for the client to read over
 * REST. Delivery is at-least-once (a message sent during this very moment may arrive
 * both live and here); clients de-duplicate by `message.id` or `seq`.
 */
export async function deliverOfflineMessages(socket: AppSocket, deps: ChatHandlerDependencies): Promise<void> {
  const { userId, tenantId } = socket.data;
  if (userId === undefined) return;
  try {
    const { batches, remaining, truncated } = await deps.chat.undelivered(userId, tenantId);
    for (const { sessionId, messages } of batches) {
      for (const message of messages) socket.emit('new_message', { sessionId, message });
      await deps.chat.markDelivered(sessionId, userId, messages.at(-1)!.seq);
    }
    if (remaining.length > 0) socket.emit('chat:pending', { sessions: remaining, truncated });
  } catch (err) {
    deps.logger.error({ err, userId, socketId: socket.id }, 'offline delivery failed; messages stay readable over REST');
  }
}

/**
 * Moves receivers' delivered cursors on the node that hands `new_message` to their sockets
 * (live, or at connect), not on the node that stored the message. In a cluster that node
 * counts sockets on every node, a node that was just killed included until its presence
 * expires: a message counted there but never written would be marked delivered, and the
 * offline delivery of the user's next connect would skip it. Written per session and user
 * at most once a turn of the event loop, however many sockets and messages.
 */
export function createDeliveryTracker(chat: ChatService) {
  const tracked = new WeakSet<AppSocket>();
  const pending = new Map<string, { sessionId: string; userId: string; seq: number }>();
  const flush = () => {
    for (const { sessionId, userId, seq } of pending.values()) chat.handedOver(sessionId, userId, seq);
    pending.clear();
  };
  const note = (userId: string, { sessionId, message }: NewMessagePayload) => {
    if (message.receiverUserId !== userId) return;
    const key = `${sessionId}\n${userId}`;
    const known = pending.get(key);
    if (known !== undefined && known.seq >= message.seq) return;
    if (pending.size === 0) setImmediate(flush);
    pending.set(key, { sessionId, userId, seq: message.seq });
  };
  return {
    /** Watches what the socket is sent from now on; once per socket, however often it is identified. */
    track(socket: AppSocket): void {
      if (tracked.has(socket)) return;
      tracked.add(socket);
      socket.onAnyOutgoing((event: string, payload: unknown) => {
        // The socket's user at the time of sending: an anonymous socket can register later.
        const { userId } = socket.data;
        // A publisher may push an event of this name too: only the chat's own shape counts,
        // and nothing here may throw (it runs inside the adapter's loop over recipients).
        if (event === 'new_message' && userId !== undefined && isNewMessage(payload)) note(userId, payload);
      });
    },
  };
}

function isNewMessage(payload: unknown): payload is NewMessagePayload {
  if (typeof payload !== 'object' || payload === null) return false;
  const { sessionId, message } = payload as { sessionId?: unknown; message?: unknown };
  if (typeof sessionId !== 'string' || typeof message !== 'object' || message === null) return false;
  const { seq, receiverUserId } = message as { seq?: unknown; receiverUserId?: unknown };
  return Number.isSafeInteger(seq) && typeof receiverUserId === 'string';
}
