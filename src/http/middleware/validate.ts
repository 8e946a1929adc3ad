import type { Request } from 'express';
import type { z } from 'zod';
import { AppError } from '../../errors.js';
import { parseOrThrow } from '../../validation.js';

/** The request schemas a route declares; each part it does not declare is left undefined. */
export interface RequestSchemas {
  readonly body?: z.ZodType;
  readonly params?: z.ZodObject;
  readonly query?: z.ZodObject;
}

/**
 * The one HTTP validation boundary: parses a request's path parameters, query and JSON
 * body with the route's contract schemas, throwing INVALID_REQUEST that names each bad
 * field. Handlers receive the parsed values and never look at `req` for input themselves.
 */
export function parseRequest(schemas: RequestSchemas, req: Request): { body: unknown; params: unknown; query: unknown } {
  const { body, params, query } = schemas;
  return {
    params: params === undefined ? undefined : parseOrThrow(params, req.params, 'Path'),
    query: query === undefined ? undefined : parseOrThrow(query, req.query, 'Query'),
    body: body === undefined ? undefined : parseOrThrow(body, jsonBodyOf(req), 'Request body'),
  };
}

function jsonBodyOf(req: Request): unknown {
  // The JSON body reader leaves `body` unset when the request carried none.
  const body: unknown = req.body;
  if (body === undefined) throw new AppError('INVALID_REQUEST', 'A JSON body is required (Content-Type: application/json)');
  return body;
}
