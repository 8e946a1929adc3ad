import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { HttpErrorBody } from '../../contracts/error-codes.js';
import { AppError, toAppError } from '../../errors.js';
import type { Logger } from '../../observability/logger.js';
import { contextOf, requestIdOf } from '../request-context.js';

/** Errors body-parser raises, by its `type`, mapped to catalog codes. */
const BODY_PARSER_ERRORS: Record<string, () => AppError> = {
  'entity.too.large': () => new AppError('PAYLOAD_TOO_LARGE', 'Request body is larger than MAX_BODY_BYTES'),
  'entity.parse.failed': () => new AppError('INVALID_REQUEST', 'Request body is not valid JSON'),
  'encoding.unsupported': () => new AppError('INVALID_REQUEST', 'Unsupported content encoding'),
  'charset.unsupported': () => new AppError('INVALID_REQUEST', 'Unsupported charset'),
  'request.aborted': () => new AppError('INVALID_REQUEST', 'Request aborted'),
};

function classify(err: unknown): AppError {
  if (err instanceof AppError) return err;
  const type = (err as { type?: unknown } | null)?.type;
  if (typeof type === 'string' && type in BODY_PARSER_ERRORS) return BODY_PARSER_ERRORS[type]!();
  return toAppError(err);
}

/**
 * The one place errors become HTTP responses: `{ success: false, error, code, requestId }`
 * plus `message` and `retryAfter` where they apply. Routes with a seed-defined failure
 * title (POST /notify) answer `error: <title>` and the detail in `message`. Unknown
 * errors are logged with the request id and answered without their message.
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
    if (appError.retryAfter !== undefined) body.retryAfter = appError.retryAfter;
    res.status(appError.status).json(body);
  };
}

export const notFound: RequestHandler = (req) => {
  throw new AppError('NOT_FOUND', `No route for ${req.method} ${req.path}`);
};
