import type { Request, RequestHandler, Response } from 'express';
import helmet, { type HelmetOptions } from 'helmet';

/**
 * Helmet's security headers, worked out once. For a configuration without per-request
 * directives (none here: no CSP nonces), helmet's twelve middlewares set the same headers
 * on every response; this runs them once at start-up against a recorder and then writes
 * the recorded headers per response, without the twelve calls (2 % of a push's CPU in
 * bench/). test/unit/security-headers.test.ts compares the result with helmet's own.
 */
export function securityHeaders(options: Readonly<HelmetOptions>): RequestHandler {
  if (hasPerRequestDirective(options)) throw new Error('a Content-Security-Policy directive computed per request cannot be worked out once');
  const set: [string, string | number | readonly string[]][] = [];
  const removed: string[] = [];
  const recorder = {
    setHeader(name: string, value: string | number | readonly string[]) {
      set.push([name, value]);
      return recorder;
    },
    removeHeader(name: string) {
      removed.push(name);
    },
  };
  let finished = false;
  helmet(options)({} as Request, recorder as unknown as Response, (err?: unknown) => {
    if (err !== undefined) throw err instanceof Error ? err : new Error(String(err));
    finished = true;
  });
  if (!finished) throw new Error('helmet did not set its headers synchronously; they cannot be computed once');

  return (_req, res, next) => {
    for (const [name, value] of set) res.setHeader(name, value);
    for (const name of removed) res.removeHeader(name);
    next();
  };
}

/** True when a CSP directive is a function of the request (a nonce, say). */
function hasPerRequestDirective(options: Readonly<HelmetOptions>): boolean {
  const csp = options.contentSecurityPolicy;
  if (typeof csp !== 'object' || csp === null) return false;
  return Object.values(csp.directives ?? {}).some((value: unknown) =>
    typeof value === 'function' || (Array.isArray(value) && value.some((part: unknown) => typeof part === 'function')),
  );
}
