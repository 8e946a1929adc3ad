import type { RequestHandler } from 'express';
import type { OriginPolicy } from '../../domain/origin-policy.js';
import { AppError } from '../../errors.js';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Refuses state-changing requests (POST, PUT, PATCH, DELETE) that a browser sent from a
 * page whose origin is not allowed. CORS alone only withholds the answer from such a page;
 * the request itself would still run (a "simple" cross-site POST needs no preflight).
 * Requests without Origin (servers, curl, apps) pass: they are not a browser acting for a
 * visitor, and API keys or tokens guard them.
 */
export function refuseForeignOrigins(origins: OriginPolicy): RequestHandler {
  return (req, _res, next) => {
    const origin = req.headers.origin;
    if (origin === undefined || SAFE_METHODS.has(req.method) || origins.allows(origin, req.headers.host)) return next();
    next(new AppError('FORBIDDEN', `Origin ${origin} may not call this server (ALLOWED_ORIGINS)`));
  };
}
