import type { ErrorRequestHandler, Request, RequestHandler } from 'express';
import type { ErrorCode, HttpErrorBody } from '../../contracts/error-codes.js';
import { AppError, toAppError } from '../../errors.js';
import type { Logger } from '../../observability/logger.js';
import { contextOf, requestIdOf } from '../request-context.js';

/** Client errors Express's own modules raise (http-errors style), by status. */
const CLIENT_ERROR_CODES: Record<number, ErrorCode> = {
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  413: 'PAYLOAD_TOO_LARGE',
  429: 'RATE_LIMITED',
};

function classify(err: unknown): AppError {
  if (err instanceof AppError) return err;
  // The router decodes path parameters; `%FF` or an overlong `%C0%AE` cannot be decoded.
  if (err instanceof URIError) return new AppError('INVALID_REQUEST', 'A path parameter is not valid percent-encoding (UTF-8)');
  // http-errors marks client errors `expose`; anything else stays an internal error.
  const { status, expose } = (err ?? {}) as { status?: unknown; expose?: unknown };
  if (expose === true && typeof status === 'number' && status >= 400 && status < 500) {
    return new AppError(CLIENT_ERROR_CODES[status] ?? 'INVALID_REQUEST', (err as Error).message);
  }
  return toAppError(err);
}

/** Whether body bytes the request announced have not all been received yet. */
function bodyStillArriving(req: Request): boolean {
  if (req.complete) return false;
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
}

/**
 * The one place errors become HTTP responses: `{ success: false, error, code, requestId }`
 * plus `message` and `retryAfter` where they apply. Routes with a seed-defined failure
 * title (POST /notify) answer `error: <title>` and the detail in `message`. Unknown
 * errors are logged with the request id and answered without their message. A request
 * refused before its body arrived is answered with `Connection: close`.
 */
export function createErrorHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, next) => {
    if (res.headersSent) return next(err);
    const appError = classify(err);
    const requestId = requestIdOf(res);
    if (appError.code === 'INTERNAL_SERVER_ERROR') {
      logger.error({ err: appError.cause ?? err, requestId }, 'unhandled error');
    }
    const { failureTitle } = contextOf(res);
    const body: HttpErrorBody = {
      success: false,
      error: failureTitle ?? appError.message,
      code: appError.code,
      requestId,
    };
    if (failureTitle !== undefined) body.message = appError.message;
    if (appError.retryAfter !== undefined) {
      body.retryAfter = appError.retryAfter;
      res.setHeader('Retry-After', String(appError.retryAfter));
    }
    const answer = () => res.status(appError.status).json(body);
    if (!bodyStillArriving(req)) return answer();
    // Node parses the rest of what it has already received only after this turn (guards
    // run between its parser callbacks), so look again on the next one. A body still
    // missing then is one nothing will read: answer with Connection: close, and Node closes
    // the connection once the answer is written, instead of draining a slow or endless
    // body to keep the connection alive.
    setImmediate(() => {
      if (res.headersSent) return;
      if (bodyStillArriving(req)) res.setHeader('Connection', 'close');
      answer();
    });
  };
}

/** The error of a request no route answers. */
export const noRoute = (req: Request) => new AppError('NOT_FOUND', `No route for ${req.method} ${req.path}`);

export const notFound: RequestHandler = (req) => {
  throw noRoute(req);
};
