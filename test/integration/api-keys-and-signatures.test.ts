import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryNonceStore } from '../../src/storage/memory/memory-nonce-store.js';
import { signedHeaders } from '../support/signing.js';
import { signToken } from '../support/tokens.js';
import { startServer, type TestServer } from '../support/server.js';

const KEY = 'test-key-0123456789abcdef';
const OTHER_KEY = 'other-key-0123456789abcdef';

describe('API keys', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startServer({ API_KEYS: `${KEY}, ${OTHER_KEY}` });
  });
  afterAll(() => t.close());

  it('refuses a request without a key (401 UNAUTHORIZED)', async () => {
    const res = await request(t.url).post('/api/broadcast').send({ event: 'x' }).expect(401);
    expect(res.body).toMatchObject({ success: false, code: 'UNAUTHORIZED' });
  });

  it('refuses a wrong key (401 INVALID_API_KEY)', async () => {
    const res = await request(t.url).post('/api/broadcast').set('X-API-Key', 'nope').send({ event: 'x' }).expect(401);
    expect(res.body).toMatchObject({ success: false, error: 'Invalid API key', code: 'INVALID_API_KEY' });
  });

  it('accepts every configured key', async () => {
    await request(t.url).post('/api/broadcast').set('X-API-Key', KEY).send({ event: 'x' }).expect(200);
    await request(t.url).post('/api/broadcast').set('X-API-Key', OTHER_KEY).send({ event: 'x' }).expect(200);
    await request(t.url).get('/api/status').set('X-API-Key', KEY).expect(200);
  });

  it('protects /notify with the seed failure shape', async () => {
    const res = await request(t.url).post('/notify').send({ title: 'x' }).expect(401);
    expect(res.body).toMatchObject({ error: 'Failed to send notification', code: 'UNAUTHORIZED' });
    expect(res.body.message).toMatch(/API key/);
  });

  it('does not let a user Bearer token stand in for the API key on server-to-server endpoints', async () => {
    const userToken = signToken({ userId: 'alice' }, { secret: t.config.jwt.secret });
    const push = await request(t.url).post('/api/push').set('Authorization', `Bearer ${userToken}`).send({ userId: 'bob' }).expect(401);
    expect(push.body.code).toBe('UNAUTHORIZED');
    await request(t.url).get('/api/users/bob/presence').set('Authorization', `Bearer ${userToken}`).expect(401);
    await request(t.url).get('/api/status').set('Authorization', `Bearer ${userToken}`).expect(401);
    const bad = await request(t.url).get('/api/status').set('Authorization', 'Bearer not-a-token').expect(401);
    expect(bad.body.code).toBe('UNAUTHORIZED');
  });

  it.each(['/health', '/ready', '/metrics', '/api/version', '/docs', '/openapi.json'])('leaves %s open', async (path) => {
    await request(t.url).get(path).expect(200);
  });
});

