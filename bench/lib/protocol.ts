import type { HistogramData } from './histogram.js';

/**
 * The IPC contract between the orchestrator (bench/run.ts) and its client worker
 * processes (bench/clients/worker.ts). Every command gets exactly one reply with the
 * same id; workers also push `progress` events while a sequence is tracked.
 */

/** Wall-clock milliseconds with sub-millisecond resolution, comparable across processes on one machine. */
export const now = (): number => performance.timeOrigin + performance.now();

export interface ConnectCommand {
  cmd: 'connect';
  /** The server's nodes: the k-th of `userIds` connects to `urls[k % urls.length]`. */
  urls: string[];
  userIds: string[];
  jwtSecret: string;
  /** Handshakes in flight at once in this worker. */
  concurrency: number;
  timeoutMs: number;
  /**
   * A socket counts as connected only once this event has arrived too (e.g. the unread
   * count the server sends on connect), and the number after `numberKey` in it is reported.
   */
  waitFor?: { event: string; numberKey: string };
}

export interface ConnectResult {
  connected: number;
  failed: number;
  errors: string[];
  startedAt: number;
  endedAt: number;
  latency: HistogramData;
  /** With `waitFor`: the handshake latency of the connected sockets, by the number their awaited event carried. */
  latencyByWaited: Record<string, HistogramData>;
}

/** Count (and time, from the payload's `"t"`) these events on every socket of the worker. */
export interface TrackCommand {
  cmd: 'track';
  events: string[];
  /** Report the lowest `"seq"` seen on all sockets for this event, as `progress` events. */
  sequenceEvent?: string;
}

export interface SenderPair {
  from: string;
  to: string;
}

/**
 * Closed-loop senders: each `from` socket keeps `window` requests in flight, sending the
 * next as soon as one is acknowledged. `relay` sends `client:message` to the `to` user;
 * `chat` first creates a session with `to`, then sends `send_message` in it.
 */
export interface TrafficStartCommand {
  cmd: 'traffic-start';
  kind: 'relay' | 'chat';
  senders: SenderPair[];
  window: number;
  /** Bytes of message text. */
  messageBytes: number;
}

export interface SoakStartCommand {
  cmd: 'soak-start';
  jwtSecret: string;
  /** Sockets of this worker closed and reopened per second (half gracefully, half dropped). */
  churnPerSecond: number;
  /** client:message relays per second from random sockets of this worker to random users. */
  relayPerSecond: number;
  /** Users that relays may be addressed to. */
  targets: string[];
  timeoutMs: number;
}

export interface HttpLoadCommand {
  cmd: 'http-load';
  /** The server's nodes; autocannon's connections are dealt over them round robin. */
  urls: string[];
  path: string;
  apiKey: string;
  /** Request bodies, used round robin. `"t":0` in a body is replaced by the send time. */
  bodies: string[];
  connections: number;
  warmupSeconds: number;
  durationSeconds: number;
}

export interface HttpLoadResult {
  requests: number;
  requestsPerSecond: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  durationSeconds: number;
  cpuPercent: number;
}

export type WorkerCommand =
  | ConnectCommand
  | TrackCommand
  | TrafficStartCommand
  | SoakStartCommand
  | HttpLoadCommand
  | { cmd: 'window-start' }
  | { cmd: 'window-stop' }
  | { cmd: 'traffic-stop' }
  | { cmd: 'soak-stop' }
  | { cmd: 'close-all'; graceful: boolean }
  | { cmd: 'status' };

/** What a worker saw between window-start and window-stop. */
export interface WindowReport {
  wallMs: number;
  /** Process CPU (user + system) as a percentage of one core. */
  cpuPercent: number;
  /** Event-loop utilization, 0–1: near 1 means this client process was the bottleneck. */
  elu: number;
  received: Record<string, number>;
  latency: Record<string, HistogramData>;
  sent: number;
  acked: number;
  ackErrors: number;
  ackLatency: HistogramData;
  disconnects: number;
  errors: string[];
}

export interface SoakReport {
  churned: number;
  reconnectFailures: number;
  relaysSent: number;
  relayErrors: number;
  received: Record<string, number>;
  connected: number;
  errors: string[];
}

export interface StatusReport {
  sockets: number;
  connected: number;
  rssBytes: number;
}

export type WorkerReply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

export type WorkerEvent = { event: 'ready' } | { event: 'progress'; seq: number };

export type WorkerRequest = WorkerCommand & { id: number };
