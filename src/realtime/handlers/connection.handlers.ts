import type { Socket } from 'socket.io';
import type {
  ClientToServerEvents,
  InterServerEvents,
  ServerToClientEvents,
  SocketData,
} from '../../contracts/events.js';
import type { RealtimeDependencies } from '../io.js';

export type AppSocket = Socket<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;

/** Greets a new socket the three ways the seed clients expect, and tracks it in metrics. */
export function registerConnectionHandlers(socket: AppSocket, deps: RealtimeDependencies): void {
  const { metrics, info } = deps;
  socket.data.connectedAt ??= Date.now();
  socket.data.authenticated ??= false;
  const userId = socket.data.userId ?? null;
  const timestamp = new Date().toISOString();

  metrics.markConnection({ authenticated: socket.data.authenticated, transport: socket.conn.transport.name });
  socket.on('disconnect', () => metrics.markDisconnection());

  socket.emit('connection_status', { connected: true, socketId: socket.id, userId, timestamp });
  socket.emit('system:welcome', {
    message: 'Welcome to the Socket.IO server',
    socketId: socket.id,
    timestamp,
    serverInfo: { version: info.version, environment: info.environment },
  });
  socket.emit('connected', { message: 'Connected', socketId: socket.id, userId, timestamp });
}
