import type { Request, RequestHandler, Response } from 'express';
import type { z } from 'zod';
import type { HttpDependencies } from './dependencies.js';
import { parseRequest, type RequestSchemas } from './middleware/validate.js';

/**
 * Who may call a route. Each value implies one fixed chain of guards (see api-router.ts),
 * and one `security` entry in /openapi.json (see openapi.ts):
 * - `public`: anyone, no guard (probes, metrics, status, version).
 * - `apiKey`: a server holding an API key. While no key is configured (only outside
 *   production, which refuses to start without one) everyone may call.
 * - `apiKeyOrUser`: an API key, or a user's verified Bearer token; the route then acts as
 *   that user and scopes what it shows to them.
 * - `user`: a user's verified Bearer token, always.
 * - `dev`: as `apiKey`, for development conveniences that do not exist in production.
 * - `testHelper`: as `user`, for the development test helpers (`/socket/test/*`), which act
 *   on the caller's own user; mounted only while `config.testHelpers` is on (outside
 *   production, or ENABLE_TEST_ENDPOINTS=true), otherwise absent (404) and undocumented.
 */
export type Access = 'public' | 'apiKey' | 'apiKeyOrUser' | 'user' | 'dev' | 'testHelper';

/** Accesses whose callers may hold an API key, the HMAC secret of request signatures: those routes check signatures. */
export const SIGNED_ACCESS: ReadonlySet<Access> = new Set(['apiKey', 'apiKeyOrUser', 'dev']);

export type Method = 'get' | 'post' | 'delete';

/** One documented answer of a route. */
export interface ResponseSpec {
  description: string;
  /** The JSON body's schema; a failure (4xx, 5xx) without one has the common error body. */
  schema?: z.ZodType;
  /** The media type of an answer that is not JSON (a text body). */
  contentType?: string;
}

type ObjectSchema = z.ZodObject;
type Parsed<S> = S extends z.ZodType ? z.output<S> : undefined;

/** What a handler receives: the request's parts, already validated by the route's schemas. */
export interface RouteInput<Body, Params, Query> {
  body: Body;
  params: Params;
  query: Query;
}

export type RouteHandler<Body, Params, Query> = (
  input: RouteInput<Body, Params, Query>,
  req: Request,
  res: Response,
) => Promise<void> | void;

interface RouteSpec<B extends z.ZodType | undefined, P extends ObjectSchema | undefined, Q extends ObjectSchema | undefined> {
  method: Method;
  /** An Express path (`/api/sessions/:sessionId`), matched case-sensitively and strictly. */
  path: string;
  access: Access;
  summary: string;
  description?: string;
  /** Seed 000's `/notify` failure shape: every failure answers `error: <title>`, the detail in `message`. */
  failureTitle?: string;
  /** The JSON body; a route without one never reads the request body. */
  body?: B;
  params?: P;
  query?: Q;
  /** Answers by status. Guard and validation failures (401, 400, 413, 429...) are added from `access` and the schemas. */
  responses: Record<number, ResponseSpec>;
  /**
   * Builds the handler from the app's dependencies, once. Returning undefined means the
   * route does not exist in this configuration (the development token route in production).
   */
  handler: (deps: HttpDependencies) => RouteHandler<Parsed<B>, Parsed<P>, Parsed<Q>> | undefined;
}

/** One route as the router and the OpenAPI document both read it. */
export interface RouteDefinition {
  readonly method: Method;
  readonly path: string;
  readonly access: Access;
  readonly summary: string;
  readonly description: string | undefined;
  readonly failureTitle: string | undefined;
  readonly request: RequestSchemas;
  readonly responses: Readonly<Record<number, ResponseSpec>>;
  /** The final handler (validation, then the route's own code), or undefined when the route is absent. */
  createHandler(deps: HttpDependencies): RequestHandler | undefined;
}

/**
 * Declares a route once: method, path, who may call it, its request and response schemas,
 * its documentation and its handler. The router and /openapi.json are both generated from
 * these declarations, so they cannot disagree.
 */
export function defineRoute<
  B extends z.ZodType | undefined = undefined,
  P extends ObjectSchema | undefined = undefined,
  Q extends ObjectSchema | undefined = undefined,
>(spec: RouteSpec<B, P, Q>): RouteDefinition {
  const request: RequestSchemas = { body: spec.body, params: spec.params, query: spec.query };
  return {
    method: spec.method,
    path: spec.path,
    access: spec.access,
    summary: spec.summary,
    description: spec.description,
    failureTitle: spec.failureTitle,
    request,
    responses: spec.responses,
    createHandler(deps) {
      const handle = spec.handler(deps);
      if (handle === undefined) return undefined;
      return async (req, res) => {
        // Parsed with the very schemas the handler's input types come from.
        const input = parseRequest(request, req) as RouteInput<Parsed<B>, Parsed<P>, Parsed<Q>>;
        await handle(input, req, res);
      };
    },
  };
}
