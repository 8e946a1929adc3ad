import type { Clock } from '../domain/clock.js';
import { AppError } from '../errors.js';
import type { AppSocket } from './socket-types.js';

const WINDOW_MS = 60_000;

export interface RelayLimitOptions {
  /** Largest relayed payload, in bytes of JSON (MAX_RELAY_BYTES). */
  maxBytes: number;
  /** Bytes times recipients one connection may relay per minute (RATE_LIMIT_RELAY_BYTES_PER_MINUTE). */
  bytesPerMinute: number;
  clock: Clock;
}

/**
 * Bounds what a client can make the server send to other sockets (`message`,
 * `client:message`). Fan-out is where a small input becomes a large output (one 900 KB
 * message to 5 sockets is 4.5 MB out), so a relay costs its size times its recipients,
 * against a budget per connection and minute.
 */
export interface RelayLimits {
  /**
   * Measures `payload`, then spends its size times `recipients` from `socket`'s budget,
   * or throws: PAYLOAD_TOO_LARGE over MAX_RELAY_BYTES, or when this one relay is more
   * than a whole minute's budget; RATE_LIMITED (with retryAfter) when the minute's
   * budget is spent. A refused relay spends nothing.
   */
  charge(socket: AppSocket, payload: unknown, recipients: number): void;
}

interface Window {
  start: number;
  spent: number;
}

export function createRelayLimits(options: RelayLimitOptions): RelayLimits {
  const { maxBytes, bytesPerMinute, clock } = options;
  // Per connection, made on its first relay; goes with the socket.
  const windows = new WeakMap<AppSocket, Window>();

  return {
    charge(socket, payload, recipients) {
      // One stringify: the depth bound (MAX_PAYLOAD_DEPTH) has already held by now.
      const bytes = Buffer.byteLength(JSON.stringify(payload) ?? '');
      if (bytes > maxBytes) {
        throw new AppError('PAYLOAD_TOO_LARGE', `A relayed message may be at most ${maxBytes} bytes of JSON (MAX_RELAY_BYTES); this one is ${bytes}`);
      }
      const cost = bytes * recipients;
      if (cost === 0) return;
      if (cost > bytesPerMinute) {
        throw new AppError(
          'PAYLOAD_TOO_LARGE',
          `${bytes} bytes to ${recipients} recipients is more than a minute's relay budget (RATE_LIMIT_RELAY_BYTES_PER_MINUTE, ${bytesPerMinute} bytes)`,
        );
      }
      const now = clock.now();
      let window = windows.get(socket);
      if (window === undefined || now - window.start >= WINDOW_MS) {
        window = { start: now, spent: 0 };
        windows.set(socket, window);
      }
      if (window.spent + cost > bytesPerMinute) {
        const retryAfter = Math.max(1, Math.ceil((window.start + WINDOW_MS - now) / 1000));
        throw new AppError('RATE_LIMITED', `Relay budget spent: ${bytesPerMinute} bytes times recipients per minute (RATE_LIMIT_RELAY_BYTES_PER_MINUTE)`, {
          retryAfter,
        });
      }
      window.spent += cost;
    },
  };
}
