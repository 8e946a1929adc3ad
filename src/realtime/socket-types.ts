import type { Server, Socket } from 'socket.io';
import type { ClientToServerEvents, InterServerEvents, ServerToClientEvents, SocketData } from '../contracts/events.js';

export type AppServer = Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;
export type AppSocket = Socket<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;

/**
 * The untyped face of an emitter. Publishers push events whose names the contract does
 * not know, so delivery paths use this deliberately and nowhere else.
 */
export interface UntypedEmitter {
  emit(event: string, ...args: unknown[]): boolean;
}

export const untyped = (emitter: object): UntypedEmitter => emitter as UntypedEmitter;
