import type { Server as HttpServer, IncomingMessage } from 'node:http';
import { Server } from 'socket.io';
import type { Config } from '../config.js';
import type { ChatService } from '../domain/chat-service.js';
import type { TokenVerifier } from '../domain/identity.js';
import type { Lifecycle } from '../domain/lifecycle.js';
import type { OriginPolicy } from '../domain/origin-policy.js';
import type { RateLimiter } from '../domain/rate-limit.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { ActionRegistry } from './action-registry.js';
import { createAuthMiddleware } from './authenticate.js';
import { coalesceFlushedWrites } from './coalesce-writes.js';
import { createHandlerRegistry, type EventLimit } from './handle.js';
import { createRecoveryAdapter } from './recovery-adapter.js';
import { deliverOfflineMessages, registerChatHandlers } from './handlers/chat.handlers.js';
import { registerClientHandlers } from './handlers/client.handlers.js';
import { registerIdentityHandlers } from './handlers/identity.handlers.js';
import { registerRoomHandlers } from './handlers/room.handlers.js';
import { registerSessionHandlers } from './handlers/session.handlers.js';
import type { AppServer, AppSocket } from './socket-types.js';

export type { AppServer, AppSocket } from './socket-types.js';

export interface RealtimeDependencies {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  lifecycle: Lifecycle;
  info: { version: string; environment: string };
  verifier: TokenVerifier;
  actions: ActionRegistry;
  /** Events per connection and window; refused beyond, disconnected at twice. */
  eventLimit: EventLimit;
  connectionLimiter: RateLimiter;
  chat: ChatService;
}

/** How long a dropped connection's rooms and missed events are kept for it to resume. */
const RECOVERY_WINDOW_MS = 2 * 60 * 1000;

/** Attaches the Socket.IO server to the HTTP server, with the origin check on the upgrade. */
export function createSocketServer(httpServer: HttpServer, config: Config, origins: OriginPolicy): AppServer {
  const io: AppServer = new Server(httpServer, {
    cors: { origin: (origin, callback) => callback(null, origin !== undefined && origins.allows(origin)), credentials: true },
    allowRequest: createOriginCheck(origins),
    maxHttpBufferSize: config.maxHttpBufferSize,
    // Socket.IO skips middlewares on recovery by default, which would let a revoked or
    // expired token back in; here the authentication gate runs on every recovery.
    connectionStateRecovery: { maxDisconnectionDuration: RECOVERY_WINDOW_MS, skipMiddlewares: false },
    adapter: createRecoveryAdapter(config.recoveryMaxPackets),
  });
  coalesceFlushedWrites(io.engine);
  return io;
}

/**
 * Installs the authentication gate and every handler group, registered in the one block
 * below. Separate from creation because handlers need parts (the chat service) that are
 * themselves built on the server's gateway.
 */
export function attachSocketHandlers(io: AppServer, deps: RealtimeDependencies): void {
  const { config } = deps;

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

  // Every event the server answers, registered once per server, in this one block.
  const handlers = createHandlerRegistry(deps);
  const onIdentified = (socket: AppSocket) => void deliverOfflineMessages(socket, deps);
  const onConnection = registerSessionHandlers(handlers, deps);
  registerIdentityHandlers(handlers, { ...deps, onIdentified });
  registerRoomHandlers(handlers);
  registerClientHandlers(handlers, deps);
  registerChatHandlers(handlers, deps);

  io.on('connection', (socket) => {
    handlers.attach(socket);
    onConnection(socket);
    if (socket.data.userId !== undefined) onIdentified(socket);
  });
}

/**
 * Browsers do not apply CORS to WebSockets, so the handshake (polling and upgrade) checks
 * Origin itself, against the configured origins only: never against the request's own
 * Host, which a DNS-rebinding page controls. Clients that send no Origin (servers, apps)
 * pass.
 */
function createOriginCheck(origins: OriginPolicy) {
  return (req: IncomingMessage, callback: (err: string | null | undefined, success: boolean) => void) => {
    const origin = req.headers.origin;
    if (origin === undefined || origins.allows(origin)) return callback(null, true);
    callback('Origin not allowed (ALLOWED_ORIGINS)', false);
  };
}
