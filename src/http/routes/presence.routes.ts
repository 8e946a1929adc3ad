import { Router } from 'express';
import { connectionsQuerySchema, tenantIdSchema, userIdSchema } from '../../contracts/schemas.js';
import type { RealtimeGateway } from '../../domain/realtime-gateway.js';
import type { TokenVerifier } from '../../domain/identity.js';
import { parseOrThrow } from '../../validation.js';
import { createBearerIdentity, requireBearer } from '../middleware/bearer.js';
import { contextOf } from '../request-context.js';

/** Events and rooms seed 004's monitoring endpoint lists, kept as that seed shows them. */
const ADVERTISED_EVENTS = ['notification', 'connected', 'pong', 'broadcast', 'message', 'error', 'system:welcome'];
const ADVERTISED_ROOMS = ['user:{userId}', 'tenant:{tenantId}:user:{userId}', '<public rooms joined with room:join or subscribe>'];

/** Seed 004's /socket/* endpoints. Open: /socket/status; user token: /socket/connections. */
export function createSocketStatusRoutes(deps: { gateway: RealtimeGateway; verifier: TokenVerifier }): Router {
  const router = Router();
  router.get('/socket/status', async (req, res) => {
    const stats = await deps.gateway.stats();
    res.json({
      ok: true,
      socketio: {
        ready: true,
        connectedUsers: stats.users,
        totalConnections: stats.connections,
        endpoint: `${req.protocol === 'https' ? 'wss' : 'ws'}://${req.get('host') ?? 'localhost'}`,
      },
      events: ADVERTISED_EVENTS,
      rooms: ADVERTISED_ROOMS,
      message: 'Socket.IO is running and accepting connections',
    });
  });

  router.get('/socket/connections', createBearerIdentity(deps.verifier), requireBearer, async (_req, res) => {
    const identity = contextOf(res).identity!;
    const [stats, connections] = await Promise.all([
      deps.gateway.stats(),
      deps.gateway.connectionsOf(identity.userId, identity.tenantId),
    ]);
    res.json({
      ok: true,
      you: { userId: identity.userId, connected: connections > 0 },
      server: { connectedUsers: stats.users, totalConnections: stats.connections },
    });
  });
  return router;
}

/** GET /api/users/:userId/presence (API key like the rest of /api). */
export function createPresenceRoutes(deps: { gateway: RealtimeGateway }): Router {
  const router = Router();
  router.get('/api/users/:userId/presence', async (req, res) => {
    const userId = parseOrThrow(userIdSchema, req.params.userId, 'userId');
    const tenantId = req.query.tenantId === undefined ? undefined : parseOrThrow(tenantIdSchema, req.query.tenantId, 'tenantId');
    const connections = await deps.gateway.connectionsOf(userId, tenantId);
    res.json({ userId, online: connections > 0, connections });
  });

  router.get('/api/connections', async (req, res) => {
    const query = parseOrThrow(connectionsQuerySchema, req.query, 'Query');
    const connections = await deps.gateway.listConnections(query);
    res.json({ success: true, count: connections.length, connections });
  });
  return router;
}
