import {
  healthResponseSchema,
  readyResponseSchema,
  statusResponseSchema,
  versionResponseSchema,
  type StatusResponse,
} from '../../contracts/schemas.js';
import { defineRoute } from '../route-definition.js';

/** Operational endpoints: open probes and metrics, and the key-only server status. */
export const opsRoutes = [
  defineRoute({
    method: 'get',
    path: '/health',
    access: 'public',
    summary: 'Liveness',
    responses: {
      200: { description: 'Healthy', schema: healthResponseSchema },
      503: { description: 'Shutting down', schema: healthResponseSchema },
    },
    handler:
      ({ lifecycle, gateway }) =>
      async (_input, _req, res) => {
        const timestamp = new Date().toISOString();
        if (lifecycle.draining) {
          res.status(503).json({ status: 'shutting_down', timestamp });
          return;
        }
        // This node's count: liveness must not depend on Redis (a cluster's count would).
        const { connections } = await gateway.stats('node');
        res.json({ status: 'healthy', connections, uptime: lifecycle.uptimeSeconds(), timestamp });
      },
  }),

  defineRoute({
    method: 'get',
    path: '/ready',
    access: 'public',
    summary: 'Readiness (store writable, not draining)',
    responses: {
      200: { description: 'Ready', schema: readyResponseSchema },
      503: { description: 'Not ready', schema: readyResponseSchema },
    },
    handler:
      ({ lifecycle }) =>
      async (_input, _req, res) => {
        const { ready, checks } = await lifecycle.readiness();
        res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not_ready', checks, timestamp: new Date().toISOString() });
      },
  }),

  defineRoute({
    method: 'get',
    path: '/metrics',
    access: 'public',
    summary: 'Prometheus metrics',
    responses: { 200: { description: 'Prometheus text format', contentType: 'text/plain' } },
    handler:
      ({ metrics }) =>
      async (_input, _req, res) => {
        res.setHeader('Content-Type', metrics.registry.contentType);
        res.send(await metrics.registry.metrics());
      },
  }),

  defineRoute({
    method: 'get',
    path: '/api/version',
    access: 'public',
    summary: 'Name, version, environment and the answering node',
    responses: { 200: { description: 'Version', schema: versionResponseSchema } },
    handler:
      ({ info, config }) =>
      (_input, _req, res) => {
        // Open, so that a client (the test page) knows before calling whether it needs a key,
        // and which node of a cluster it reached (/health keeps seed 000's shape).
        res.json({ name: info.name, version: info.version, environment: info.environment, apiKeyRequired: !config.openDelivery, nodeId: config.nodeId });
      },
  }),

  defineRoute({
    method: 'get',
    path: '/api/status',
    access: 'apiKey',
    summary: 'Server status: connections, users, rooms, uptime, memory',
    responses: { 200: { description: 'Status', schema: statusResponseSchema } },
    handler:
      ({ gateway, lifecycle, config }) =>
      async (_input, _req, res) => {
        const stats = await gateway.stats();
        const { rss, heapTotal, heapUsed, external } = process.memoryUsage();
        const body: StatusResponse = {
          success: true,
          status: 'ok',
          connections: stats.connections,
          activeConnections: stats.connections,
          activeUsers: stats.users,
          rooms: stats.rooms,
          uptime: lifecycle.uptimeSeconds(),
          memory: { rss, heapTotal, heapUsed, external },
          timestamp: new Date().toISOString(),
          nodeId: config.nodeId,
        };
        res.json(body);
      },
  }),
];
