import { Router, type RequestHandler } from 'express';
import type { HttpDependencies } from './dependencies.js';
import { createApiKeyAuth } from './middleware/api-key.js';
import { createBearerIdentity, requireBearer } from './middleware/bearer.js';
import { noRoute } from './middleware/error-handler.js';
import { createJsonBodyReader } from './middleware/json-body.js';
import { createHttpRateLimit } from './middleware/rate-limit.js';
import { createSignatureCheck } from './middleware/signature.js';
import { contextOf } from './request-context.js';
import { SIGNED_ACCESS, type Access, type RouteDefinition } from './route-definition.js';

/** A route that exists in this configuration, with its final handler. */
export interface MountedRoute {
  route: RouteDefinition;
  handler: RequestHandler;
}

/**
 * The routes of `table` that exist with these dependencies: the dev routes only outside
 * production, the test helpers only while `config.testHelpers` is on.
 */
export function mountableRoutes(table: readonly RouteDefinition[], deps: HttpDependencies): MountedRoute[] {
  return table.flatMap((route) => {
    if (route.access === 'testHelper' && !deps.config.testHelpers) return [];
    const handler = route.createHandler(deps);
    return handler === undefined ? [] : [{ route, handler }];
  });
}

/**
 * One strict, case-sensitive router with every route of the table, each behind exactly the
 * guards its `access` implies, in this order: identify the API key (so the rate limit can
 * count by key), rate limit, Bearer identity, the access check, then the JSON body (only
 * for routes that take one), the signature (which covers the body) and, in the handler,
 * validation. A variant of a path (`/api/status/`, `/API/status`, `//api/status`) matches
 * no route and is 404: nothing decides access by path anywhere else.
 *
 * Routes are mounted in table order, so the delivery routes, which carry the traffic, are
 * matched first (bench/RESULTS.md). The same chains are also offered by exact method and
 * path (`exactDispatch`), which is how the routes without parameters are reached.
 */
export function createApiRouter(routes: readonly MountedRoute[], deps: HttpDependencies): ApiRouter {
  const { config, metrics } = deps;
  const { identifyApiKey, requireApiKey, requireApiKeyOrUser } = createApiKeyAuth(config.apiKeys);
  const rateLimit = createHttpRateLimit(deps.httpRateLimiter, metrics);
  const bearerIdentity = createBearerIdentity(deps.verifier);
  const jsonBody = createJsonBodyReader({ maxBytes: config.maxBodyBytes, maxDepth: config.maxPayloadDepth });
  const signatureCheck = createSignatureCheck({ required: config.requireSignedRequests, nonces: deps.nonces });

  const guards: Record<Access, RequestHandler[]> = {
    public: [],
    apiKey: [identifyApiKey, rateLimit, requireApiKey],
    dev: [identifyApiKey, rateLimit, requireApiKey],
    apiKeyOrUser: [identifyApiKey, rateLimit, bearerIdentity, requireApiKeyOrUser],
    // Users hold no API key: they are counted by IP.
    user: [rateLimit, bearerIdentity, requireBearer],
    testHelper: [rateLimit, bearerIdentity, requireBearer],
  };

  const router = Router({ strict: true, caseSensitive: true });
  const chains = new Map<RouteDefinition, RequestHandler[]>();
  for (const { route, handler } of routes) {
    const chain: RequestHandler[] = [
      ...(route.failureTitle === undefined ? [] : [withFailureTitle(route.failureTitle)]),
      ...guards[route.access],
      ...(route.request.body === undefined ? [] : [jsonBody]),
      ...(SIGNED_ACCESS.has(route.access) ? [signatureCheck] : []),
      handler,
    ];
    chains.set(route, chain);
    router[route.method](route.path, compose(chain));
  }
  return {
    router,
    exactDispatch(before) {
      const exact = new Map<string, { path: string; run: RequestHandler }>();
      for (const [route, chain] of chains) {
        if (route.path.includes(':')) continue;
        exact.set(`${route.method.toUpperCase()} ${route.path}`, { path: route.path, run: compose([...before, ...chain]) });
      }
      return (req, res, next) => {
        const url = req.url;
        const query = url.indexOf('?');
        const found = exact.get(`${req.method} ${query === -1 ? url : url.slice(0, query)}`);
        if (found === undefined) return next();
        // Express sets req.route on its own path; the access log's label comes from here.
        contextOf(res).route = found.path;
        // The route's chain ends here: an error goes to the app's error handler, and a
        // chain that passes (next('route')) finds no other route for this method and path.
        found.run(req, res, (err?: unknown) => next(err ?? noRoute(req)));
      };
    },
  };
}

export interface ApiRouter {
  router: Router;
  /**
   * One handler for every route without path parameters, found by method and exact path
   * in a map and run with `before` (the app's global middleware) as one composed chain,
   * instead of walking the app's layers and the router's route list.
   */
  exactDispatch(before: readonly RequestHandler[]): RequestHandler;
}

/**
 * The chain of a route as one handler: Express would make each guard a layer of the
 * route, and walk them with its general `next` (layer matching, method checks) between
 * every two; this runs them in order with a plain one (bench/RESULTS.md: the router was
 * 11 % of a push's CPU). Same contract as Express 5's: `next(err)` or a throw ends the
 * chain with the error, a rejected promise too, and `next('route')` leaves the route.
 */
export function compose(chain: readonly RequestHandler[]): RequestHandler {
  if (chain.length === 1) return chain[0] as RequestHandler;
  return (req, res, done) => {
    let index = 0;
    const next = (err?: unknown) => {
      if (err === 'route') return done();
      if (err !== undefined && err !== null) return done(err);
      const handler = chain[index];
      index += 1;
      if (handler === undefined) return done();
      try {
        const result: unknown = handler(req, res, next);
        if (result instanceof Promise) result.catch((error: unknown) => done(error ?? new Error('Rejected promise')));
      } catch (error) {
        done(error);
      }
    };
    next();
  };
}

function withFailureTitle(title: string): RequestHandler {
  return (_req, res, next) => {
    contextOf(res).failureTitle = title;
    next();
  };
}
