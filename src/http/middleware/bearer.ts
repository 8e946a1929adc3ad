import type { Request, RequestHandler } from 'express';
import type { TokenVerifier } from '../../domain/identity.js';
import { AppError } from '../../errors.js';
import { contextOf } from '../request-context.js';

function bearerToken(req: Request): string | undefined {
  const header = req.get('authorization');
  if (header === undefined) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match) throw new AppError('UNAUTHORIZED', 'Authorization header must be "Bearer <token>"');
  return match[1];
}

/**
 * Reads a user's `Authorization: Bearer <jwt>` when present, verifies it, and records the
 * identity for the route. A bad token is refused (never ignored); no token passes.
 */
export function createBearerIdentity(verifier: TokenVerifier): RequestHandler {
  return (req, res, next) => {
    const token = bearerToken(req);
    if (token !== undefined) contextOf(res).identity = verifier.verify(token);
    next();
  };
}

/** Refuses a request that carried no user token. */
export const requireBearer: RequestHandler = (_req, res, next) => {
  if (contextOf(res).identity === undefined) throw new AppError('UNAUTHORIZED', 'A user token is required (Authorization: Bearer)');
  next();
};
