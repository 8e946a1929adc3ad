import { authRefreshPayloadSchema } from '../../contracts/schemas.js';
import { AppError } from '../../errors.js';
import type { RealtimeDependencies } from '../io.js';
import { reportFailure, type HandlerRegistry } from '../handle.js';
import { replayMissedPackets } from '../recovery-adapter.js';
import { userRoom } from '../rooms.js';
import type { AppSocket } from '../socket-types.js';

// setTimeout cannot wait longer than this; longer expiries re-arm.
const MAX_TIMER_MS = 2_147_483_647;

/**
 * Ends each authenticated socket at its token's `exp`, unless `auth:refresh` moved it.
 * Owns one timer per authenticated socket, cleared when the socket goes.
 */
function createTokenExpiry(deps: RealtimeDependencies) {
  const { clock } = deps;
  const cancels = new Map<string, () => void>();
  const clear = (socket: AppSocket): void => {
    cancels.get(socket.id)?.();
    cancels.delete(socket.id);
  };
  const arm = (socket: AppSocket): void => {
    clear(socket);
    const exp = socket.data.tokenExp;
    if (exp === undefined) return;
    const delay = Math.max(0, Math.min(exp * 1000 - clock.now(), MAX_TIMER_MS));
    const cancel = clock.schedule(() => {
      cancels.delete(socket.id);
      if (socket.data.tokenExp !== undefined && socket.data.tokenExp * 1000 > clock.now()) return arm(socket);
      reportFailure(socket, deps, 'auth', new AppError('TOKEN_EXPIRED', 'Token expired; reconnect with a new token'));
      socket.disconnect(true);
    }, delay);
    cancels.set(socket.id, cancel);
  };
  return { arm, clear };
}

/**
 * A socket's life: greeting (the three ways the seed clients expect), its user room,
 * recovery events, token expiry and `auth:refresh`. Returns what runs for each new socket.
 */
export function registerSessionHandlers(
  handlers: HandlerRegistry,
  deps: RealtimeDependencies,
): (socket: AppSocket) => void {
  const { metrics, info } = deps;
  const expiry = createTokenExpiry(deps);

  handlers.on('auth:refresh', authRefreshPayloadSchema, ({ token }, socket) => {
    const data = socket.data;
    if (!data.authenticated) throw new AppError('UNAUTHORIZED', 'Only sockets that connected with a token can refresh it');
    const identity = deps.verifier.verify(token);
    if (identity.userId !== data.userId || identity.tenantId !== data.tenantId) {
      throw new AppError('FORBIDDEN', 'The new token is for another user');
    }
    data.tokenExp = Math.max(identity.exp, data.tokenExp ?? 0);
    data.roomGrants = identity.rooms;
    expiry.arm(socket);
    return { success: true as const, exp: data.tokenExp };
  });

  return (socket) => {
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
      replayMissedPackets(socket);
    } else if (typeof (socket.handshake.auth as { pid?: unknown }).pid === 'string') {
      socket.emit('system:state_recovery_failed', { message: 'Failed to recover connection state', timestamp });
    }

    expiry.arm(socket);
    socket.once('disconnect', (reason) => {
      expiry.clear(socket);
      metrics.markDisconnection();
      // The client left the namespace but not the connection, which would then stay open
      // with no socket on it for as long as it answers pings. socket.io-client closes
      // it itself; this closes it for clients that do not.
      if (reason === 'client namespace disconnect') socket.conn.close();
    });
  };
}
