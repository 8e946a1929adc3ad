import type { Response } from 'express';
import { Router } from 'express';
import {
  createChatSessionPayloadSchema,
  messagePageQuerySchema,
  sendMessagePayloadSchema,
  sessionIdSchema,
  tenantIdSchema,
  userIdSchema,
} from '../../contracts/schemas.js';
import type { ChatActor, ChatService } from '../../domain/chat-service.js';
import { parseOrThrow } from '../../validation.js';
import { withBody } from '../middleware/validate.js';
import { contextOf } from '../request-context.js';

/** A request with a user's Bearer token acts as that user in every mode; otherwise as a server. */
function actorOf(res: Response): ChatActor {
  const identity = contextOf(res).identity;
  return identity ? { kind: 'user', userId: identity.userId, tenantId: identity.tenantId } : { kind: 'server' };
}

const createBodySchema = createChatSessionPayloadSchema.extend({ tenantId: tenantIdSchema.optional() });
const sendBodySchema = sendMessagePayloadSchema.omit({ sessionId: true });

/**
 * Seed 001's sessions API plus create, send, page and delete. Session ids are validated
 * as UUIDs before anything touches storage; a session the caller may not see is 404.
 */
export function createChatRoutes(deps: { chat: ChatService }): Router {
  const { chat } = deps;
  const router = Router();
  const sessionIdOf = (raw: unknown) => parseOrThrow(sessionIdSchema, raw, 'sessionId');

  router.get('/api/sessions/:sessionId', async (req, res) => {
    const sessionId = sessionIdOf(req.params.sessionId);
    const page = parseOrThrow(messagePageQuerySchema, req.query, 'Query');
    res.json(await chat.getSession(actorOf(res), sessionId, page));
  });

  router.get('/api/sessions/:sessionId/messages', async (req, res) => {
    const sessionId = sessionIdOf(req.params.sessionId);
    const page = parseOrThrow(messagePageQuerySchema, req.query, 'Query');
    res.json({ success: true, sessionId, ...(await chat.readMessages(actorOf(res), sessionId, page)) });
  });

  router.get('/api/users/:userId/sessions', async (req, res) => {
    const userId = parseOrThrow(userIdSchema, req.params.userId, 'userId');
    const sessions = await chat.listSessions(actorOf(res), userId);
    res.json({ success: true, userId, count: sessions.length, sessions });
  });

  router.post(
    '/api/sessions',
    withBody(createBodySchema, async (body, _req, res) => {
      const session = await chat.createSession(actorOf(res), body);
      res.status(201).json({ success: true, sessionId: session.sessionId, session });
    }),
  );

  router.post(
    '/api/sessions/:sessionId/messages',
    withBody(sendBodySchema, async (body, req, res) => {
      const sessionId = sessionIdOf(req.params.sessionId);
      const { message, ...sent } = await chat.sendMessage(actorOf(res), { ...body, sessionId });
      res.status(sent.duplicate ? 200 : 201).json({ success: true, ...sent, message });
    }),
  );

  router.delete('/api/sessions/:sessionId', async (req, res) => {
    const sessionId = sessionIdOf(req.params.sessionId);
    await chat.deleteSession(actorOf(res), sessionId);
    res.json({ success: true, sessionId });
  });

  return router;
}
