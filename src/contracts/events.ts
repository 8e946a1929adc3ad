import type { AckFailure, SocketErrorPayload } from './error-codes.js';

/**
 * The socket wire contract, shared with clients: every event the server answers and
 * every event it emits, with payload types. Event names that the seed documents
 * define keep their names; events new to this server are named `domain:verb`.
 * `docs/protocol.md` describes each event in prose.
 */

/** ISO 8601 timestamp string. */
export type IsoTimestamp = string;

/** Reply passed to an ack callback: the same object as the reply event, or a failure. */
export type Ack<T> = (reply: T | AckFailure) => void;

export interface ConnectionStatusPayload {
  connected: true;
  socketId: string;
  userId: string | null;
  timestamp: IsoTimestamp;
}

export interface WelcomePayload {
  message: string;
  socketId: string;
  timestamp: IsoTimestamp;
  serverInfo: { version: string; environment: string };
}

export interface ConnectedPayload {
  message: string;
  socketId: string;
  userId: string | null;
  timestamp: IsoTimestamp;
}

export interface ShutdownPayload {
  message: string;
  timestamp: IsoTimestamp;
}

/** Server → client events. Publishers may also push events with names of their own. */
export interface ServerToClientEvents {
  connection_status: (payload: ConnectionStatusPayload) => void;
  'system:welcome': (payload: WelcomePayload) => void;
  connected: (payload: ConnectedPayload) => void;
  /** POST /notify body as sent, plus `id` and `timestamp` when absent; also /api/push default. */
  notification: (payload: Record<string, unknown>) => void;
  error: (payload: SocketErrorPayload) => void;
  /** Sent to every socket when the server begins a graceful shutdown; reconnect elsewhere or later. */
  'system:shutdown': (payload: ShutdownPayload) => void;
}

/** Client → server events. */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- filled by the socket gateway issue
export interface ClientToServerEvents {}

/** Events between server nodes (Redis adapter). */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- none yet
export interface InterServerEvents {}

/** Per-socket state, in Socket.IO's typed `socket.data`. */
export interface SocketData {
  /** Identified user, from the token or from `register` (development). */
  userId: string | undefined;
  tenantId: string | undefined;
  /** True when the identity comes from a verified token. */
  authenticated: boolean;
  connectedAt: number;
}
