import express, { type RequestHandler } from 'express';
import helmet, { type HelmetOptions } from 'helmet';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { securityHeaders } from '../../src/http/middleware/security-headers.js';

/** The headers a response gets through `middleware`, without the ones every answer varies in. */
async function headersThrough(middleware: RequestHandler): Promise<Record<string, unknown>> {
  const app = express();
  app.use(middleware);
  app.get('/', (_req, res) => {
    res.json({ ok: true });
  });
  const { headers } = await request(app).get('/').expect(200);
  const { date: _date, etag: _etag, ...rest } = headers;
  return rest;
}

describe('security headers worked out once', () => {
  const configurations: [string, HelmetOptions][] = [
    ['production (helmet defaults)', {}],
    ['development (no HSTS, no upgrade to https)', { strictTransportSecurity: false, contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } } }],
  ];

  it.each(configurations)('are exactly the headers helmet itself sets: %s', async (_name, options) => {
    const ours = await headersThrough(securityHeaders(options));
    expect(ours).toEqual(await headersThrough(helmet(options)));
    expect(ours['x-powered-by']).toBeUndefined();
    expect(ours['content-security-policy']).toContain("script-src 'self'");
  });

  it('refuses, at start-up, a configuration whose headers depend on the request', () => {
    const perRequest: HelmetOptions = { contentSecurityPolicy: { directives: { scriptSrc: ["'self'", (req) => `'nonce-${String((req as { nonce?: string }).nonce)}'`] } } };
    expect(() => securityHeaders(perRequest)).toThrow();
  });
});
