import { Router } from 'express';
import type { StatusResponse } from '../../contracts/schemas.js';
import type { Lifecycle } from '../../domain/lifecycle.js';
import type { RealtimeGateway } from '../../domain/realtime-gateway.js';
import type { Metrics } from '../../observability/metrics.js';

export interface AppInfo {
  name: string;
  version: string;
  environment: string;
}

/** Open operational endpoints: /health, /ready, /metrics, /api/version. */
export function createOpsRoutes(deps: {
  lifecycle: Lifecycle;
  gateway: RealtimeGateway;
  metrics: Metrics;
  info: AppInfo;
}): Router {
  const { lifecycle, gateway, metrics, info } = deps;
  const router = Router();

  router.get('/health', async (_req, res) => {
    const timestamp = new Date().toISOString();
    if (lifecycle.draining) {
      res.status(503).json({ status: 'shutting_down', timestamp });
      return;
    }
    const { connections } = await gateway.stats();
    res.json({ status: 'healthy', connections, uptime: lifecycle.uptimeSeconds(), timestamp });
  });

  router.get('/ready', async (_req, res) => {
    const { ready, checks } = await lifecycle.readiness();
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not_ready', checks, timestamp: new Date().toISOString() });
  });

  router.get('/metrics', async (_req, res) => {
    res.setHeader('Content-Type', metrics.registry.contentType);
    res.send(await metrics.registry.metrics());
  });

  router.get('/api/version', (_req, res) => {
    res.json({ name: info.name, version: info.version, environment: info.environment });
  });

  return router;
}

/** GET /api/status (seeds 001 and 002 merged); behind the API key like the rest of /api. */
export function createStatusRoutes(deps: { lifecycle: Lifecycle; gateway: RealtimeGateway }): Router {
  const router = Router();
  router.get('/api/status', async (_req, res) => {
    const stats = await deps.gateway.stats();
    const { rss, heapTotal, heapUsed, external } = process.memoryUsage();
    const body: StatusResponse = {
      success: true,
      status: 'ok',
      connections: stats.connections,
      activeConnections: stats.connections,
      activeUsers: stats.users,
      rooms: stats.rooms,
      uptime: deps.lifecycle.uptimeSeconds(),
      memory: { rss, heapTotal, heapUsed, external },
      timestamp: new Date().toISOString(),
    };
    res.json(body);
  });
  return router;
}
