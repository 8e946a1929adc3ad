import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type RequestListener, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Express } from 'express';
import { RateLimiterMemory } from 'rate-limiter-flexible';
import type { Config } from './config.js';
import { createChatService } from './domain/chat-service.js';
import type { ChatStore } from './domain/chat-store.js';
import { createInboxService } from './domain/inbox-service.js';
import type { InboxStore } from './domain/inbox-store.js';
import { createIngestHandler } from './domain/ingest.js';
import { createJobService } from './domain/job-service.js';
import type { JobStore } from './domain/job-store.js';
import { systemClock, type Clock } from './domain/clock.js';
import { createLifecycle, type Lifecycle } from './domain/lifecycle.js';
import type { NonceStore } from './domain/nonce-store.js';
import { createOriginPolicy } from './domain/origin-policy.js';
import type { RealtimeGateway } from './domain/realtime-gateway.js';
import { createJwtVerifier } from './auth/jwt-verifier.js';
import { createTokenSigner } from './auth/token-signer.js';
import { createHttpApp } from './http/app.js';
import { answerClientError } from './http/client-errors.js';
import { createRequestClasses } from './http/request-classes.js';
import { createEventWebhook, createWebhookPoster } from './integrations/event-webhook.js';
import { createRedisStreamsIngest } from './integrations/redis-streams-ingest.js';
import { createLogger, type Logger } from './observability/logger.js';
import { createMetrics, type Metrics } from './observability/metrics.js';
import { createClusterAdapter } from './cluster/cluster-adapter.js';
import { createClusterPresence } from './cluster/cluster-presence.js';
import { createClusterRedis } from './cluster/redis-connection.js';
import { createActionRegistry } from './realtime/action-registry.js';
import { clientAddressOf, type TrustProxy } from './realtime/connection-admission.js';
import { createSocketEventMirror } from './realtime/event-mirror.js';
import { clusterAudience } from './realtime/relay-audience.js';
import { EVENT_STREAM_ROOM } from './realtime/rooms.js';
import { attachSocketHandlers, createSocketServer, type AppServer } from './realtime/io.js';
import { createSocketGateway } from './realtime/socket-gateway.js';
import { createFileChatStore } from './storage/file/file-chat-store.js';
import { createMemoryNonceStore } from './storage/memory/memory-nonce-store.js';
import { createPostgresChatStore } from './storage/postgres/postgres-chat-store.js';
import { createPostgresDatabase } from './storage/postgres/postgres-database.js';
import { createPostgresInboxStore } from './storage/postgres/postgres-inbox-store.js';
import { createPostgresJobStore } from './storage/postgres/postgres-job-store.js';
import { createFlexibleRateLimiter } from './storage/rate-limiter.js';
import { createRedisNonceStore } from './storage/redis/redis-nonce-store.js';
import { createRedisRateLimiter } from './storage/redis/redis-rate-limiter.js';
import { createSqliteInboxStore } from './storage/sqlite/sqlite-inbox-store.js';
import { createSqliteJobStore } from './storage/sqlite/sqlite-job-store.js';

/** Parts a caller (usually a test) may supply instead of the defaults. */
export interface ServerOverrides {
  logger?: Logger;
  metrics?: Metrics;
  nonces?: NonceStore;
  chatStore?: ChatStore;
  inboxStore?: InboxStore;
  jobStore?: JobStore;
  publicDir?: string;
  /** Time for token expiry and chat quota windows (tests move it forward instead of waiting). */
  clock?: Clock;
}

export interface AppServerHandle {
  readonly config: Config;
  readonly app: Express;
  readonly httpServer: HttpServer;
  readonly io: AppServer;
  readonly gateway: RealtimeGateway;
  readonly logger: Logger;
  readonly lifecycle: Lifecycle;
  /** Opens the stores, then starts listening; resolves with the bound port (useful with port 0). */
  listen(port?: number, host?: string): Promise<number>;
  /** Graceful, idempotent, bounded shutdown (see docs/operations in the README). */
  close(): Promise<void>;
}

const ROOT = fileURLToPath(new URL('..', import.meta.url));

function readPackageInfo(): { name: string; version: string } {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    name: string;
    version: string;
  };
  return { name: pkg.name, version: pkg.version };
}

/**
 * The composition root: builds every part from config and wires them together. Nothing
 * listens until `listen()` is called; `close()` shuts down in order.
 */
