import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startServer, type TestServer } from '../support/server.js';

describe('rate limits (429)', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startServer({ API_KEYS: 'key-a-0123456789abcdef,key-b-0123456789abcdef', RATE_LIMIT_HTTP_PER_MINUTE: '3' });
  });
  afterAll(() => t.close());

  it('answers the 4th request in a minute with 429, Retry-After and RateLimit headers', async () => {
    for (let i = 0; i < 3; i++) {
      const ok = await request(t.url).get('/api/status').set('X-API-Key', 'key-a-0123456789abcdef').expect(200);
      expect(ok.headers['ratelimit-limit']).toBe('3');
      expect(ok.headers['ratelimit-remaining']).toBe(String(2 - i));
    }
    const res = await request(t.url).get('/api/status').set('X-API-Key', 'key-a-0123456789abcdef').expect(429);
    expect(res.body).toMatchObject({ success: false, error: 'Rate limit exceeded', code: 'RATE_LIMITED' });
    expect(res.body.retryAfter).toBeGreaterThan(0);
    expect(res.body.retryAfter).toBeLessThanOrEqual(60);
    expect(res.headers['retry-after']).toBe(String(res.body.retryAfter));
    expect(res.headers['ratelimit-remaining']).toBe('0');
  });

  it('counts each API key separately', async () => {
    await request(t.url).get('/api/status').set('X-API-Key', 'key-b-0123456789abcdef').expect(200);
  });

  it('counts callers without a valid key by IP, so bad keys are limited too', async () => {
    const codes: number[] = [];
    for (let i = 0; i < 4; i++) codes.push((await request(t.url).get('/api/status').set('X-API-Key', 'wrong')).status);
    expect(codes).toEqual([401, 401, 401, 429]);
  });

  it('counts refusals in /metrics', async () => {
    const metrics = await request(t.url).get('/metrics').expect(200);
    expect(metrics.text).toMatch(/socket_server_rate_limited_total\{scope="http"\} [1-9]/);
  });
});

describe('body size, unknown routes, headers, CORS, errors', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startServer({ MAX_BODY_BYTES: '2048', ALLOWED_ORIGINS: 'https://app.example.com' });
  });
  afterAll(() => t.close());

  it('answers a body over MAX_BODY_BYTES with 413 PAYLOAD_TOO_LARGE', async () => {
    const res = await request(t.url).post('/api/broadcast').send({ event: 'x', data: 'y'.repeat(4096) }).expect(413);
    expect(res.body).toMatchObject({ success: false, code: 'PAYLOAD_TOO_LARGE' });
  });

  it('answers unknown routes with 404 NOT_FOUND in the common shape', async () => {
    const res = await request(t.url).get('/api/nothing-here').expect(404);
    expect(res.body).toMatchObject({ success: false, code: 'NOT_FOUND' });
    expect(res.body.requestId).toBe(res.headers['x-request-id']);
    expect((await request(t.url).delete('/notify').expect(404)).body.code).toBe('NOT_FOUND');
  });

  it('echoes a well-formed X-Request-Id and replaces a malformed one', async () => {
    const res = await request(t.url).get('/health').set('X-Request-Id', 'trace-123').expect(200);
    expect(res.headers['x-request-id']).toBe('trace-123');
    const bad = await request(t.url).get('/health').set('X-Request-Id', 'bad id with spaces').expect(200);
    expect(bad.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('sets helmet security headers and a CSP without inline scripts', async () => {
    const res = await request(t.url).get('/health').expect(200);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['content-security-policy']).toContain("script-src 'self'");
    expect(res.headers['x-powered-by']).toBeUndefined();
  });

  it('allows CORS for a listed origin, with credentials', async () => {
    const res = await request(t.url)
      .options('/api/broadcast')
      .set('Origin', 'https://app.example.com')
      .set('Access-Control-Request-Method', 'POST')
      .set('Access-Control-Request-Headers', 'content-type,x-api-key');
    expect(res.status).toBe(204);
    expect(res.headers['access-control-allow-origin']).toBe('https://app.example.com');
    expect(res.headers['access-control-allow-credentials']).toBe('true');
  });

  it('gives an unknown origin no CORS headers (never a wildcard)', async () => {
    const res = await request(t.url).get('/health').set('Origin', 'https://evil.example.net');
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
    const preflight = await request(t.url)
      .options('/api/broadcast')
      .set('Origin', 'https://evil.example.net')
      .set('Access-Control-Request-Method', 'POST');
    expect(preflight.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('answers an unexpected failure with 500 INTERNAL_SERVER_ERROR without leaking its message', async () => {
    const spy = vi.spyOn(t.server.gateway, 'broadcast').mockRejectedValueOnce(new Error('secret database password'));
    try {
      const res = await request(t.url).post('/api/broadcast').send({ event: 'x' }).expect(500);
      expect(res.body).toMatchObject({ success: false, code: 'INTERNAL_SERVER_ERROR', error: 'Internal server error' });
      expect(JSON.stringify(res.body)).not.toContain('secret');
      const notify = await request(t.url).post('/notify').send({ a: 1 });
      expect(notify.status).toBe(200);
    } finally {
      spy.mockRestore();
    }
  });
});
