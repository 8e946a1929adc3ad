import type { Server as HttpServer, IncomingMessage } from 'node:http';
import { Server } from 'socket.io';
import type { Config } from '../config.js';
import type { ChatService } from '../domain/chat-service.js';
import type { Clock } from '../domain/clock.js';
import type { InboxService } from '../domain/inbox-service.js';
import type { JobService } from '../domain/job-service.js';
import type { TokenVerifier } from '../domain/identity.js';
import type { Lifecycle } from '../domain/lifecycle.js';
import type { OriginPolicy } from '../domain/origin-policy.js';
import type { RateLimiter } from '../domain/rate-limit.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { redactUrl } from '../observability/redact-url.js';
import type { ActionRegistry } from './action-registry.js';
import { createAuthMiddleware } from './authenticate.js';
import { coalesceFlushedWrites, holdWritesThisTurn, type EngineConnection } from './coalesce-writes.js';
import { createConnectionAdmission, type ConnectionAdmission } from './connection-admission.js';
import { createHandlerRegistry, type EventLimit } from './handle.js';
import { acceptRecoveryOptIn, createRecoveryAdapter } from './recovery-adapter.js';
import { nodeAudience, type RelayAudience } from './relay-audience.js';
import { createRelayLimits } from './relay-limits.js';
import { createDeliveryTracker, deliverOfflineMessages, registerChatHandlers } from './handlers/chat.handlers.js';
import { registerClientHandlers } from './handlers/client.handlers.js';
import { registerIdentityHandlers } from './handlers/identity.handlers.js';
import { registerInboxHandlers, sendUnreadCount } from './handlers/inbox.handlers.js';
import { registerJobHandlers } from './handlers/job.handlers.js';
import { registerRoomHandlers } from './handlers/room.handlers.js';
import { registerSessionHandlers } from './handlers/session.handlers.js';
import { registerTestHelperHandlers } from './handlers/test-helpers.handlers.js';
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
  inbox: InboxService;
  jobs: JobService;
  /** The server's time: token expiry and per-connection windows (tests move it). */
  clock: Clock;
  /** The client address a handshake is counted under (as Express's `req.ip`). */
  clientAddress: (req: IncomingMessage) => string;
  /** Who a client's relay reaches; this node's sockets unless given (cluster mode gives the cluster's). */
  relayAudience?: RelayAudience;
}

/** How long a dropped connection's rooms and missed events are kept for it to resume. */
const RECOVERY_WINDOW_MS = 2 * 60 * 1000;

/**
 * Attaches the Socket.IO server to the HTTP server, with the origin check and the
 * connection limits on the handshake.
 */
export function createSocketServer(
  httpServer: HttpServer,
  config: Config,
  origins: OriginPolicy,
  clientAddress: (req: IncomingMessage) => string,
): AppServer {
  const admission = createConnectionAdmission({
    maxConnections: config.maxConnections,
    maxPerAddress: config.maxConnectionsPerAddress,
    clientAddress,
  });
  const io: AppServer = new Server(httpServer, {
    cors: { origin: (origin, callback) => callback(null, origin !== undefined && origins.allows(origin)), credentials: true },
    allowRequest: createOriginCheck(origins, admission),
    // Socket.IO's default (45 s) let connections that never send CONNECT sit for that long.
    connectTimeout: config.socketConnectTimeoutMs,
    maxHttpBufferSize: config.maxHttpBufferSize,
    // Socket.IO skips middlewares on recovery by default, which would let a revoked or
    // expired token back in; here the authentication gate runs on every recovery.
    connectionStateRecovery: { maxDisconnectionDuration: RECOVERY_WINDOW_MS, skipMiddlewares: false },
    adapter: createRecoveryAdapter(config.recoveryMaxPackets),
  });
  // Recovery is for clients that ask (`auth.recovery: true`); the rest get plain payloads.
  io.use(acceptRecoveryOptIn);
  coalesceFlushedWrites(io.engine);
  admission.track(io.engine);
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
      clientAddress: deps.clientAddress,
    }),
  );
  // Last: a socket that passed every check gets CONNECT, its greetings and what follows
  // within the turn in one write (see holdWritesThisTurn).
  io.use((socket, next) => {
    holdWritesThisTurn(socket.conn as unknown as EngineConnection);
    next();
  });

  // Every event the server answers, registered once per server, in this one block.
  const handlers = createHandlerRegistry({ ...deps, maxPayloadDepth: config.maxPayloadDepth });
  const deliveries = createDeliveryTracker(deps.chat);
  const onIdentified = (socket: AppSocket) => {
    deliveries.track(socket);
    void sendUnreadCount(socket, deps);
    void deliverOfflineMessages(socket, deps);
  };
  const onConnection = registerSessionHandlers(handlers, deps);
  registerIdentityHandlers(handlers, { ...deps, onIdentified });
  const relay = createRelayLimits({ maxBytes: config.maxRelayBytes, bytesPerMinute: config.rateLimits.relayBytesPerMinute, clock: deps.clock });
  const audience = deps.relayAudience ?? nodeAudience;
  registerRoomHandlers(handlers, { relay, audience, eventStreamOpen: !config.isProduction });
  registerClientHandlers(handlers, { ...deps, relay, audience });
  registerChatHandlers(handlers, deps);
  registerInboxHandlers(handlers, deps);
  registerJobHandlers(handlers, { jobs: deps.jobs, testHelpers: config.testHelpers });
  // Development helpers (test:*): absent unless config.testHelpers; then unknown, answered UNKNOWN_ACTION.
  if (config.testHelpers) registerTestHelperHandlers(handlers, deps);

  logConnections(io, deps.logger);
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
 * pass, on to the connection limits.
 */
function createOriginCheck(origins: OriginPolicy, admission: ConnectionAdmission) {
  return (req: IncomingMessage, callback: (err: string | null | undefined, success: boolean) => void) => {
    const origin = req.headers.origin;
    if (origin === undefined || origins.allows(origin, req.headers.host)) return admission.allowRequest(req, callback);
    callback('Origin not allowed (ALLOWED_ORIGINS)', false);
  };
}

/**
 * Socket.IO's requests never reach Express's access log, so sockets are logged here: one
 * line per refused handshake (info) and, at debug, per accepted socket and per disconnect. The URL goes through
 * redactUrl like every logged URL: seed 004 clients send their token in the query.
 */
function logConnections(io: AppServer, logger: Logger): void {
  io.engine.on('connection_error', (err: { req: IncomingMessage; code: number; message: string }) => {
    logger.info({ url: redactUrl(err.req.url ?? ''), engineCode: err.code, reason: err.message }, 'socket handshake refused');
  });
  // Per-socket lines are debug: at info, every connect of a busy server would cost a log
  // line and a listener (measured in bench/ connect and memory).
  if (!logger.isLevelEnabled('debug')) return;
  io.on('connection', (socket) => {
    const transport = socket.conn.transport.name;
    logger.debug({ socketId: socket.id, userId: socket.data.userId, transport, url: redactUrl(socket.handshake.url) }, 'socket connected');
    socket.once('disconnect', (reason) => logger.debug({ socketId: socket.id, reason }, 'socket disconnected'));
  });
}
