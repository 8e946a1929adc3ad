import { z } from 'zod';
import {
  connectionsQuerySchema,
  connectionsResponseSchema,
  presenceResponseSchema,
  socketConnectionsResponseSchema,
  socketStatusResponseSchema,
  tenantIdSchema,
  userIdSchema,
} from '../../contracts/schemas.js';
import { defineRoute } from '../route-definition.js';
import { contextOf } from '../request-context.js';

/** Events and rooms seed 004's monitoring endpoint lists, kept as that seed shows them. */
const ADVERTISED_EVENTS = ['notification', 'connected', 'pong', 'kafka-event', 'broadcast', 'message', 'error', 'system:welcome'];
const ADVERTISED_ROOMS = ['user:{userId}', 'kafka-events', 'tenant:{tenantId}:user:{userId}', '<public rooms joined with room:join or subscribe>'];

/** Who is connected: the open Socket.IO status, a user's own connections, and the key-only views. */
export const presenceRoutes = [
  defineRoute({
    method: 'get',
    path: '/socket/status',
    access: 'public',
    summary: 'Socket.IO status: counts, endpoint, advertised events and rooms',
    responses: { 200: { description: 'Status', schema: socketStatusResponseSchema } },
    handler:
      ({ gateway }) =>
      async (_input, req, res) => {
        const stats = await gateway.stats();
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
      },
  }),

  defineRoute({
    method: 'get',
    path: '/socket/connections',
    access: 'user',
    summary: "The caller's own connection state",
    responses: { 200: { description: 'Whether the token\'s user has a socket connected', schema: socketConnectionsResponseSchema } },
    handler:
      ({ gateway }) =>
      async (_input, _req, res) => {
        // The `user` guard has verified the token: the identity is there.
        const identity = contextOf(res).identity!;
        const [stats, connections] = await Promise.all([gateway.stats(), gateway.connectionsOf(identity.userId, identity.tenantId)]);
        res.json({
          ok: true,
          you: { userId: identity.userId, connected: connections > 0 },
          server: { connectedUsers: stats.users, totalConnections: stats.connections },
        });
      },
  }),

  defineRoute({
    method: 'get',
    path: '/api/users/:userId/presence',
    access: 'apiKey',
    summary: 'Whether a user has sockets connected (`?tenantId=` for tenant users)',
    params: z.object({ userId: userIdSchema }),
    query: z.object({ tenantId: tenantIdSchema.optional() }),
    responses: { 200: { description: 'Presence', schema: presenceResponseSchema } },
    handler:
      ({ gateway }) =>
      async ({ params: { userId }, query: { tenantId } }, _req, res) => {
        const connections = await gateway.connectionsOf(userId, tenantId);
        res.json({ userId, online: connections > 0, connections });
      },
  }),

  defineRoute({
    method: 'get',
    path: '/api/connections',
    access: 'apiKey',
    summary: 'Connected sockets with user, tenant, machine id and rooms, oldest first',
    query: connectionsQuerySchema,
    responses: { 200: { description: 'Connections', schema: connectionsResponseSchema } },
    handler:
      ({ gateway }) =>
      async ({ query }, _req, res) => {
        const connections = await gateway.listConnections(query);
        res.json({ success: true, count: connections.length, connections });
      },
  }),
];
