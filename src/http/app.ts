import path from 'node:path';
import cors from 'cors';
import express, { type Express } from 'express';
import { createApiRouter, mountableRoutes } from './api-router.js';
import type { HttpDependencies } from './dependencies.js';
import { createAccessLog } from './middleware/access-log.js';
import { createErrorHandler, notFound } from './middleware/error-handler.js';
import { refuseForeignOrigins } from './middleware/origin-guard.js';
import { securityHeaders } from './middleware/security-headers.js';
import { answerJsonDirectly } from './json-answer.js';
import { buildOpenApiDocument } from './openapi.js';
import { routeTable } from './route-table.js';
import { createDocsRoutes } from './routes/docs.routes.js';

/** Builds the Express app without listening, so tests and the composition root share it. */
export function createHttpApp(deps: HttpDependencies): Express {
  const { config, logger, metrics } = deps;
  const app = express();
  app.disable('x-powered-by');
  // No ETag on JSON answers: nothing here is worth a conditional request, and each one
  // hashed the body. Static files keep their own.
  app.set('etag', false);
  app.set('trust proxy', config.trustProxy);
  // A path matches exactly or not at all: `/api/status/` and `/API/status` are 404, never
  // another spelling of a route (access used to be decided by path lists that Express's
  // lenient matching slipped past).
  app.set('case sensitive routing', true);
  app.set('strict routing', true);
  answerJsonDirectly(app);

  const accessLog = createAccessLog(logger.child({ module: 'http' }), metrics);
  const headers = securityHeaders(
    config.isProduction
      ? {}
      : // Plain-HTTP development on localhost: no HSTS, no forced upgrade to https.
        { strictTransportSecurity: false, contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } } },
  );
  const { origins } = deps;
  const corsHeaders = cors({
    // Unknown origins get no CORS headers, so browsers refuse to hand them the answer.
    origin: (origin, callback) => callback(null, origin !== undefined && origins.allows(origin)),
    credentials: true,
    exposedHeaders: ['X-Request-Id', 'RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset', 'Retry-After'],
  });
  // ...and a foreign page's state-changing request is refused, not just left unanswered.
  const originGuard = refuseForeignOrigins(origins);
  const everyRequest = [accessLog, headers, corsHeaders, originGuard];

  // Every API route, each behind the guards its declared access implies (route-table.ts).
  // A route without path parameters is found by method and path in one map lookup, and
  // runs with the middleware above as one chain (api-router.ts); everything else walks
  // the layers below.
  const routes = mountableRoutes(routeTable, deps);
  const api = createApiRouter(routes, deps);
  app.use(api.exactDispatch(everyRequest));
  app.use(everyRequest);
  app.use(api.router);
  app.use(createDocsRoutes(buildOpenApiDocument(deps.info, routes.map(({ route }) => route))));

  app.use(express.static(path.resolve(deps.publicDir), { index: 'index.html' }));
  app.use(notFound);
  app.use(createErrorHandler(logger.child({ module: 'http' })));
  return app;
}
