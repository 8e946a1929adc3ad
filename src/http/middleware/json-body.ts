import type { Request, RequestHandler } from 'express';
import type { Transform } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { AppError } from '../../errors.js';
import { nestingExceeds } from '../../validation.js';
import { contextOf } from '../request-context.js';

const DECODERS: Record<string, () => Transform> = {
  gzip: createGunzip,
  'x-gzip': createGunzip,
  deflate: createInflate,
  br: createBrotliDecompress,
};

/** Whether the request announces a body (a Content-Length, even 0, or a chunked one). */
function announcesBody(req: Request): boolean {
  return req.headers['transfer-encoding'] !== undefined || req.headers['content-length'] !== undefined;
}

function charsetOf(req: Request): string | undefined {
  return /;\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(req.headers['content-type'] ?? '')?.[1]?.toLowerCase();
}

/**
 * Reads a JSON request body into `req.body` (and its bytes into the request context, for
 * v2 signatures). Written here rather than taken from body-parser because body-parser,
 * once it has refused a body (too large, bad gzip), reads the rest of it before answering:
 * a client could then hold the connection with a slow or endless body. This reader stops
 * at the first problem, pauses the request and lets the error handler answer and close.
 *
 * Every refusal is a 4xx with a catalog code: a declared or inflated size over `maxBytes`
 * is PAYLOAD_TOO_LARGE; a type other than JSON, a charset other than UTF-8 (RFC 8259
 * §8.1), an unknown Content-Encoding, a stream that does not inflate, JSON that does not
 * parse, and nesting deeper than `maxDepth` are INVALID_REQUEST. Nesting is bounded here,
 * at the boundary, because forwarded payloads are walked recursively later (Socket.IO's
 * encoder overflowed the stack on 10,000 levels).
 */
export function createJsonBodyReader(options: { maxBytes: number; maxDepth: number }): RequestHandler {
  const { maxBytes, maxDepth } = options;
  const tooLarge = () => new AppError('PAYLOAD_TOO_LARGE', `Request body is larger than ${maxBytes} bytes (MAX_BODY_BYTES)`);

  return (req, res, next) => {
    if (!announcesBody(req)) return next();
    if (!req.is('application/json')) throw new AppError('INVALID_REQUEST', 'Content-Type must be application/json');
    const charset = charsetOf(req);
    if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
      throw new AppError('INVALID_REQUEST', `JSON bodies must be UTF-8, not charset=${charset}`);
    }
    if (Number(req.headers['content-length']) > maxBytes) throw tooLarge();
    const encoding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
    const createDecoder = DECODERS[encoding];
    if (encoding !== 'identity' && createDecoder === undefined) {
      throw new AppError('INVALID_REQUEST', `Content-Encoding "${encoding}" is not supported (gzip, deflate, br or none)`);
    }

    const decoder = createDecoder?.();
    const source = decoder ?? req;
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;

    const settle = (error?: AppError) => {
      if (settled) return;
      settled = true;
      source.off('data', onData).off('end', onEnd).off('error', onSourceError);
      req.off('error', onRequestError);
      if (decoder !== undefined) {
        req.unpipe(decoder);
        // A destroyed zlib stream may still report the rest of its input as bad data;
        // the request is settled, and an unheard 'error' would crash the process.
        decoder.on('error', () => undefined);
        decoder.destroy();
      }
      if (error !== undefined) {
        // Read no further: the error handler answers with Connection: close instead.
        req.pause();
        next(error);
        return;
      }
      const bytes = Buffer.concat(chunks, size);
      contextOf(res).rawBody = bytes;
      try {
        req.body = parseJson(bytes, maxDepth);
        next();
      } catch (err) {
        next(err);
      }
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) settle(tooLarge());
      else chunks.push(chunk);
    };
    const onEnd = () => settle();
    const onSourceError = () =>
      settle(new AppError('INVALID_REQUEST', decoder === undefined ? 'Request body was cut off' : `Request body is not valid ${encoding} data`));
    const onRequestError = () => settle(new AppError('INVALID_REQUEST', 'Request body was cut off'));

    source.on('data', onData).on('end', onEnd).on('error', onSourceError);
    if (decoder !== undefined) {
      req.on('error', onRequestError);
      req.pipe(decoder);
    }
  };
}

function parseJson(bytes: Buffer, maxDepth: number): unknown {
  // An empty body counts as `{}`, as body-parser (and the clients relying on it) had it.
  if (bytes.length === 0) return {};
  let value: unknown;
  try {
    // A leading byte-order mark is tolerated, as most JSON readers do.
    value = JSON.parse(bytes.toString('utf8').replace(/^\uFEFF/, ''));
  } catch {
    throw new AppError('INVALID_REQUEST', 'Request body is not valid JSON');
  }
  if (nestingExceeds(value, maxDepth)) {
    throw new AppError('INVALID_REQUEST', `Request body nests deeper than ${maxDepth} levels (MAX_PAYLOAD_DEPTH)`);
  }
  return value;
}
