import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signedHeaders } from '../support/signing.js';
import { startServer, type TestServer } from '../support/server.js';

/**
 * Item 8 of issue 10: v1 signs METHOD + PATH + TIMESTAMP + NONCE with nothing between the
 * parts, so one signature covers every other way of cutting the same string. Each test
 * signs one request as a client would, then sends another request made of the same
 * characters, cut differently, with the same signature: the server must refuse it.
 */

const KEY = 'v1-signature-key-0123456789';

/** The headers of `signed`, with the timestamp and nonce of another cut of the same string. */
function recut(signed: Record<string, string>, timestamp: string, nonce: string): Record<string, string> {
  return { ...signed, 'X-Request-Timestamp': timestamp, 'X-Request-Nonce': nonce };
}

describe('v1 signatures cover exactly one request', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startServer({ API_KEYS: KEY });
  });
  afterAll(() => t.close());

  const get = (path: string, headers: Record<string, string>) => request(t.url).get(path).set(headers);

  it('refuses the issue\'s replay: "?limit=10" + T signed, sent as "?limit=1" + "0T"', async () => {
    const now = Date.now();
    const signed = signedHeaders(KEY, 'v1', { method: 'GET', path: '/api/connections?limit=10' }, { timestamp: now });
    expect(`/api/connections?limit=1` + `0${now}`).toBe(`/api/connections?limit=10` + `${now}`);

    const replay = await get('/api/connections?limit=1', recut(signed, `0${now}`, signed['X-Request-Nonce']!)).expect(401);
    expect(replay.body).toMatchObject({ code: 'INVALID_SIGNATURE', error: expect.stringMatching(/13 digits/) });
    // The signature itself was good: the request it was made for is accepted.
    await get('/api/connections?limit=10', signed).expect(200);
  });

  it.each([
    ['a leading zero', (now: number) => `0${now}`],
    ['a sign', (now: number) => `+${now}`],
    ['seconds instead of milliseconds', (now: number) => String(Math.floor(now / 1000))],
    ['a fraction', (now: number) => `${now}.0`],
    ['an exponent', (now: number) => `${now / 1000}e3`],
  ])('refuses a timestamp with %s, even when its signature matches', async (_what, form) => {
    const timestamp = form(Date.now());
    const res = await get('/api/status', signedHeaders(KEY, 'v1', { method: 'GET', path: '/api/status' }, { timestamp })).expect(401);
    expect(res.body.code).toBe('INVALID_SIGNATURE');
  });

  it('refuses digits moved from the path into the timestamp (a timestamp at the end of the query)', async () => {
    const now = Date.now();
    const earlier = String(now - 1000);
    const nonce = 'n0nce-left-shift';
    const signed = signedHeaders(KEY, 'v1', { method: 'GET', path: `/api/connections?limit=10&since=${earlier}` }, { timestamp: now, nonce });
    await get(`/api/connections?limit=10&since=${earlier}`, signed).expect(200);

    // The same characters: path loses its last 13 digits, they become the timestamp, and
    // the real timestamp becomes the start of a fresh-looking nonce.
    const replay = await get('/api/connections?limit=10&since=', recut(signed, earlier, `${now}${nonce}`)).expect(401);
    expect(replay.body).toMatchObject({ code: 'INVALID_SIGNATURE', error: expect.stringMatching(/already used/) });
  });

  it('refuses digits moved from the timestamp into the path (a nonce that starts with a timestamp)', async () => {
    const now = Date.now();
    const nonce = `${now + 1000}-random-part`;
    const signed = signedHeaders(KEY, 'v1', { method: 'GET', path: '/api/connections?userId=alice' }, { timestamp: now, nonce });
    await get('/api/connections?userId=alice', signed).expect(200);

    const replay = await get(`/api/connections?userId=alice${now}`, recut(signed, String(now + 1000), '-random-part')).expect(401);
    expect(replay.body).toMatchObject({ code: 'INVALID_SIGNATURE', error: expect.stringMatching(/already used/) });
  });

  it('still refuses the identical request sent twice, and accepts a new nonce for the same path', async () => {
    const signed = signedHeaders(KEY, 'v1', { method: 'GET', path: '/api/status' });
    await get('/api/status', signed).expect(200);
    expect((await get('/api/status', signed).expect(401)).body.code).toBe('INVALID_SIGNATURE');
    await get('/api/status', signedHeaders(KEY, 'v1', { method: 'GET', path: '/api/status' })).expect(200);
  });

  it.each([
    ['shorter than 8 characters', 'abc123'],
    ['longer than 128 characters', 'a'.repeat(129)],
    ['a slash', 'abcd/efgh'],
    ['a question mark', 'abcd?efgh'],
    ['a percent sign', 'abcd%20efgh'],
  ])('refuses a nonce with %s', async (_what, nonce) => {
    const res = await get('/api/status', signedHeaders(KEY, 'v1', { method: 'GET', path: '/api/status' }, { nonce })).expect(401);
    expect(res.body).toMatchObject({ code: 'INVALID_SIGNATURE', error: expect.stringMatching(/X-Request-Nonce/) });
  });

  it('accepts the canonical form from both versions', async () => {
    await get('/api/status', signedHeaders(KEY, 'v1', { method: 'GET', path: '/api/status' }, { timestamp: String(Date.now()) })).expect(200);
    await get('/api/status', signedHeaders(KEY, 'v2', { method: 'GET', path: '/api/status' })).expect(200);
  });
});
