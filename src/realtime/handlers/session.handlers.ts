import { authRefreshPayloadSchema } from '../../contracts/schemas.js';
import { AppError } from '../../errors.js';
import type { RealtimeDependencies } from '../io.js';
import { handle, reportFailure } from '../handle.js';
import type { RecoveryGuard } from '../recovery.js';
import { userRoom } from '../rooms.js';
import type { AppSocket } from '../socket-types.js';

// setTimeout cannot wait longer than this; longer expiries re-arm.
const MAX_TIMER_MS = 2_147_483_647;

/**
 * A socket's life: greeting (the three ways the seed clients expect), its user room,
 * recovery events, token expiry and `auth:refresh`.
 */
export function registerSessionHandlers(socket: AppSocket, deps: RealtimeDependencies & { recovery: RecoveryGuard }): void {
  const { metrics, info } = deps;
  const data = socket.data;
  const timestamp = new Date().toISOString();

  metrics.markConnection({ authenticated: data.authenticated, transport: socket.conn.transport.name });
  if (data.userId !== undefined) void socket.join(userRoom(data.userId, data.tenantId));

  const userId = data.userId ?? null;
  socket.emit('connection_status', { connected: true, socketId: socket.id, userId, timestamp });
  socket.emit('system:welcome', {
    message: 'Welcome to the Socket.IO server',
    socketId: socket.id,
    timestamp,
    serverInfo: { version: info.version, environment: info.environment },
  });
  socket.emit('connected', { message: 'Connected', socketId: socket.id, userId, timestamp });
  if (socket.recovered) {
    socket.emit('system:state_recovered', { userId, timestamp });
    deps.recovery.replayMissedPackets(socket);
  } else if (typeof (socket.handshake.auth as { pid?: unknown }).pid === 'string') {
    socket.emit('system:state_recovery_failed', { message: 'Failed to recover connection state', timestamp });
  }

  let expiryTimer: NodeJS.Timeout | undefined;
  const armExpiry = () => {
    clearTimeout(expiryTimer);
    if (data.tokenExp === undefined) return;
    const remaining = data.tokenExp * 1000 - Date.now();
    expiryTimer = setTimeout(
      () => {
        if (data.tokenExp !== undefined && data.tokenExp * 1000 > Date.now()) return armExpiry();
        reportFailure(socket, deps, 'auth', new AppError('TOKEN_EXPIRED', 'Token expired; reconnect with a new token'));
        socket.disconnect(true);
      },
      Math.max(0, Math.min(remaining, MAX_TIMER_MS)),
    );
  };
  armExpiry();

  socket.on('disconnect', () => {
    clearTimeout(expiryTimer);
    metrics.markDisconnection();
  });

  handle(socket, deps, 'auth:refresh', authRefreshPayloadSchema, ({ token }) => {
    if (!data.authenticated) throw new AppError('UNAUTHORIZED', 'Only sockets that connected with a token can refresh it');
    const identity = deps.verifier.verify(token);
    if (identity.userId !== data.userId || identity.tenantId !== data.tenantId) {
      throw new AppError('FORBIDDEN', 'The new token is for another user');
    }
    data.tokenExp = Math.max(identity.exp, data.tokenExp ?? 0);
    data.roomGrants = identity.rooms;
    armExpiry();
    return { success: true as const, exp: data.tokenExp };
  });
}
