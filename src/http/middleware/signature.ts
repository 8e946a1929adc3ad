import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import type { NonceStore } from '../../domain/nonce-store.js';
import { AppError } from '../../errors.js';
import { contextOf } from '../request-context.js';

/** How far a request timestamp may be from the server clock, either way. */
export const SIGNATURE_WINDOW_MS = 300_000;

export type SignatureVersion = 'v1' | 'v2';

/**
 * The string each signature version signs.
 * - v1 (seed 002): METHOD + PATH + TIMESTAMP + NONCE, concatenated. It does not cover
 *   the body, so anyone on the path can change it; kept for existing clients. With no
 *   separators, one string can be cut into parts in more than one way: see
 *   `createSignatureCheck` for what keeps that from being replayed.
 * - v2: METHOD \n PATH \n TIMESTAMP \n NONCE \n hex(SHA-256(raw body)).
 * PATH is the request target as sent: path plus query string, if any.
 */
export function signingString(
  version: SignatureVersion,
  parts: { method: string; path: string; timestamp: string; nonce: string; body: Buffer },
): string {
  if (version === 'v1') return `${parts.method}${parts.path}${parts.timestamp}${parts.nonce}`;
  const bodyHash = createHash('sha256').update(parts.body).digest('hex');
  return [parts.method, parts.path, parts.timestamp, parts.nonce, bodyHash].join('\n');
}

export function computeSignature(
  apiKey: string,
  version: SignatureVersion,
  parts: { method: string; path: string; timestamp: string; nonce: string; body?: Buffer },
): string {
  return createHmac('sha256', apiKey)
    .update(signingString(version, { ...parts, body: parts.body ?? Buffer.alloc(0) }))
    .digest('hex');
}

const SIGNATURE_HEADERS = ['x-signature', 'x-request-timestamp', 'x-request-nonce', 'x-signature-version'];
const NONCE_PATTERN = /^[A-Za-z0-9_.:-]{8,128}$/;
/** Milliseconds since the epoch in their one canonical form: 13 digits, no leading zero. */
const TIMESTAMP_PATTERN = /^[1-9][0-9]{12}$/;
const HEX_SHA256 = /^[0-9a-fA-F]{64}$/;

const invalid = (message: string) => new AppError('INVALID_SIGNATURE', message);

function isSigned(req: Request): boolean {
  return SIGNATURE_HEADERS.some((header) => req.get(header) !== undefined);
}

/**
 * Verifies signed requests. A signature is checked whenever any signature header is
 * sent, and required when `required` is true (of API-key callers; a user's Bearer token
 * is its own proof). Runs after the API key is identified
 * (the key is the HMAC secret) and after the body is read (v2 covers it).
 *
 * v1 concatenates its parts, so a signature over `GET/api/x?limit=10` + T + N also
 * covers `GET/api/x?limit=1` + `0T` + N. Two rules close that: the timestamp must be
 * canonical (13 digits, no leading zero), which fixes its width; and a v1 request is
 * remembered by its signature rather than its nonce, because every way of cutting one
 * signed string has the same signature, while moving digits between the path, the
 * timestamp and the nonce makes a "new" nonce. What remains is in docs/reliability.md.
 */
export function createSignatureCheck(options: {
  required: boolean;
  nonces: NonceStore;
  now?: () => number;
}): RequestHandler {
  const now = options.now ?? Date.now;

  return async (req, res, next) => {
    const ctx = contextOf(res);
    if (!isSigned(req)) {
      // Users calling with their own Bearer token hold no API key to sign with.
      if (options.required && ctx.identity === undefined) throw invalid('Signed request required (X-Signature headers)');
      return next();
    }
    const version = req.get('x-signature-version') ?? 'v1';
    const signature = req.get('x-signature') ?? '';
    const timestamp = req.get('x-request-timestamp') ?? '';
    const nonce = req.get('x-request-nonce') ?? '';

    if (version !== 'v1' && version !== 'v2') throw invalid('X-Signature-Version must be v1 or v2');
    if (ctx.apiKeySecret === undefined) throw invalid('Signed requests need a valid X-API-Key (the signing key)');
    if (!HEX_SHA256.test(signature)) throw invalid('X-Signature must be 64 hex characters (HMAC-SHA256)');
    if (!TIMESTAMP_PATTERN.test(timestamp)) {
      throw invalid('X-Request-Timestamp must be milliseconds since the epoch: 13 digits, no leading zero');
    }
    if (Math.abs(now() - Number(timestamp)) > SIGNATURE_WINDOW_MS) {
      throw invalid('X-Request-Timestamp is more than 300 seconds from server time');
    }
    if (!NONCE_PATTERN.test(nonce)) throw invalid('X-Request-Nonce must be 8-128 characters of letters, digits and _.:-');

    const expected = Buffer.from(
      computeSignature(ctx.apiKeySecret, version, {
        method: req.method,
        path: req.originalUrl,
        timestamp,
        nonce,
        body: ctx.rawBody ?? Buffer.alloc(0),
      }),
      'hex',
    );
    if (!timingSafeEqual(expected, Buffer.from(signature, 'hex'))) throw invalid('Signature does not match');

    // Only a verified request may spend a nonce; otherwise forged requests could burn them.
    const replayKey = version === 'v1' ? `${ctx.apiKeyId}:v1:${signature.toLowerCase()}` : `${ctx.apiKeyId}:${nonce}`;
    const seen = await options.nonces.remember(replayKey, SIGNATURE_WINDOW_MS * 2);
    if (seen === 'seen') {
      throw invalid(version === 'v1' ? 'This v1 signature was already used (a replay)' : 'X-Request-Nonce was already used');
    }
    if (seen === 'full') throw new AppError('SERVICE_UNAVAILABLE', 'Too many signed requests in flight; retry shortly');
    next();
  };
}
