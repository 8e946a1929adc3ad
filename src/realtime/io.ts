import type { Server as HttpServer, IncomingMessage } from 'node:http';
import { Server } from 'socket.io';
import type { Config } from '../config.js';
import type { TokenVerifier } from '../domain/identity.js';
import type { Lifecycle } from '../domain/lifecycle.js';
import type { RateLimiter } from '../domain/rate-limit.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { ActionRegistry } from './action-registry.js';
import { createAuthMiddleware } from './authenticate.js';
import { guardIncomingEvents } from './event-guard.js';
import { createRecoveryGuard } from './recovery.js';
import { registerClientHandlers } from './handlers/client.handlers.js';
import { registerIdentityHandlers } from './handlers/identity.handlers.js';
import { registerRoomHandlers } from './handlers/room.handlers.js';
import { registerSessionHandlers } from './handlers/session.handlers.js';
import type { AppServer } from './socket-types.js';

export type { AppServer, AppSocket } from './socket-types.js';

export interface RealtimeDependencies {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  lifecycle: Lifecycle;
  info: { version: string; environment: string };
  verifier: TokenVerifier;
  actions: ActionRegistry;
  messageLimiter: RateLimiter;
  connectionLimiter: RateLimiter;
}

/** How long a dropped connection's rooms and missed events are kept for it to resume. */
const RECOVERY_WINDOW_MS = 2 * 60 * 1000;

/**
 * Attaches the Socket.IO server to the HTTP server: origin check on the upgrade, the
 * authentication gate, and every handler group, registered in the one block below.
 */
export function createSocketServer(httpServer: HttpServer, deps: RealtimeDependencies): AppServer {
  const { config } = deps;
  const io: AppServer = new Server(httpServer, {
    cors: { origin: [...config.allowedOrigins], credentials: true },
    allowRequest: createOriginCheck(config.allowedOrigins),
    maxHttpBufferSize: config.maxHttpBufferSize,
    // Socket.IO skips middlewares on recovery by default, which would let a revoked or
    // expired token back in; here the authentication gate runs on every recovery.
    connectionStateRecovery: { maxDisconnectionDuration: RECOVERY_WINDOW_MS, skipMiddlewares: false },
  });
  const recovery = createRecoveryGuard(io);

  io.use(
    createAuthMiddleware({
      verifier: deps.verifier,
      allowAnonymous: config.allowAnonymous,
      connectionLimiter: deps.connectionLimiter,
      metrics: deps.metrics,
      logger: deps.logger,
      isDraining: () => deps.lifecycle.draining,
    }),
  );

  io.on('connection', (socket) => {
    guardIncomingEvents(socket, deps);
    registerSessionHandlers(socket, { ...deps, recovery });
    registerIdentityHandlers(socket, deps);
    registerRoomHandlers(socket, deps);
    registerClientHandlers(socket, deps);
  });

  return io;
}

/**
 * Browsers do not apply CORS to WebSockets, so the upgrade checks Origin itself. Clients
 * that send no Origin (servers, apps) pass; so does the server's own origin (its page).
 */
function createOriginCheck(allowedOrigins: readonly string[]) {
  const allowed = new Set(allowedOrigins);
  return (req: IncomingMessage, callback: (err: string | null | undefined, success: boolean) => void) => {
    const origin = req.headers.origin;
    if (origin === undefined || allowed.has(origin)) return callback(null, true);
    const sameOrigin = URL.canParse(origin) && new URL(origin).host === req.headers.host;
    callback(sameOrigin ? null : 'Origin not allowed', sameOrigin);
  };
}
