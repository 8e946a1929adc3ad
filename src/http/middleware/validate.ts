import type { Request, RequestHandler, Response } from 'express';
import type { z } from 'zod';
import { AppError } from '../../errors.js';
import { parseOrThrow } from '../../validation.js';

/**
 * The one HTTP validation boundary: parses the JSON body with a contract schema and
 * hands the handler a typed value. Handlers never look at `req.body` themselves.
 */
export function withBody<S extends z.ZodType>(
  schema: S,
  handler: (body: z.output<S>, req: Request, res: Response) => Promise<void> | void,
): RequestHandler {
  return async (req, res) => {
    if (!req.is('application/json')) {
      throw new AppError('INVALID_REQUEST', 'Content-Type must be application/json');
    }
    await handler(parseOrThrow(schema, req.body, 'Request body'), req, res);
  };
}
