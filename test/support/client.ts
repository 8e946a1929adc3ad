import { io, type Socket, type SocketOptions, type ManagerOptions } from 'socket.io-client';
import type { ClientToServerEvents, ServerToClientEvents } from '../../src/contracts/events.js';
import type { AppServer } from '../../src/realtime/socket-types.js';

export type TestSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/**
 * Opens a real socket.io-client (websocket only) without waiting for it to connect: for
 * what the server sends at connect, which can arrive in the same read as the CONNECT
 * packet, before code awaiting `connectClient` could start listening.
 */
export function openClient(url: string, options: Partial<ManagerOptions & SocketOptions> = {}): TestSocket {
  return io(url, { transports: ['websocket'], reconnection: false, forceNew: true, ...options });
}

/** Connects a real socket.io-client (websocket only) and resolves once connected. */
export async function connectClient(
  url: string,
  options: Partial<ManagerOptions & SocketOptions> = {},
): Promise<TestSocket> {
  const socket = openClient(url, options);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', (err) => reject(err));
  });
  return socket;
}

/** Resolves with the connect_error a refused connection gets. */
export async function connectError(
  url: string,
  options: Partial<ManagerOptions & SocketOptions> = {},
): Promise<Error & { data?: { code?: string; retryAfter?: number } }> {
  const socket: TestSocket = io(url, { transports: ['websocket'], reconnection: false, forceNew: true, ...options });
  try {
    return await new Promise((resolve, reject) => {
      socket.once('connect', () => reject(new Error('connected, but a refusal was expected')));
      socket.once('connect_error', (err) => resolve(err));
    });
  } finally {
    socket.close();
  }
}

interface UntypedEmitter {
  once(event: string, listener: (arg: unknown) => void): unknown;
  off(event: string, listener: (arg: unknown) => void): unknown;
}

/**
 * Waits for one `event` on `socket`, failing after `timeoutMs`. Event names are free
 * strings here because publishers push events that are not in the contract.
 */
export function waitFor<T = unknown>(socket: TestSocket, event: string, timeoutMs = 3000): Promise<T> {
  const emitter = socket as unknown as UntypedEmitter;
  return new Promise((resolve, reject) => {
    const listener = (arg: unknown) => {
      clearTimeout(timer);
      resolve(arg as T);
    };
    const timer = setTimeout(() => {
      emitter.off(event, listener);
      reject(new Error(`timed out waiting for "${event}"`));
    }, timeoutMs);
    emitter.once(event, listener);
  });
}

/** Emits `event` with `payload` and resolves with the ack reply. */
export function emitWithAck<T = unknown>(socket: TestSocket, event: string, ...args: unknown[]): Promise<T> {
  const emitter = socket as unknown as { timeout(ms: number): { emitWithAck(event: string, ...args: unknown[]): Promise<T> } };
  return emitter.timeout(3000).emitWithAck(event, ...args);
}

/** A record of unwanted events on one socket, from the moment it was made. */
export interface UnwantedWatch {
  /**
   * Runs `sentinel` and fails if any unwanted event arrived before it, or the socket
   * disconnected first (nothing can follow a disconnect). `sentinel` must make the server
   * send this socket something after the moment an unwanted event would have been sent,
   * and resolve when it arrives; by default a `ping` and its ack. The server writes one
   * socket's packets in order and the client handles them in order, so anything sent
   * before the sentinel has been seen by then: no time window is involved.
   */
  expectNothingBefore(sentinel?: () => Promise<unknown>): Promise<void>;
}

/**
 * Starts recording `unwanted` events (and a disconnect) on `socket`. Call it before the
 * action that must not reach the socket: anything that arrived earlier is not seen.
 */
export function watchUnwanted(socket: TestSocket, unwanted: readonly string[]): UnwantedWatch {
  const seen: { event: string; args: unknown[] }[] = [];
  const record = (event: string, ...args: unknown[]) => {
    if (unwanted.includes(event)) seen.push({ event, args });
  };
  let disconnectReason: string | undefined;
  const onDisconnect = (reason: string) => {
    disconnectReason = reason;
  };
  socket.onAny(record);
  socket.once('disconnect', onDisconnect);
  return {
    async expectNothingBefore(sentinel = () => emitWithAck(socket, 'ping', {})) {
      const lostAfter = (reason: string) => new Error(`disconnected (${reason}) before the sentinel, after: ${JSON.stringify(seen)}`);
      let failOnLoss: (reason: string) => void = () => undefined;
      const lost = new Promise<never>((_resolve, reject) => {
        failOnLoss = (reason) => reject(lostAfter(reason));
      });
      try {
        if (disconnectReason !== undefined) throw lostAfter(disconnectReason);
        socket.once('disconnect', failOnLoss);
        await Promise.race([sentinel(), lost]);
      } finally {
        socket.off('disconnect', failOnLoss);
        socket.offAny(record);
        socket.off('disconnect', onDisconnect);
      }
      if (seen.length > 0) throw new Error(`received before the sentinel: ${JSON.stringify(seen)}`);
    },
  };
}

/**
 * Resolves once the server has handled `socket`'s disconnect (its rooms left, its timers
 * cleared). Call it while the socket is still connected, before closing or dropping it.
 */
export function serverSawDisconnect(io: AppServer, socket: TestSocket): Promise<string> {
  const serverSide = socket.id === undefined ? undefined : io.of('/').sockets.get(socket.id);
  if (serverSide === undefined) return Promise.reject(new Error('the server has no socket with this id'));
  return new Promise((resolve) => serverSide.once('disconnect', (reason) => resolve(reason)));
}
