import type { Server as HttpServer } from 'node:http';
import { Server } from 'socket.io';
import type { Config } from '../config.js';
import type {
  ClientToServerEvents,
  InterServerEvents,
  ServerToClientEvents,
  SocketData,
} from '../contracts/events.js';
import type { Lifecycle } from '../domain/lifecycle.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { registerConnectionHandlers } from './handlers/connection.handlers.js';

export type AppServer = Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;

export interface RealtimeDependencies {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  lifecycle: Lifecycle;
  info: { version: string; environment: string };
}

/** Attaches the Socket.IO server to the HTTP server and registers every handler group. */
export function createSocketServer(httpServer: HttpServer, deps: RealtimeDependencies): AppServer {
  const { config } = deps;
  const io: AppServer = new Server(httpServer, {
    cors: { origin: [...config.allowedOrigins], credentials: true },
    maxHttpBufferSize: config.maxHttpBufferSize,
    serveClient: true,
  });

  io.use((_socket, next) => {
    if (deps.lifecycle.draining) {
      const err = new Error('Server is shutting down') as Error & { data?: unknown };
      err.data = { code: 'SERVICE_UNAVAILABLE' };
      return next(err);
    }
    next();
  });

  io.on('connection', (socket) => {
    registerConnectionHandlers(socket, deps);
  });

  return io;
}
