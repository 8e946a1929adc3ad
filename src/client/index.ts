/**
 * The typed client entry point apps import: `createClient` plus the wire contract.
 *
 *   import { createClient } from 'realtime-notify-server/client';
 *   const socket = createClient('http://localhost:3000', { token });
 *   socket.on('notification', (n) => ...);            // typed payload
 *   const reply = await socket.emitWithAck('room:join', { room: 'news' });
 */
import { io, type ManagerOptions, type Socket, type SocketOptions } from 'socket.io-client';
import type { ClientToServerEvents, ServerToClientEvents } from '../contracts/events.js';

export type * from '../contracts/events.js';
export type { AckFailure, ErrorCode, SocketErrorPayload } from '../contracts/error-codes.js';

export type NotifySocket = Socket<ServerToClientEvents, ClientToServerEvents>;

export interface CreateClientOptions extends Partial<ManagerOptions & SocketOptions> {
  /** The user's JWT, sent as `auth.token`. Omit for an anonymous (development) socket. */
  token?: string;
  /**
   * Asks for connection state recovery (`auth.recovery`; default true): after a short
   * drop the socket gets its rooms back and the events it missed. Events then carry
   * Socket.IO's offset as a trailing argument, which socket.io-client reads and handlers
   * ignore.
   */
  recovery?: boolean;
}

/** Connects to the server with a typed socket. Reconnection and state recovery are socket.io-client's. */
export function createClient(url: string, options: CreateClientOptions = {}): NotifySocket {
  const { token, recovery = true, auth, ...rest } = options;
  // An `auth` callback is the caller's to fill in entirely, `recovery` included.
  const handshake = typeof auth === 'function' ? auth : { ...auth, ...(token !== undefined ? { token } : {}), recovery };
  return io(url, { ...rest, auth: handshake });
}
