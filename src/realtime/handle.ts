import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import type { Ack, ClientToServerEvents, ServerToClientEvents } from '../contracts/events.js';
import type { AckFailure, SocketErrorPayload } from '../contracts/error-codes.js';
import { LocalFixedWindow } from '../domain/rate-limit.js';
import { AppError, toAppError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { describeIssues, nestingExceeds } from '../validation.js';
import { untyped, type AppSocket } from './socket-types.js';

type EventName = keyof ClientToServerEvents;
type AckOf<E extends EventName> = NonNullable<Parameters<ClientToServerEvents[E]>[1]>;
/** What a handler for event E resolves with: the reply its ack (and reply event) carry. */
export type ReplyOf<E extends EventName> = AckOf<E> extends Ack<infer R> ? R : never;

type ServerEventName = keyof ServerToClientEvents;
/** The server events whose contract payload admits every value of T. */
type EventsCarrying<T> = {
  [K in ServerEventName]: [T] extends [Parameters<ServerToClientEvents[K]>[0]] ? K : never;
}[ServerEventName];

/**
 * A request's reply event (seed-defined, e.g. `register:ack`), emitted besides the ack
 * with the result and, unless the request has a seed-defined failure event of its own
 * (`replyFailure`), with the failure too: the ack's `{ success: false, ... }`. The
 * compiler checks that the contract's type of the reply event admits what it carries.
 */
export type HandlerOptions<E extends EventName> =
  | { reply?: EventsCarrying<ReplyOf<E> | AckFailure>; replyFailure?: undefined }
  | {
      reply?: EventsCarrying<ReplyOf<E>>;
      /** Emits a seed-defined failure event (e.g. `registration_error`) instead. */
      replyFailure: (socket: AppSocket, failure: AckFailure) => void;
    };

export interface HandleDependencies {
  logger: Logger;
  metrics: Metrics;
}

interface Handler {
  schema: z.ZodType;
  run: (payload: unknown, socket: AppSocket) => unknown;
  reply: ServerEventName | undefined;
  replyFailure: ((socket: AppSocket, failure: AckFailure) => void) | undefined;
}

/**
 * Every client → server event the server answers, registered once per server and
 * dispatched from one middleware per socket (no per-socket listener or closure per
 * event: measured, that was about half of the extra heap each connection cost).
 */
export interface HandlerRegistry {
  /**
   * Answers `event`. A payload nested deeper than MAX_PAYLOAD_DEPTH is refused before
   * anything reads it; otherwise it is parsed with `schema`. The handler's result goes to
   * the ack callback (when the client gave one) and the reply event; any failure is
   * answered with the `error` event `{ event, message, code }`, on the reply event (or
   * the failure event) and the ack as `{ success: false, error, code, requestId }`.
   * Unknown errors are logged and answered as INTERNAL_SERVER_ERROR without their
   * message. A payload the handler refuses never disconnects.
   */
  on<E extends EventName, S extends z.ZodType>(
    event: E,
    schema: S,
    run: (payload: z.output<S>, socket: AppSocket) => Promise<ReplyOf<E>> | ReplyOf<E>,
    options?: HandlerOptions<E>,
  ): void;
  /**
   * Starts answering `socket`: the per-connection rate limit applies to every event, an
   * event nobody handles is answered (never dropped silently), and a socket that keeps
   * sending at twice the limit within one window is disconnected.
   */
  attach(socket: AppSocket): void;
}

export interface EventLimit {
  /** Events one connection may send per window. */
  points: number;
  windowMs: number;
}

export function createHandlerRegistry(
  deps: HandleDependencies & { eventLimit: EventLimit; maxPayloadDepth: number },
): HandlerRegistry {
  const handlers = new Map<string, Handler>();

  async function dispatch(socket: AppSocket, limiter: LocalFixedWindow, event: string, args: unknown[]): Promise<void> {
    const ack = typeof args.at(-1) === 'function' ? (args.pop() as (reply: unknown) => void) : undefined;
    const handler = handlers.get(event);
    try {
      if (handler === undefined) throw unknownEvent(event);
      const limit = limiter.consume();
      if (!limit.allowed) {
        deps.metrics.markRateLimited('ws_message');
        if (limit.consumed >= 2 * limiter.points) {
          deps.logger.warn({ socketId: socket.id, userId: socket.data.userId }, 'disconnecting a socket that keeps flooding');
          socket.disconnect(true);
          return;
        }
        throw new AppError('RATE_LIMITED', 'Too many events on this connection', { retryAfter: Math.max(1, Math.ceil(limit.resetMs / 1000)) });
      }
      // Socket.IO's encoder walks what is sent back or relayed recursively: a payload
      // nested thousands deep would overflow the stack there, inside a handler.
      if (args.some((arg) => nestingExceeds(arg, deps.maxPayloadDepth))) {
        throw new AppError('INVALID_REQUEST', `Invalid ${event} payload: nested deeper than ${deps.maxPayloadDepth} levels (MAX_PAYLOAD_DEPTH)`);
      }
      const parsed = handler.schema.safeParse(args[0]);
      if (!parsed.success) throw new AppError('INVALID_REQUEST', `Invalid ${event} payload: ${describeIssues(parsed.error)}`);
      const result = await handler.run(parsed.data, socket);
      if (handler.reply !== undefined) untyped(socket).emit(handler.reply, result);
      ack?.(result);
    } catch (err) {
      const failure = reportFailure(socket, deps, event, err);
      if (handler?.replyFailure !== undefined) handler.replyFailure(socket, failure);
      else if (handler?.reply !== undefined) untyped(socket).emit(handler.reply, failure);
      ack?.(failure);
    }
  }

  return {
    on(event, schema, run, options = {}) {
      if (handlers.has(event)) throw new Error(`Two handlers for ${event}`);
      handlers.set(event, { schema, run: run as Handler['run'], reply: options.reply, replyFailure: options.replyFailure });
    },
    attach(socket) {
      // The connection's own counter (no shared store, no promise per event), made on its
      // first event: most sockets of a notification server only listen.
      let limiter: LocalFixedWindow | undefined;
      // Handled here, so next() is never called and Socket.IO's listeners never run.
      socket.use(([event, ...args]) => {
        limiter ??= new LocalFixedWindow(deps.eventLimit.points, deps.eventLimit.windowMs);
        void dispatch(socket, limiter, event, args);
      });
    },
  };
}

/**
 * The answer to an event nobody handles: INVALID_REQUEST, except in the development
 * helpers' `test:` namespace, which answers UNKNOWN_ACTION whether a helper is off
 * (production) or never existed, so a client cannot tell the two apart.
 */
function unknownEvent(event: string): AppError {
  // Typed a string, but the wire allows a number as an event name.
  const helper = typeof event === 'string' && event.startsWith('test:');
  return new AppError(helper ? 'UNKNOWN_ACTION' : 'INVALID_REQUEST', `Unknown event: ${event}`);
}

/** Answers a failure on `socket` with the `error` event and returns the ack form. */
export function reportFailure(socket: AppSocket, deps: HandleDependencies, event: string, err: unknown): AckFailure {
  const appError = toAppError(err);
  const requestId = randomUUID();
  if (appError.code === 'INTERNAL_SERVER_ERROR') {
    deps.logger.error({ err: appError.cause ?? err, event, requestId, socketId: socket.id }, 'socket handler failed');
  } else {
    deps.logger.debug({ event, code: appError.code, requestId, socketId: socket.id }, 'socket request refused');
  }
  deps.metrics.markSocketError(appError.code);
  const payload: SocketErrorPayload = { event, message: appError.message, code: appError.code };
  const failure: AckFailure = { success: false, error: appError.message, code: appError.code, requestId };
  if (appError.retryAfter !== undefined) {
    payload.retryAfter = appError.retryAfter;
    failure.retryAfter = appError.retryAfter;
  }
  socket.emit('error', payload);
  return failure;
}
