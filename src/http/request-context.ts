import type { Response } from 'express';
import type { Identity } from '../domain/identity.js';

/**
 * Per-request state set by middleware, kept in `res.locals` under typed accessors so
 * no code reaches for ad-hoc properties.
 */
export interface RequestContext {
  /** Echoed as X-Request-Id and in every error body and log line of the request. */
  requestId?: string;
  /** Id of the API key that authenticated the request (never the key itself). */
  apiKeyId?: string;
  /** The matching API key, kept only for signature verification in this request. */
  apiKeySecret?: string;
  /** Raw request body bytes, kept for v2 signatures. */
  rawBody?: Buffer;
  /** The user a verified `Authorization: Bearer` token names. */
  identity?: Identity;
  /** The matched route's path, set by the exact dispatcher (Express sets req.route on its own path). */
  route?: string;
  /** Title used as `error` in failure bodies of routes with a seed-defined error shape. */
  failureTitle?: string;
}

export function contextOf(res: Response): RequestContext {
  const locals = res.locals as { ctx?: RequestContext };
  locals.ctx ??= {};
  return locals.ctx;
}

export function requestIdOf(res: Response): string {
  return contextOf(res).requestId ?? 'unknown';
}
