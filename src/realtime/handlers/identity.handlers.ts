import { registerPayloadSchema, registerUserPayloadSchema } from '../../contracts/schemas.js';
import { AppError } from '../../errors.js';
import type { RealtimeDependencies } from '../io.js';
import type { HandlerRegistry } from '../handle.js';
import { userRoom } from '../rooms.js';
import type { AppSocket } from '../socket-types.js';

/**
 * `register` (seed 002) and `register_user` (seed 001). With a token they only confirm
 * the token's user; an anonymous socket (development) takes the given identity, joins
 * that user's room, and `onIdentified` runs for it (offline delivery).
 */
export function registerIdentityHandlers(
  handlers: HandlerRegistry,
  deps: RealtimeDependencies & { onIdentified: (socket: AppSocket) => void },
): void {
  const bindUser = async (socket: AppSocket, userId: string) => {
    const data = socket.data;
    if (data.authenticated) {
      if (userId !== data.userId) throw new AppError('FORBIDDEN', 'userId does not match the token');
      return;
    }
    if (!deps.config.allowAnonymous) throw new AppError('UNAUTHORIZED', 'Connect with a token to register');
    if (data.userId !== undefined && data.userId !== userId) await socket.leave(userRoom(data.userId));
    data.userId = userId;
    await socket.join(userRoom(userId));
    deps.onIdentified(socket);
  };

  handlers.on(
    'register',
    registerPayloadSchema,
    async ({ userId }, socket) => {
      await bindUser(socket, userId);
      return { success: true as const, userId };
    },
    { reply: 'register:ack' },
  );

  handlers.on(
    'register_user',
    registerUserPayloadSchema,
    async ({ userId, machineId }, socket) => {
      await bindUser(socket, userId);
      socket.data.machineId = machineId;
      return { userId, machineId, socketId: socket.id };
    },
    {
      reply: 'registration_success',
      replyFailure: (socket, failure) => socket.emit('registration_error', { error: failure.error, code: failure.code }),
    },
  );
}
