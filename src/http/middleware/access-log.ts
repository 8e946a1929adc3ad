import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { Logger } from '../../observability/logger.js';
import type { Metrics } from '../../observability/metrics.js';
import { redactUrl } from '../../observability/redact-url.js';
import { contextOf } from '../request-context.js';

const REQUEST_ID = /^[A-Za-z0-9_.:-]{1,128}$/;
const QUIET_PATHS = new Set(['/health', '/ready', '/metrics']);

/**
 * Request id, one access-log line and the duration metric, from one `finish` listener.
 * Written by hand rather than with pino-http: pino-http builds a child logger and
 * serializers for every request, which measured at about 170 µs of a 1.3 ms request in
 * bench/ (see bench/RESULTS.md); this costs a few microseconds. The line carries no
 * headers and no body, and its URL has credential-looking query values redacted, so no
 * credential can reach the log.
 */
export function createAccessLog(logger: Logger, metrics: Metrics): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    const incoming = req.headers['x-request-id'];
    const requestId = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    contextOf(res).requestId = requestId;
    res.setHeader('X-Request-Id', requestId);

    res.once('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const route = contextOf(res).route ?? (req.route?.path ? `${req.baseUrl}${String(req.route.path)}` : 'unmatched');
      metrics.markHttpRequest({ method: req.method, route, status: res.statusCode }, seconds);
      if (QUIET_PATHS.has(req.path)) return;
      const fields = { reqId: requestId, method: req.method, url: redactUrl(req.originalUrl), status: res.statusCode, ms: Math.round(seconds * 1e4) / 10 };
      // Client mistakes are routine (info); only server faults are errors.
      if (res.statusCode >= 500) logger.error(fields, 'request failed');
      else logger.info(fields, 'request completed');
    });
    next();
  };
}
