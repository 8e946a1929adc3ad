import type { IncomingMessage } from 'node:http';
import type { ExtendedError } from 'socket.io';
import type { ErrorCode } from '../contracts/error-codes.js';
import type { Identity, TokenVerifier } from '../domain/identity.js';
import type { RateLimiter } from '../domain/rate-limit.js';
import { toAppError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { AppSocket } from './socket-types.js';

/** A connect_error the client sees as `err.message` and `err.data.code`. */
export function connectError(code: ErrorCode, message: string, extra: Record<string, unknown> = {}): ExtendedError {
  const err: ExtendedError = new Error(message);
  err.data = { code, ...extra };
  return err;
}

/**
 * Where a socket's token may be: `auth.token` (seeds 002, 003, 004), the `token` query
 * parameter (seed 004), or an `Authorization: Bearer` header (non-browser clients).
 */
export function tokenFromHandshake(handshake: AppSocket['handshake']): string | undefined {
  const fromAuth: unknown = (handshake.auth as { token?: unknown } | undefined)?.token;
  if (typeof fromAuth === 'string' && fromAuth.length > 0) return fromAuth;
  const fromQuery = handshake.query.token;
  if (typeof fromQuery === 'string' && fromQuery.length > 0) return fromQuery;
  const header = handshake.headers.authorization;
  if (typeof header === 'string' && /^Bearer\s+\S/i.test(header)) return header.replace(/^Bearer\s+/i, '').trim();
  return undefined;
}

export interface AuthMiddlewareDependencies {
  verifier: TokenVerifier;
  allowAnonymous: boolean;
  connectionLimiter: RateLimiter;
  metrics: Metrics;
  logger: Logger;
  isDraining: () => boolean;
  /** The address the per-address connection limit counts (as Express's `req.ip`). */
  clientAddress: (req: IncomingMessage) => string;
}

/**
 * The connection gate, run for every new socket and again for every recovered one
 * (connection state recovery is configured not to skip middlewares): draining refuses,
 * then the per-IP connection limit, then the token. A token that is present but bad is
 * refused even when anonymous sockets are allowed: it is never silently downgraded.
 *
 * A refused socket's connection is closed once its connect_error is sent: a client that
 * ignores the refusal would otherwise keep it open until the connect timeout.
 */
export function createAuthMiddleware(deps: AuthMiddlewareDependencies) {
  return async (socket: AppSocket, next: (err?: ExtendedError) => void): Promise<void> => {
    const refusal = await identify(socket, deps);
    if (refusal === undefined) return next();
    next(refusal);
    // Socket.IO queues the connect_error in a process.nextTick after next(err), so by
    // setImmediate it is in Engine.IO's write buffer; close() sends that buffer first.
    setImmediate(() => socket.conn.close());
  };
}

/** Identifies `socket` (its socket.data), or returns why it is refused. */
async function identify(socket: AppSocket, deps: AuthMiddlewareDependencies): Promise<ExtendedError | undefined> {
  if (deps.isDraining()) return connectError('SERVICE_UNAVAILABLE', 'Server is shutting down');

  // A recovered socket was already counted when it first connected.
  if (!socket.recovered) {
    const limit = await deps.connectionLimiter.consume(`ip:${deps.clientAddress(socket.request)}`);
    if (!limit.allowed) {
      deps.metrics.markRateLimited('ws_connection');
      const retryAfter = Math.max(1, Math.ceil(limit.resetMs / 1000));
      return connectError('RATE_LIMITED', 'Too many connections from this address', { retryAfter });
    }
  }

  const token = tokenFromHandshake(socket.handshake);
  let identity: Identity | undefined;
  if (token !== undefined) {
    try {
      identity = deps.verifier.verify(token);
    } catch (err) {
      const appError = toAppError(err);
      deps.logger.debug({ code: appError.code, socketId: socket.id }, 'socket authentication refused');
      return connectError(appError.code, appError.message);
    }
  } else if (!deps.allowAnonymous) {
    return connectError('UNAUTHORIZED', 'Authentication token required (auth.token, ?token= or Authorization: Bearer)');
  }

  const tenantRefusal = claimedTenantRefusal(socket.handshake, identity);
  if (tenantRefusal !== undefined) {
    deps.logger.debug({ socketId: socket.id, userId: identity?.userId }, 'socket refused: auth.tenantId is not the token claim');
    return connectError('FORBIDDEN', tenantRefusal);
  }

  if (socket.recovered && !sameIdentity(socket, identity)) {
    // The recovered rooms and missed packets belong to the previous identity.
    return connectError('UNAUTHORIZED', 'Token does not match the recovered session');
  }

  socket.data.authenticated = identity !== undefined;
  socket.data.userId = identity?.userId ?? (socket.recovered ? socket.data.userId : undefined);
  socket.data.tenantId = identity?.tenantId;
  socket.data.tokenExp = identity?.exp;
  socket.data.roomGrants = identity?.rooms ?? [];
  socket.data.connectedAt ??= Date.now();
  return undefined;
}

/** Whether a recovered socket's previous identity is the one now presented. */
function sameIdentity(socket: AppSocket, identity: Identity | undefined): boolean {
  const previous = socket.data;
  if (previous.authenticated) return identity !== undefined && identity.userId === previous.userId && identity.tenantId === previous.tenantId;
  // A previously anonymous socket may only come back anonymous, or as the user it registered as.
  return identity === undefined || previous.userId === undefined || identity.userId === previous.userId;
}

/**
 * Seed 003 clients send `auth: { token, tenantId }`. The tenant is the token's claim and
 * nothing else: a `tenantId` beside the token is accepted only as a restatement of it
 * (numbers compared as the verifier reads numeric claims), so a client can never pick a
 * tenant, nor add one to a token that names none. Absent or null means not given.
 */
function claimedTenantRefusal(handshake: AppSocket['handshake'], identity: Identity | undefined): string | undefined {
  const claimed: unknown = (handshake.auth as { tenantId?: unknown } | undefined)?.tenantId;
  if (claimed === undefined || claimed === null) return undefined;
  if (identity?.tenantId === undefined) return 'auth.tenantId was given, but the token has no tenantId claim: the tenant comes from the token only';
  const given = typeof claimed === 'number' ? String(claimed) : claimed;
  if (given !== identity.tenantId) return "auth.tenantId does not match the token's tenantId claim";
  return undefined;
}