describe('signed requests', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startServer({ API_KEYS: KEY });
  });
  afterAll(() => t.close());

  const body = JSON.stringify({ event: 'signed', data: { n: 1 } });
  const post = (headers: Record<string, string>, payload = body) =>
    request(t.url).post('/api/broadcast').set('Content-Type', 'application/json').set(headers).send(payload);

  it('accepts a v1 signature computed exactly as seed 002 says', async () => {
    await post(signedHeaders(KEY, 'v1', { method: 'POST', path: '/api/broadcast' })).expect(200);
  });

  it('accepts a v2 signature that covers the body', async () => {
    await post(signedHeaders(KEY, 'v2', { method: 'POST', path: '/api/broadcast', body })).expect(200);
  });

  it('accepts a signed GET (v1 and v2, empty body)', async () => {
    await request(t.url).get('/api/status').set(signedHeaders(KEY, 'v1', { method: 'GET', path: '/api/status' })).expect(200);
    await request(t.url).get('/api/status').set(signedHeaders(KEY, 'v2', { method: 'GET', path: '/api/status' })).expect(200);
  });

  it('refuses a v2 request whose body was altered after signing', async () => {
    const headers = signedHeaders(KEY, 'v2', { method: 'POST', path: '/api/broadcast', body });
    const res = await post(headers, JSON.stringify({ event: 'signed', data: { n: 2 } })).expect(401);
    expect(res.body).toMatchObject({ code: 'INVALID_SIGNATURE', error: 'Signature does not match' });
  });

  it('v1 does not cover the body (why v2 exists)', async () => {
    const headers = signedHeaders(KEY, 'v1', { method: 'POST', path: '/api/broadcast' });
    await post(headers, JSON.stringify({ event: 'tampered' })).expect(200);
  });

  it('refuses a stale timestamp (more than 300 s old) and one from the future', async () => {
    for (const timestamp of [Date.now() - 301_000, Date.now() + 301_000]) {
      const res = await post(signedHeaders(KEY, 'v2', { method: 'POST', path: '/api/broadcast', body }, { timestamp })).expect(401);
      expect(res.body.code).toBe('INVALID_SIGNATURE');
      expect(res.body.error).toMatch(/300 seconds/);
    }
  });

  it('refuses a reused nonce', async () => {
    const headers = signedHeaders(KEY, 'v2', { method: 'POST', path: '/api/broadcast', body }, { nonce: 'nonce-reuse-1' });
    await post(headers).expect(200);
    const res = await post(headers).expect(401);
    expect(res.body).toMatchObject({ code: 'INVALID_SIGNATURE', error: 'X-Request-Nonce was already used' });
  });

  it.each([
    ['too short', 'ab'.repeat(31)],
    ['too long', 'ab'.repeat(33)],
    ['not hex', 'zz'.repeat(32)],
    ['empty', ''],
  ])('refuses a signature that is %s with 401, never 500', async (_what, signature) => {
    const headers = { ...signedHeaders(KEY, 'v2', { method: 'POST', path: '/api/broadcast', body }), 'X-Signature': signature };
    const res = await post(headers).expect(401);
    expect(res.body.code).toBe('INVALID_SIGNATURE');
  });

  it('refuses a signature made with another key, a wrong path or an unknown version', async () => {
    await post(signedHeaders('some-other-key-xxxxxxxx', 'v2', { method: 'POST', path: '/api/broadcast', body })).expect(401);
    await post(signedHeaders(KEY, 'v2', { method: 'POST', path: '/api/room', body })).expect(401);
    const headers = { ...signedHeaders(KEY, 'v2', { method: 'POST', path: '/api/broadcast', body }), 'X-Signature-Version': 'v3' };
    expect((await post(headers).expect(401)).body.code).toBe('INVALID_SIGNATURE');
  });

  it('refuses malformed timestamps and nonces', async () => {
    const base = signedHeaders(KEY, 'v2', { method: 'POST', path: '/api/broadcast', body });
    await post({ ...base, 'X-Request-Timestamp': 'yesterday' }).expect(401);
    await post({ ...base, 'X-Request-Nonce': 'short' }).expect(401);
  });
});

describe('REQUIRE_SIGNED_REQUESTS=true', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startServer({ API_KEYS: KEY, REQUIRE_SIGNED_REQUESTS: 'true' }, { nonces: createMemoryNonceStore({ maxEntries: 2 }) });
  });
  afterAll(() => t.close());

  it('refuses an unsigned request even with a valid key', async () => {
    const res = await request(t.url).post('/api/broadcast').set('X-API-Key', KEY).send({ event: 'x' }).expect(401);
    expect(res.body.code).toBe('INVALID_SIGNATURE');
  });

  it('answers 503 SERVICE_UNAVAILABLE rather than forget nonces when the nonce store is full', async () => {
    const sign = () => signedHeaders(KEY, 'v1', { method: 'GET', path: '/api/status' });
    await request(t.url).get('/api/status').set(sign()).expect(200);
    await request(t.url).get('/api/status').set(sign()).expect(200);
    const res = await request(t.url).get('/api/status').set(sign()).expect(503);
    expect(res.body).toMatchObject({ success: false, code: 'SERVICE_UNAVAILABLE' });
  });
});
