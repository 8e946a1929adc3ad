import { io, type Socket, type SocketOptions, type ManagerOptions } from 'socket.io-client';
import type { ClientToServerEvents, ServerToClientEvents } from '../../src/contracts/events.js';

export type TestSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/** Connects a real socket.io-client (websocket only) and resolves once connected. */
export async function connectClient(
  url: string,
  options: Partial<ManagerOptions & SocketOptions> = {},
): Promise<TestSocket> {
  const socket: TestSocket = io(url, { transports: ['websocket'], reconnection: false, forceNew: true, ...options });
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

/**
 * Resolves true if `event` arrives within `ms`, false otherwise. Used to show that
 * something was NOT delivered: the window is a bound on waiting, not a timing assertion.
 */
export async function receivedWithin(socket: TestSocket, event: string, ms = 300): Promise<boolean> {
  try {
    await waitFor(socket, event, ms);
    return true;
  } catch {
    return false;
  }
}

/** Emits `event` with `payload` and resolves with the ack reply. */
export function emitWithAck<T = unknown>(socket: TestSocket, event: string, ...args: unknown[]): Promise<T> {
  const emitter = socket as unknown as { timeout(ms: number): { emitWithAck(event: string, ...args: unknown[]): Promise<T> } };
  return emitter.timeout(3000).emitWithAck(event, ...args);
}
