import type { Response } from 'express';
import { z } from 'zod';
import {
  chatMessageSentResponseSchema,
  chatMessagesResponseSchema,
  chatSessionCreatedResponseSchema,
  chatSessionDeletedResponseSchema,
  chatSessionListResponseSchema,
  chatSessionResponseSchema,
  createChatSessionPayloadSchema,
  messagePageQuerySchema,
  sendMessagePayloadSchema,
  sessionIdSchema,
  sessionListQuerySchema,
  tenantIdSchema,
  userIdSchema,
} from '../../contracts/schemas.js';
import type { ChatActor } from '../../domain/chat-service.js';
import { defineRoute } from '../route-definition.js';
import { contextOf } from '../request-context.js';

/** A request with a user's Bearer token acts as that user in every mode; otherwise as a server. */
function actorOf(res: Response): ChatActor {
  const identity = contextOf(res).identity;
  return identity ? { kind: 'user', userId: identity.userId, tenantId: identity.tenantId } : { kind: 'server' };
}

const createBodySchema = createChatSessionPayloadSchema
  .extend({ tenantId: tenantIdSchema.optional() })
  .meta({ id: 'CreateChatSessionBody', description: '`senderUserId` and `tenantId` with an API key; with a token, the token says who' });
const sendBodySchema = sendMessagePayloadSchema
  .omit({ sessionId: true })
  .meta({ id: 'SendChatMessageBody', description: '`senderUserId` with an API key only; with a token, the token says who' });
// Session ids are validated as UUIDs before anything touches storage.
const sessionParams = z.object({ sessionId: sessionIdSchema });
const userParams = z.object({ userId: userIdSchema });

const notVisible = { description: 'No such session, or not one of the caller\'s (never 403: existence is not revealed)' };
const storageDown = { description: 'Storage unavailable' };

/** Chat sessions over REST: create, send, page, list and delete. A session the caller may not see is 404. */
export const chatRoutes = [
  defineRoute({
    method: 'get',
    path: '/api/sessions/:sessionId',
    access: 'apiKeyOrUser',
    summary: 'The session with a page of messages: `?after=<seq>&limit=` (default 100, max 500), `nextAfter` when more remain',
    params: sessionParams,
    query: messagePageQuerySchema,
    responses: { 200: { description: 'Session', schema: chatSessionResponseSchema }, 404: notVisible },
    handler:
      ({ chat }) =>
      async ({ params, query }, _req, res) => {
        res.json(await chat.getSession(actorOf(res), params.sessionId, query));
      },
  }),

  defineRoute({
    method: 'get',
    path: '/api/sessions/:sessionId/messages',
    access: 'apiKeyOrUser',
    summary: 'A page of messages: `?after=<seq>&limit=`',
    params: sessionParams,
    query: messagePageQuerySchema,
    responses: { 200: { description: 'Messages', schema: chatMessagesResponseSchema }, 404: notVisible },
    handler:
      ({ chat }) =>
      async ({ params: { sessionId }, query }, _req, res) => {
        res.json({ success: true, sessionId, ...(await chat.readMessages(actorOf(res), sessionId, query)) });
      },
  }),

  defineRoute({
    method: 'get',
    path: '/api/users/:userId/sessions',
    access: 'apiKeyOrUser',
    summary: "A page of the user's sessions with lastMessage, messageCount, unreadCount: `?limit=&cursor=<nextCursor>`",
    description: "With a user's token, only that user's own list; anyone else's answers as empty.",
    params: userParams,
    query: sessionListQuerySchema,
    responses: { 200: { description: 'Sessions (`count` is this page\'s length)', schema: chatSessionListResponseSchema } },
    handler:
      ({ chat }) =>
      async ({ params: { userId }, query }, _req, res) => {
        const { sessions, nextCursor } = await chat.listSessions(actorOf(res), userId, query);
        // `count` is the length of this page; `nextCursor` is present when more follow.
        res.json({ success: true, userId, count: sessions.length, sessions, ...(nextCursor !== undefined ? { nextCursor } : {}) });
      },
  }),

  defineRoute({
    method: 'post',
    path: '/api/sessions',
    access: 'apiKeyOrUser',
    summary: 'Create a chat session',
    body: createBodySchema,
    responses: { 201: { description: 'Created', schema: chatSessionCreatedResponseSchema }, 503: storageDown },
    handler:
      ({ chat }) =>
      async ({ body }, _req, res) => {
        const session = await chat.createSession(actorOf(res), body);
        res.status(201).json({ success: true, sessionId: session.sessionId, session });
      },
  }),

  defineRoute({
    method: 'post',
    path: '/api/sessions/:sessionId/messages',
    access: 'apiKeyOrUser',
    summary: 'Send a message: 201 once on disk, 200 for a retried clientMessageId',
    params: sessionParams,
    body: sendBodySchema,
    responses: {
      201: { description: 'Stored', schema: chatMessageSentResponseSchema },
      200: { description: 'Duplicate of a stored message (same clientMessageId)', schema: chatMessageSentResponseSchema },
      404: notVisible,
      503: storageDown,
    },
    handler:
      ({ chat }) =>
      async ({ params: { sessionId }, body }, _req, res) => {
        const { message, ...sent } = await chat.sendMessage(actorOf(res), { ...body, sessionId });
        res.status(sent.duplicate ? 200 : 201).json({ success: true, ...sent, message });
      },
  }),

  defineRoute({
    method: 'delete',
    path: '/api/sessions/:sessionId',
    access: 'apiKeyOrUser',
    summary: 'Delete the session and its messages',
    params: sessionParams,
    responses: { 200: { description: 'Deleted', schema: chatSessionDeletedResponseSchema }, 404: notVisible, 503: storageDown },
    handler:
      ({ chat }) =>
      async ({ params: { sessionId } }, _req, res) => {
        await chat.deleteSession(actorOf(res), sessionId);
        res.json({ success: true, sessionId });
      },
  }),
];
