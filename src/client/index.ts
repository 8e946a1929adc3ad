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
}

/** Connects to the server with a typed socket. Reconnection and state recovery are socket.io-client's. */
export function createClient(url: string, options: CreateClientOptions = {}): NotifySocket {
  const { token, ...rest } = options;
  return io(url, { ...rest, ...(token !== undefined ? { auth: { token } } : {}) });
}
