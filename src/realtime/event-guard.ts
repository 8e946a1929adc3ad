import type { RateLimiter } from '../domain/rate-limit.js';
import { AppError } from '../errors.js';
import type { HandleDependencies } from './handle.js';
import { reportFailure } from './handle.js';
import type { AppSocket } from './socket-types.js';

/**
 * Runs before every incoming event: an event nobody handles is answered (never dropped
 * silently), and the per-connection rate limit applies. A socket that keeps sending at
 * twice the limit within one window is disconnected.
 */
export function guardIncomingEvents(socket: AppSocket, deps: HandleDependencies & { messageLimiter: RateLimiter }): void {
  const listenerCount = (event: string) =>
    (socket as unknown as { listeners(event: string): unknown[] }).listeners(event).length;

  socket.use(([event, ...args], next) => {
    const ack = typeof args.at(-1) === 'function' ? (args.at(-1) as (reply: unknown) => void) : undefined;
    const refuse = (err: AppError) => {
      const failure = reportFailure(socket, deps, event, err);
      ack?.(failure);
    };

    if (listenerCount(event) === 0) return refuse(new AppError('INVALID_REQUEST', `Unknown event: ${event}`));
    deps.messageLimiter.consume(`socket:${socket.id}`).then(
      (limit) => {
        if (limit.allowed) return next();
        deps.metrics.markRateLimited('ws_message');
        const retryAfter = Math.max(1, Math.ceil(limit.resetMs / 1000));
        refuse(new AppError('RATE_LIMITED', 'Too many events on this connection', { retryAfter }));
        if (limit.consumed >= 2 * deps.messageLimiter.points) {
          deps.logger.warn({ socketId: socket.id, userId: socket.data.userId }, 'disconnecting a socket that keeps flooding');
          socket.disconnect(true);
        }
      },
      (err: unknown) => refuse(err instanceof AppError ? err : new AppError('INTERNAL_SERVER_ERROR', undefined, { cause: err })),
    );
  });
}
