import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { AppError } from '../../errors.js';
import { contextOf } from '../request-context.js';

const digest = (value: string) => createHash('sha256').update(value).digest();

/**
 * API keys (`X-API-Key`). `identifyApiKey` records which key matched, without refusing,
 * so the rate limiter can count by key (or by IP for everyone else); the `require*`
 * guards refuse callers who are not allowed. Keys are compared as SHA-256 digests with
 * timingSafeEqual against every configured key, so neither the key nor its position
 * in the list leaks through timing.
 */
export function createApiKeyAuth(apiKeys: readonly string[]) {
  const keys = apiKeys.map((key) => ({ key, hash: digest(key), id: digest(key).toString('hex').slice(0, 12) }));

  const identifyApiKey: RequestHandler = (req, res, next) => {
    const presented = req.get('x-api-key');
    if (presented !== undefined && keys.length > 0) {
      const hash = digest(presented);
      let match: (typeof keys)[number] | undefined;
      for (const candidate of keys) {
        if (timingSafeEqual(hash, candidate.hash) && match === undefined) match = candidate;
      }
      if (match) {
        const ctx = contextOf(res);
        ctx.apiKeyId = match.id;
        ctx.apiKeySecret = match.key;
      }
    }
    next();
  };

  /** Server-to-server endpoints: an API key (when keys are configured). */
  const requireApiKey: RequestHandler = (req, res, next) => {
    if (keys.length === 0 || contextOf(res).apiKeyId !== undefined) return next();
    if (req.get('x-api-key') === undefined) throw new AppError('UNAUTHORIZED', 'API key required (X-API-Key header)');
    throw new AppError('INVALID_API_KEY', 'Invalid API key');
  };

  /** Endpoints users may call too: an API key, or a verified user Bearer token. */
  const requireApiKeyOrUser: RequestHandler = (req, res, next) => {
    if (contextOf(res).identity !== undefined) return next();
    requireApiKey(req, res, next);
  };

  return { identifyApiKey, requireApiKey, requireApiKeyOrUser };
}
