import {
  notificationDeletePayloadSchema,
  notificationListPayloadSchema,
  notificationReadAllPayloadSchema,
  notificationReadPayloadSchema,
} from '../../contracts/schemas.js';
import type { InboxService } from '../../domain/inbox-service.js';
import type { InboxOwner } from '../../domain/inbox-store.js';
import { AppError } from '../../errors.js';
import type { HandleDependencies, HandlerRegistry } from '../handle.js';
import type { AppSocket } from '../socket-types.js';

export interface InboxHandlerDependencies extends HandleDependencies {
  inbox: InboxService;
}

/** The page size when the client names none. */
const DEFAULT_PAGE_SIZE = 20;

/** Whose inbox a socket reaches: its user's, within the tenant of its token (never one the client names). */
function ownerOf(socket: AppSocket): InboxOwner {
  const { userId, tenantId } = socket.data;
  if (userId === undefined) throw new AppError('UNAUTHORIZED', 'Connect with a token, or register first');
  return { userId, tenantId };
}

/**
 * The inbox over sockets (seed 003): list, read, read-all and delete, each answered on its
 * ack and its `notification:*:ack` reply event. The service tells every socket of the user,
 * this one included, what changed (`notification:marked-read` or `notification:deleted`,
 * then `notification:unread-count`) before the reply is sent.
 */
export function registerInboxHandlers(handlers: HandlerRegistry, deps: InboxHandlerDependencies): void {
  const { inbox } = deps;

  handlers.on(
    'notification:list',
    notificationListPayloadSchema,
    async (payload, socket) => {
      const { limit = DEFAULT_PAGE_SIZE, before, unreadOnly } = payload ?? {};
      const page = await inbox.list(ownerOf(socket), { limit, before, unreadOnly });
      return { success: true as const, ...page };
    },
    { reply: 'notification:list:ack' },
  );

  handlers.on(
    'notification:read',
    notificationReadPayloadSchema,
    async ({ notificationId }, socket) => {
      const { changed, readAt } = await inbox.markRead(ownerOf(socket), [notificationId]);
      return { success: true as const, notificationId, changed, readAt };
    },
    { reply: 'notification:read:ack' },
  );

  handlers.on(
    'notification:read-all',
    notificationReadAllPayloadSchema,
    async (_payload, socket) => {
      const { changed, readAt } = await inbox.markRead(ownerOf(socket), 'all');
      return { success: true as const, all: true as const, changed, readAt };
    },
    { reply: 'notification:read-all:ack' },
  );

  handlers.on(
    'notification:delete',
    notificationDeletePayloadSchema,
    async ({ notificationId }, socket) => {
      await inbox.remove(ownerOf(socket), notificationId);
      return { success: true as const, notificationId };
    },
    { reply: 'notification:delete:ack' },
  );
}

/**
 * Tells a socket that just got its user (at connect, or by `register`) that user's exact
 * unread count. It runs on every connect, so it is the store's O(1) count and nothing
 * more. A failure leaves the socket without a count rather than refusing it: the client
 * can ask again with `notification:list`.
 */
export async function sendUnreadCount(socket: AppSocket, deps: InboxHandlerDependencies): Promise<void> {
  const { userId, tenantId } = socket.data;
  if (userId === undefined) return;
  try {
    socket.emit('notification:unread-count', { count: await deps.inbox.unreadCount({ userId, tenantId }) });
  } catch (err) {
    deps.logger.warn({ err, userId, socketId: socket.id }, 'unread count for a new socket failed');
  }
}