export function createServer(config: Config, overrides: ServerOverrides = {}): AppServerHandle {
  const logger = overrides.logger ?? createLogger({ ...config.log, nodeId: config.nodeId });
  const metrics = overrides.metrics ?? createMetrics({ nodeId: config.nodeId });
  const lifecycle = createLifecycle();
  const pkg = readPackageInfo();
  const info = { ...pkg, environment: config.env };
  const clock = overrides.clock ?? systemClock;

  const verifier = createJwtVerifier({
    secret: config.jwt.secret,
    publicKey: config.jwt.publicKey,
    issuer: config.jwt.issuer,
    audience: config.jwt.audience,
    clockToleranceSeconds: config.jwt.clockToleranceSeconds,
    now: () => clock.now(),
  });
  const webhook = config.eventWebhook.url
    ? createEventWebhook({ ...config.eventWebhook, url: config.eventWebhook.url, logger: logger.child({ module: 'webhook' }) })
    : undefined;

  // Socket.IO wraps the request listeners present when it attaches, so that its own
  // /socket.io/ requests never reach Express: the listener must exist before io does.
  let handleRequest: RequestListener = (_req, res) => res.writeHead(503).end();
  const { headersMs, requestMs, keepAliveMs } = config.httpTimeouts;
  // Requests and responses born with the Express app's prototypes, once it exists (request-classes.ts).
  const requestClasses = createRequestClasses();
  const httpServer = createHttpServer(
    {
      IncomingMessage: requestClasses.IncomingMessage,
      ServerResponse: requestClasses.ServerResponse,
      // Node's defaults hold a slow request for 300 s. These bounds end once a request has
      // arrived in full, so a long-poll GET waiting for its answer is not cut, nor is a
      // WebSocket, which leaves HTTP when it upgrades.
      headersTimeout: headersMs,
      requestTimeout: requestMs,
      keepAliveTimeout: keepAliveMs,
      // Node enforces the two timeouts above only when this timer runs (every 30 s by
      // default); a quarter of the shorter one keeps them close to their value.
      connectionsCheckingInterval: Math.max(25, Math.min(1000, Math.floor(headersMs / 4))),
    },
    (req, res) => handleRequest(req, res),
  );
  httpServer.on('clientError', answerClientError);
  const origins = createOriginPolicy({
    allowedOrigins: config.allowedOrigins,
    allowLoopbackAtListeningPort: config.allowLoopbackOrigins,
  });
  // Sockets are counted under the address Express gives as req.ip, so that TRUST_PROXY
  // means the same on both sides; Express compiles the setting when the app is built below.
  let trustProxy: TrustProxy = () => false;
  const clientAddress = (req: IncomingMessage) => clientAddressOf(req, trustProxy);
  const io = createSocketServer(httpServer, config, origins, clientAddress);
  // REDIS_URL: cluster mode. The Redis connection is opened in listen(), and the Socket.IO
  // adapter is swapped for the cross-node one there, before any socket can connect.
  const redis = config.cluster === undefined ? undefined : createClusterRedis({ url: config.cluster.redisUrl, logger: logger.child({ module: 'redis' }) });
  if (redis !== undefined) lifecycle.addReadinessCheck('redis', () => redis.available());
  // In cluster mode limits are counted in Redis, so that N nodes do not allow N times as
  // much (docs/scaling.md, "Limits and nonces across nodes").
  const limiter = (name: string, points: number, durationSeconds: number) =>
    redis !== undefined && config.cluster !== undefined
      ? createRedisRateLimiter({ redis, keyPrefix: `${config.cluster.keyPrefix}:rl:${name}`, points, durationSeconds })
      : createFlexibleRateLimiter(new RateLimiterMemory({ keyPrefix: name, points, duration: durationSeconds }));
  const perMinute = (name: string, points: number) => limiter(name, points, 60);
  const onUnhandledRejection = (reason: unknown) => logger.warn({ err: reason }, 'unhandled rejection (a Redis command the Socket.IO adapter does not wait for)');
  // Cluster mode: socket counts across nodes (cluster-presence.ts); started in listen(),
  // once the cluster adapter whose rooms it publishes is in place.
  const presence =
    redis === undefined || config.cluster === undefined
      ? undefined
      : createClusterPresence({
          io,
          redis,
          keyPrefix: config.cluster.keyPrefix,
          nodeId: config.nodeId,
          heartbeatMs: config.cluster.heartbeatMs,
          logger: logger.child({ module: 'presence' }),
          watchedRooms: [EVENT_STREAM_ROOM],
          onWriteError: () => metrics.markClusterPresenceError(),
        });
  if (presence !== undefined) metrics.watchCluster(() => presence.totals());
  const gateway = createSocketGateway(io, presence);
  // Made early: every delivery path (HTTP, jobs, the ingest) publishes to it.
  const mirror = createSocketEventMirror(io, clock, presence);
  // DATABASE_URL: chat, the inbox and jobs live in PostgreSQL, one pool shared by the
  // three stores (each runs the migrations in open()); closed after them on shutdown.
  const database =
    config.database === undefined
      ? undefined
      : createPostgresDatabase({
          url: config.database.url,
          poolMax: config.database.poolMax,
          applicationName: 'realtime-notify-server',
          logger: logger.child({ module: 'postgres' }),
        });
  const chatStore =
    overrides.chatStore ??
    (database !== undefined
      ? createPostgresChatStore({ database, now: () => new Date(clock.now()) })
      : createFileChatStore({
          dir: config.chatSessionsDir,
          maxIndexedMessages: config.chatIndexMaxMessages,
          logger: logger.child({ module: 'chat-store' }),
          now: () => new Date(clock.now()),
        }));
  const chat = createChatService({
    store: chatStore,
    gateway,
    maxMessageBytes: config.maxMessageBytes,
    quotas: config.chatQuotas,
    quotaWindows:
      redis === undefined
        ? undefined
        : {
            messages: perMinute('chat-messages', config.chatQuotas.messagesPerMinute),
            peerSessions: limiter('chat-peer-sessions', config.chatQuotas.sessionsPerPeerPerHour, 3600),
          },
    offlineMaxMessages: config.chatOfflineMaxMessages,
    now: () => clock.now(),
    onBackgroundError: (err, context) => logger.warn({ err, ...context }, 'chat background update failed'),
  });
  lifecycle.addReadinessCheck('chatStore', () => chatStore.isWritable());
  const inboxSettings = {
    maxPerUser: config.inbox.maxPerUser,
    retentionMs: config.inbox.ttlDays * 24 * 3600 * 1000,
    clock,
    logger: logger.child({ module: 'inbox-store' }),
    observer: metrics.inboxStore,
  };
  const inboxStore =
    overrides.inboxStore ??
    (database !== undefined
      ? createPostgresInboxStore({ database, ...inboxSettings })
      : createSqliteInboxStore({ file: config.inbox.dbPath, ...inboxSettings }));
  const inbox = createInboxService({
    store: inboxStore,
    gateway,
    clock,
    retentionDays: config.inbox.ttlDays,
    onBackgroundError: (err, context) => logger.warn({ err, ...context }, 'inbox background update failed'),
  });
  lifecycle.addReadinessCheck('inboxStore', () => inboxStore.isWritable());
  // The stream ingest adds no readiness check: with Redis away, this node still serves
  // every socket and request, and entries wait in their streams until it is back.
  const ingest =
    config.ingest === undefined
      ? undefined
      : createRedisStreamsIngest({
          url: config.ingest.redisUrl,
          streams: config.ingest.streams,
          group: config.ingest.group,
          batchSize: config.ingest.batchSize,
          claimIdleMs: config.ingest.claimIdleMs,
          handle: createIngestHandler({ inbox, mirror, maxValueBytes: config.maxBodyBytes, maxDepth: config.maxPayloadDepth }),
          observer: metrics.ingest,
          logger: logger.child({ module: 'ingest' }),
          stopTimeoutMs: Math.min(5000, Math.floor(config.shutdownTimeoutMs / 2)),
        });
  const jobStore =
    overrides.jobStore ??
    (database !== undefined
      ? createPostgresJobStore({ database })
      : createSqliteJobStore({ file: config.jobs.dbPath, logger: logger.child({ module: 'job-store' }) }));
  const jobLogger = logger.child({ module: 'jobs' });
  const jobs = createJobService({
    store: jobStore,
    gateway,
    inbox,
    mirror,
    webhook: config.eventWebhook.url === undefined ? undefined : createWebhookPoster({ ...config.eventWebhook, url: config.eventWebhook.url }),
    clock,
    onTransition: ({ to }) => metrics.markJobTransition(to),
    onBackgroundError: (err, context) => jobLogger.warn({ err, ...context }, 'after a job transition was stored, telling of it failed'),
  });
  lifecycle.addReadinessCheck('jobStore', () => jobStore.isWritable());
  metrics.watchChatIndex(() => chatStore.indexStats());

  attachSocketHandlers(io, {
    config,
    logger: logger.child({ module: 'realtime' }),
    metrics,
    lifecycle,
    info,
    verifier,
    actions: createActionRegistry(webhook),
    eventLimit: { points: config.rateLimits.wsMessagesPerMinute, windowMs: 60_000 },
    connectionLimiter: perMinute('ws-connection', config.rateLimits.wsConnectionsPerMinute),
    chat,
    inbox,
    jobs,
    clock,
    clientAddress,
    ...(presence !== undefined ? { relayAudience: clusterAudience(presence) } : {}),
  });
  const httpRateLimiter = perMinute('http', config.rateLimits.httpPerMinute);
  const app = createHttpApp({
    config,
    logger,
    metrics,
    lifecycle,
    gateway,
    httpRateLimiter,
    origins,
    nonces:
      overrides.nonces ??
      (redis !== undefined && config.cluster !== undefined
        ? createRedisNonceStore({ redis, keyPrefix: config.cluster.keyPrefix })
        : createMemoryNonceStore()),
    info,
    publicDir: overrides.publicDir ?? `${ROOT}public`,
    verifier,
    chat,
    inbox,
    mirror,
    jobs,
    devTokenSigner: config.isProduction
      ? undefined
      : createTokenSigner({ secret: config.jwt.secret, issuer: config.jwt.issuer, audience: config.jwt.audience }),
  });
  requestClasses.adopt(app);
  handleRequest = app;
  trustProxy = app.get('trust proxy fn') as TrustProxy;

  let closing: Promise<void> | undefined;

  async function shutdown(): Promise<void> {
    lifecycle.startDraining();
    logger.info('shutting down: refusing new sockets, telling connected ones');
    // The ingest's batch in hand is stored and acknowledged while the stores are still open.
    await ingest?.stop();
    // `local`: with the cluster adapter a plain io.emit / disconnectSockets would reach
    // every node's sockets, and one node's restart would disconnect the whole cluster.
    io.local.emit('system:shutdown', { message: 'Server is shutting down', timestamp: new Date().toISOString() });
    io.local.disconnectSockets();
    // Give clients a moment to receive the disconnect packet and close their transports
    // (socket.io-client does so itself); io.close() would otherwise cut them off mid-write.
    const deadline = Date.now() + Math.min(1000, config.shutdownTimeoutMs / 2);
    while (io.engine.clientsCount > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await new Promise<void>((resolve) => {
      // io.close() also closes the HTTP server; idle keep-alive sockets would hold it open.
      void io.close(() => resolve());
      httpServer.closeIdleConnections();
    });
    await presence?.stop();
    await redis?.close();
    process.off('unhandledRejection', onUnhandledRejection);
    await chatStore.close();
    // Jobs first: a transition finishing now still stores its notification in the inbox.
    await jobStore.close();
    await inboxStore.close();
    await database?.close();
    logger.info('shutdown complete');
  }

  return {
    config,
    app,
    httpServer,
    io,
    gateway,
    logger,
    lifecycle,
    async listen(port = config.port, host = config.host) {
      if (redis !== undefined && config.cluster !== undefined) {
        // The stream adapter leaves some of its Redis calls (PUBLISH, SET of a session)
        // unawaited; one failing during an outage must be logged, not end the process.
        process.on('unhandledRejection', onUnhandledRejection);
        await redis.connect();
        io.adapter(createClusterAdapter(redis.client, { keyPrefix: config.cluster.keyPrefix, maxPackets: config.recoveryMaxPackets }));
        await presence?.start();
      }
      await chatStore.open();
      await inboxStore.open();
      await jobStore.open();
      return new Promise<number>((resolve, reject) => {
        httpServer.once('error', reject);
        httpServer.listen(port, host, () => {
          httpServer.off('error', reject);
          const bound = (httpServer.address() as AddressInfo).port;
          origins.setListeningPort(bound);
          ingest?.start();
          resolve(bound);
        });
      });
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        const watchdog = setTimeout(() => {
          logger.warn({ timeoutMs: config.shutdownTimeoutMs }, 'shutdown watchdog fired: closing remaining connections');
          httpServer.closeAllConnections();
          resolve();
        }, config.shutdownTimeoutMs);
        watchdog.unref();
        shutdown()
          .catch((err: unknown) => logger.error({ err }, 'error during shutdown'))
          .finally(() => {
            clearTimeout(watchdog);
            resolve();
          });
      });
      return closing;
    },
  };
}
