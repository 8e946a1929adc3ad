import type { z } from 'zod';
import type { Ack, ClientToServerEvents } from '../contracts/events.js';
import type { AckFailure, SocketErrorPayload } from '../contracts/error-codes.js';
import { AppError, toAppError } from '../errors.js';
import { describeIssues } from '../validation.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { AppSocket } from './socket-types.js';

type EventName = keyof ClientToServerEvents;
type AckOf<E extends EventName> = NonNullable<Parameters<ClientToServerEvents[E]>[1]>;
/** What a handler for event E resolves with: the reply its ack (and reply event) carry. */
export type ReplyOf<E extends EventName> = AckOf<E> extends Ack<infer R> ? R : never;

export interface HandlerOptions<E extends EventName> {
  /** Emits the reply event (seed-defined, e.g. `register:ack`) besides calling the ack. */
  reply?: (socket: AppSocket, result: ReplyOf<E>) => void;
  /** Emits a seed-defined failure event (e.g. `registration_error`) besides `error`. */
  replyFailure?: (socket: AppSocket, failure: AckFailure) => void;
}

export interface HandleDependencies {
  logger: Logger;
  metrics: Metrics;
}

/**
 * The one socket validation boundary. Registers `event` on `socket`: the payload is
 * parsed with `schema`; the handler's result is sent through the ack callback (when the
 * client gave one) and the reply event; any failure is answered with the `error` event
 * `{ event, message, code }` and an ack `{ success: false, error, code }`. Unknown
 * errors are logged and answered as INTERNAL_SERVER_ERROR without their message. A bad
 * payload never disconnects the socket and never escapes as an exception.
 */
export function handle<E extends EventName, S extends z.ZodType>(
  socket: AppSocket,
  deps: HandleDependencies,
  event: E,
  schema: S,
  run: (payload: z.output<S>) => Promise<ReplyOf<E>> | ReplyOf<E>,
  options: HandlerOptions<E> = {},
): void {
  const listener = async (...args: unknown[]) => {
    const ack = typeof args.at(-1) === 'function' ? (args.pop() as (reply: unknown) => void) : undefined;
    try {
      const parsed = schema.safeParse(args[0]);
      if (!parsed.success) throw new AppError('INVALID_REQUEST', `Invalid ${event} payload: ${describeIssues(parsed.error)}`);
      const result = await run(parsed.data);
      options.reply?.(socket, result);
      ack?.(result);
    } catch (err) {
      const failure = reportFailure(socket, deps, event, err);
      options.replyFailure?.(socket, failure);
      ack?.(failure);
    }
  };
  (socket as unknown as { on(event: string, listener: (...args: unknown[]) => void): void }).on(event, listener);
}

/** Answers a failure on `socket` with the `error` event and returns the ack form. */
export function reportFailure(socket: AppSocket, deps: HandleDependencies, event: string, err: unknown): AckFailure {
  const appError = toAppError(err);
  if (appError.code === 'INTERNAL_SERVER_ERROR') {
    deps.logger.error({ err: appError.cause ?? err, event, socketId: socket.id }, 'socket handler failed');
  } else {
    deps.logger.debug({ event, code: appError.code, socketId: socket.id }, 'socket request refused');
  }
  deps.metrics.markSocketError(appError.code);
  const payload: SocketErrorPayload = { event, message: appError.message, code: appError.code };
  const failure: AckFailure = { success: false, error: appError.message, code: appError.code };
  if (appError.retryAfter !== undefined) {
    payload.retryAfter = appError.retryAfter;
    failure.retryAfter = appError.retryAfter;
  }
  socket.emit('error', payload);
  return failure;
}
