import type { Response } from 'express';
import { z } from 'zod';
import {
  inboxTenantQuerySchema,
  markNotificationsReadBodySchema,
  notificationDeletedResponseSchema,
  notificationIdSchema,
  notificationListQuerySchema,
  notificationPageResponseSchema,
  notificationsReadResponseSchema,
  unreadCountResponseSchema,
  userIdSchema,
} from '../../contracts/schemas.js';
import type { InboxOwner } from '../../domain/inbox-store.js';
import { AppError } from '../../errors.js';
import { defineRoute } from '../route-definition.js';
import { contextOf } from '../request-context.js';

/**
 * Whose inbox a request reaches. With an API key: the user in the path, in the tenant the
 * query names. With a user's token: only that user's own, in the token's tenant; any other
 * inbox is NOT_FOUND (never 403), so a user cannot learn whether another inbox exists.
 */
function ownerOf(res: Response, userId: string, tenantId: string | undefined): InboxOwner {
  const identity = contextOf(res).identity;
  if (identity === undefined) return { userId, tenantId };
  if (identity.userId !== userId || (tenantId !== undefined && tenantId !== identity.tenantId)) {
    throw new AppError('NOT_FOUND', `No inbox of user ${userId}`);
  }
  return { userId, tenantId: identity.tenantId };
}

const userParams = z.object({ userId: userIdSchema });
const notificationParams = z.object({ userId: userIdSchema, id: notificationIdSchema });

const notVisible = { description: "Not the caller's inbox, or no such notification in it (never 403: existence is not revealed)" };
const storageDown = { description: 'Storage unavailable' };
const sameEvents = "Every device of the user is told with the same events as a change made over a socket.";

/** The notification inbox over REST, for backends (API key) and for a user's own inbox (their token). */
export const inboxRoutes = [
  defineRoute({
    method: 'get',
    path: '/api/users/:userId/notifications',
    access: 'apiKeyOrUser',
    summary: "A page of the user's inbox, newest first: `?limit=` (default 20, max 100) `&before=<nextBefore>&unreadOnly=true`",
    description: 'The same page as the `notification:list` socket event, with the exact unread count.',
    params: userParams,
    query: notificationListQuerySchema,
    responses: { 200: { description: 'A page', schema: notificationPageResponseSchema }, 404: notVisible },
    handler:
      ({ inbox }) =>
      async ({ params, query: { tenantId, ...page } }, _req, res) => {
        res.json({ success: true, ...(await inbox.list(ownerOf(res, params.userId, tenantId), page)) });
      },
  }),

  defineRoute({
    method: 'get',
    path: '/api/users/:userId/notifications/unread-count',
    access: 'apiKeyOrUser',
    summary: "The exact number of unread notifications in the user's inbox",
    params: userParams,
    query: inboxTenantQuerySchema,
    responses: { 200: { description: 'The count', schema: unreadCountResponseSchema }, 404: notVisible },
    handler:
      ({ inbox }) =>
      async ({ params, query }, _req, res) => {
        res.json({ success: true, count: await inbox.unreadCount(ownerOf(res, params.userId, query.tenantId)) });
      },
  }),

  defineRoute({
    method: 'post',
    path: '/api/users/:userId/notifications/read',
    access: 'apiKeyOrUser',
    summary: 'Mark notifications read: `{ ids }` or `{ all: true }`',
    description: `A single id that is not in the inbox is 404; with several, unknown ones are skipped. ${sameEvents}`,
    params: userParams,
    query: inboxTenantQuerySchema,
    body: markNotificationsReadBodySchema,
    responses: { 200: { description: 'Marked', schema: notificationsReadResponseSchema }, 404: notVisible, 503: storageDown },
    handler:
      ({ inbox }) =>
      async ({ params, query, body }, _req, res) => {
        const owner = ownerOf(res, params.userId, query.tenantId);
        const { changed } = await inbox.markRead(owner, body.all === true ? 'all' : (body.ids ?? []));
        res.json({ success: true, changed });
      },
  }),

  defineRoute({
    method: 'delete',
    path: '/api/users/:userId/notifications/:id',
    access: 'apiKeyOrUser',
    summary: "Delete one notification from the user's inbox",
    description: sameEvents,
    params: notificationParams,
    query: inboxTenantQuerySchema,
    responses: { 200: { description: 'Deleted', schema: notificationDeletedResponseSchema }, 404: notVisible, 503: storageDown },
    handler:
      ({ inbox }) =>
      async ({ params, query }, _req, res) => {
        await inbox.remove(ownerOf(res, params.userId, query.tenantId), params.id);
        res.json({ success: true, notificationId: params.id });
      },
  }),
];
