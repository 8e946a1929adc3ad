import path from 'node:path';
import cors from 'cors';
import express, { type Express } from 'express';
import helmet from 'helmet';
import type { TokenSigner } from '../auth/token-signer.js';
import type { Config } from '../config.js';
import type { ChatService } from '../domain/chat-service.js';
import type { TokenVerifier } from '../domain/identity.js';
import type { Lifecycle } from '../domain/lifecycle.js';
import type { NonceStore } from '../domain/nonce-store.js';
import type { OriginPolicy } from '../domain/origin-policy.js';
import type { RateLimiter } from '../domain/rate-limit.js';
import type { RealtimeGateway } from '../domain/realtime-gateway.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { createAccessLog } from './middleware/access-log.js';
import { createApiKeyAuth } from './middleware/api-key.js';
import { createBearerIdentity } from './middleware/bearer.js';
import { createErrorHandler, notFound } from './middleware/error-handler.js';
import { refuseForeignOrigins } from './middleware/origin-guard.js';
import { createHttpRateLimit } from './middleware/rate-limit.js';
import { createSignatureCheck } from './middleware/signature.js';
import { buildOpenApiDocument } from './openapi.js';
import { contextOf } from './request-context.js';
import { createChatRoutes } from './routes/chat.routes.js';
import { createDeliveryRoutes } from './routes/delivery.routes.js';
import { createDevRoutes } from './routes/dev.routes.js';
import { createDocsRoutes } from './routes/docs.routes.js';
import { createOpsRoutes, createStatusRoutes, type AppInfo } from './routes/health.routes.js';
import { createPresenceRoutes, createSocketStatusRoutes } from './routes/presence.routes.js';

export interface HttpDependencies {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  lifecycle: Lifecycle;
  gateway: RealtimeGateway;
  httpRateLimiter: RateLimiter;
  /** Which browser origins may call: CORS and the state-changing request guard. */
  origins: OriginPolicy;
  nonces: NonceStore;
  info: AppInfo;
  publicDir: string;
  verifier: TokenVerifier;
  chat: ChatService;
  /** Issues development tokens; absent in production. */
  devTokenSigner: TokenSigner | undefined;
}

/** Builds the Express app without listening, so tests and the composition root share it. */
export function createHttpApp(deps: HttpDependencies): Express {
  const { config, logger, metrics } = deps;
  const app = express();
  app.disable('x-powered-by');
  // No ETag on JSON answers: nothing here is worth a conditional request, and each one
  // hashed the body. Static files keep their own.
  app.set('etag', false);
  app.set('trust proxy', config.trustProxy);

  app.use(createAccessLog(logger.child({ module: 'http' }), metrics));

  app.use(
    helmet(
      config.isProduction
        ? {}
        : // Plain-HTTP development on localhost: no HSTS, no forced upgrade to https.
          { strictTransportSecurity: false, contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } } },
    ),
  );
  const { origins } = deps;
  app.use(
    cors({
      // Unknown origins get no CORS headers, so browsers refuse to hand them the answer.
      origin: (origin, callback) => callback(null, origin !== undefined && origins.allows(origin)),
      credentials: true,
      exposedHeaders: ['X-Request-Id', 'RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset', 'Retry-After'],
    }),
  );
  // ...and a foreign page's state-changing request is refused, not just left unanswered.
  app.use(refuseForeignOrigins(origins));

  const { identifyApiKey, requireApiKey, requireApiKeyOrUser } = createApiKeyAuth(config.apiKeys);
  const rateLimit = createHttpRateLimit(deps.httpRateLimiter, metrics);
  const jsonBody = express.json({
    limit: config.maxBodyBytes,
    verify: (_req, res, buffer) => {
      contextOf(res as express.Response).rawBody = buffer;
    },
  });
  const signatureCheck = createSignatureCheck({ required: config.requireSignedRequests, nonces: deps.nonces });

  // The delivery endpoints carry the traffic: they come first and take their guards as
  // route middleware, so a push walks no other router and matches no path twice (with the
  // ETag gone: 0.54 -> 0.66 of the bare reference's pushes/s in bench/). Server to server:
  // the API key itself, never a user token.
  app.use(createDeliveryRoutes(deps, [identifyApiKey, rateLimit, requireApiKey, jsonBody, signatureCheck]));

  app.use(createOpsRoutes(deps));
  app.use(createSocketStatusRoutes(deps));
  app.use(createDocsRoutes(buildOpenApiDocument(deps.info)));

  // Everything below is the rest of the protected API under /notify and /api.
  const protectedPaths = ['/notify', '/api'];
  app.use(protectedPaths, identifyApiKey, rateLimit, createBearerIdentity(deps.verifier), requireApiKeyOrUser);
  app.use(protectedPaths, jsonBody, signatureCheck);
  // Server-to-server endpoints need the API key itself; a user token is not enough.
  app.use(['/notify', '/api/push', '/api/broadcast', '/api/room', '/api/status', '/api/connections', '/api/dev'], requireApiKey);
  app.use(/^\/api\/users\/[^/]+\/presence$/, requireApiKey);
  app.use(createStatusRoutes(deps));
  app.use(createPresenceRoutes(deps));
  app.use(createChatRoutes(deps));
  if (deps.devTokenSigner) app.use(createDevRoutes({ signer: deps.devTokenSigner }));

  app.use(express.static(path.resolve(deps.publicDir), { index: 'index.html' }));
  app.use(notFound);
  app.use(createErrorHandler(logger.child({ module: 'http' })));
  return app;
}
