import type { RouteDefinition } from './route-definition.js';
import { batchRoutes } from './routes/batch.routes.js';
import { chatRoutes } from './routes/chat.routes.js';
import { deliveryRoutes } from './routes/delivery.routes.js';
import { devRoutes } from './routes/dev.routes.js';
import { opsRoutes } from './routes/health.routes.js';
import { inboxRoutes } from './routes/inbox.routes.js';
import { jobRoutes } from './routes/jobs.routes.js';
import { presenceRoutes } from './routes/presence.routes.js';
import { socketTestRoutes } from './routes/socket-test.routes.js';

/**
 * Every HTTP API route, declared once with who may call it (see route-definition.ts). The
 * router and /openapi.json are generated from this list, and the route-access test walks
 * it, so a route added here is guarded, documented and tested alike. The delivery routes
 * come first: they carry the traffic and are matched first.
 *
 * Not listed (no API, no access rule): the static test page, /docs and /openapi.json.
 */
export const routeTable: readonly RouteDefinition[] = [...deliveryRoutes, ...batchRoutes, ...opsRoutes, ...presenceRoutes, ...chatRoutes, ...inboxRoutes, ...jobRoutes, ...devRoutes, ...socketTestRoutes];
