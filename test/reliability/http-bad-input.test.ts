import { request as httpRequest } from 'node:http';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, waitFor, type TestSocket } from '../support/client.js';
import { startServer, type TestServer } from '../support/server.js';

/**
 * Items 11 and 12 of issue 10: input that used to reach a 500 (a broken gzip body, a path
 * parameter that is not valid percent-encoding, JSON nested thousands of levels deep) is
 * answered 4xx with a catalog code, and the server keeps serving.
 */

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

/** One HTTP request with exactly these headers and raw body bytes (no client-side encoding). */
function send(t: TestServer, method: string, path: string, headers: Record<string, string> = {}, body?: Buffer | string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: t.port, method, path, headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> });
        } catch {
          reject(new Error(`${method} ${path}: ${res.statusCode} with a body that is not JSON: ${text.slice(0, 200)}`));
        }
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

const json = { 'Content-Type': 'application/json' };
const postJson = (t: TestServer, path: string, body: Buffer | string, headers: Record<string, string> = {}) =>
  send(t, 'POST', path, { ...json, ...headers }, body);

/** `{"data": [[...[1]...]]}` whose whole body nests `depth` levels (the outer object is 1). */
function nestedBody(depth: number): string {
  const inner = depth - 1;
  return `{"data":${'['.repeat(inner)}1${']'.repeat(inner)}}`;
}

const DELIVERY_BODIES: Array<[string, (data: string) => string]> = [
  ['/notify', (data) => `{"title":"t","data":${data}}`],
  ['/api/push', (data) => `{"userId":"alice","data":${data}}`],
  ['/api/broadcast', (data) => `{"event":"deep","data":${data}}`],
  ['/api/room', (data) => `{"room":"news","event":"deep","data":${data}}`],
];

function expectRefused(answer: Answer, status: number, code: string): void {
  expect(answer.status).toBe(status);
  expect(answer.body).toMatchObject({ success: false, code });
  expect(typeof answer.body.requestId).toBe('string');
}

describe('bad HTTP input is answered 4xx with a code, never 500', () => {
  let t: TestServer;
  let listener: TestSocket;

  beforeAll(async () => {
    t = await startServer({ RATE_LIMIT_HTTP_PER_MINUTE: '100000' });
    // A connected socket makes every delivery really encode its payload.
    listener = await connectClient(t.url);
    t.server.io.in(listener.id!).socketsJoin(['user:alice', 'news']);
  });
  afterAll(async () => {
    listener.close();
    await t.close();
  });

  describe('item 12: request bodies the server cannot read', () => {
    const garbage = Buffer.from('this is not gzip at all, just bytes');

    it.each(['/notify', '/api/broadcast', '/api/push', '/api/room', '/api/sessions', '/api/dev/token'])(
      'answers a broken gzip body on POST %s with 400 INVALID_REQUEST',
      async (path) => {
        expectRefused(await postJson(t, path, garbage, { 'Content-Encoding': 'gzip' }), 400, 'INVALID_REQUEST');
      },
    );

    it('answers a truncated gzip stream and broken deflate/brotli the same way', async () => {
      const truncated = gzipSync(Buffer.from('{"event":"x","data":"hello"}')).subarray(0, 12);
      expectRefused(await postJson(t, '/api/broadcast', truncated, { 'Content-Encoding': 'gzip' }), 400, 'INVALID_REQUEST');
      expectRefused(await postJson(t, '/api/broadcast', garbage, { 'Content-Encoding': 'deflate' }), 400, 'INVALID_REQUEST');
      expectRefused(await postJson(t, '/api/broadcast', garbage, { 'Content-Encoding': 'br' }), 400, 'INVALID_REQUEST');
    });

    it('still accepts a well-formed gzip body', async () => {
      const got = waitFor(listener, 'zipped');
      const body = gzipSync(Buffer.from('{"event":"zipped","data":{"n":1}}'));
      const answer = await postJson(t, '/api/broadcast', body, { 'Content-Encoding': 'gzip' });
      expect(answer).toMatchObject({ status: 200, body: { success: true, recipients: 1 } });
      expect(await got).toEqual({ n: 1 });
    });

    it('answers a gzip body that inflates past MAX_BODY_BYTES with 413 PAYLOAD_TOO_LARGE', async () => {
      const bomb = gzipSync(Buffer.from(`${' '.repeat(t.config.maxBodyBytes * 4)}{}`));
      expect(bomb.length).toBeLessThan(t.config.maxBodyBytes);
      expectRefused(await postJson(t, '/api/broadcast', bomb, { 'Content-Encoding': 'gzip' }), 413, 'PAYLOAD_TOO_LARGE');
    });

    it.each(['compress', 'x-unknown', 'gzip, gzip'])('answers Content-Encoding: %s with 400 INVALID_REQUEST', async (encoding) => {
      const answer = await postJson(t, '/api/broadcast', '{"event":"x"}', { 'Content-Encoding': encoding });
      expectRefused(answer, 400, 'INVALID_REQUEST');
      expect(answer.body.error).toMatch(/Content-Encoding/);
    });

    it.each([
      ['broken JSON', json, '{"event":'],
      ['a body that is not JSON', json, 'event=x'],
      ['text/plain', { 'Content-Type': 'text/plain' }, '{"event":"x"}'],
      ['a form', { 'Content-Type': 'application/x-www-form-urlencoded' }, 'event=x'],
      ['a charset JSON may not use', { 'Content-Type': 'application/json; charset=latin1' }, '{"event":"x"}'],
      ['an unknown charset', { 'Content-Type': 'application/json; charset=klingon' }, '{"event":"x"}'],
      ['no Content-Type', {}, '{"event":"x"}'],
    ])('answers %s with 400 INVALID_REQUEST', async (_what, headers, body) => {
      expectRefused(await send(t, 'POST', '/api/broadcast', headers, body), 400, 'INVALID_REQUEST');
    });

    it('keeps the seed failure shape on /notify for a broken gzip body', async () => {
      const answer = await postJson(t, '/notify', garbage, { 'Content-Encoding': 'gzip' });
      expectRefused(answer, 400, 'INVALID_REQUEST');
      expect(answer.body.error).toBe('Failed to send notification');
    });
  });

  describe('item 12: path parameters that are not valid percent-encoding', () => {
    it.each([
      ['GET', '/api/users/%FF%FE/presence'],
      ['GET', '/api/users/%C0%AE/sessions'],
      ['GET', '/api/sessions/%FF%FE'],
      ['GET', '/api/sessions/%C0%AE/messages'],
      ['DELETE', '/api/sessions/%E0%A4%A'],
      ['POST', '/api/sessions/%FF/messages'],
    ])('answers %s %s with 400 INVALID_REQUEST', async (method, path) => {
      const answer = method === 'POST' ? await postJson(t, path, '{"message":"x","senderUserId":"a"}') : await send(t, method, path);
      expectRefused(answer, 400, 'INVALID_REQUEST');
      expect(answer.body.error).toMatch(/percent-encod/);
    });

    it('answers bad percent-encoding outside any route (static files, query) with a 4xx and a code', async () => {
      expectRefused(await send(t, 'GET', '/%FF%FE'), 404, 'NOT_FOUND');
      expectRefused(await send(t, 'GET', '/api/%C0%AE/x'), 404, 'NOT_FOUND');
      const query = await send(t, 'GET', '/api/users/alice/presence?tenantId=%FF');
      expectRefused(query, 400, 'INVALID_REQUEST');
    });
  });

  describe('item 11: nesting depth of every parsed body', () => {
    it.each(DELIVERY_BODIES)('answers JSON nested 10,000 levels deep on %s with 400 naming the limit', async (path, body) => {
      const answer = await postJson(t, path, body(nestedBody(10_000)));
      expectRefused(answer, 400, 'INVALID_REQUEST');
      expect(String(answer.body.message ?? answer.body.error)).toContain(`${t.config.maxPayloadDepth} levels (MAX_PAYLOAD_DEPTH)`);
    });

    it('bounds the bodies of the chat and dev routes too', async () => {
      const deep = `{"machineId":"m","senderUserId":"a","receiverUserId":"b","extra":${nestedBody(10_000)}}`;
      expectRefused(await postJson(t, '/api/sessions', deep), 400, 'INVALID_REQUEST');
      expectRefused(await postJson(t, '/api/dev/token', `{"userId":"a","x":${nestedBody(5_000)}}`), 400, 'INVALID_REQUEST');
    });

    it('delivers a body exactly at the limit and refuses one level more', async () => {
      const limit = t.config.maxPayloadDepth;
      const got = waitFor(listener, 'deep');
      const atLimit = await postJson(t, '/api/broadcast', `{"event":"deep","data":${nestedBody(limit - 1)}}`);
      expect(atLimit).toMatchObject({ status: 200, body: { success: true, recipients: 1 } });
      expect(await got).toEqual(JSON.parse(nestedBody(limit - 1)));
      const over = await postJson(t, '/api/broadcast', `{"event":"deep","data":${nestedBody(limit)}}`);
      expectRefused(over, 400, 'INVALID_REQUEST');
    });

    it('keeps serving and delivering after every refusal above', async () => {
      const got = waitFor(listener, 'after');
      expect((await postJson(t, '/api/broadcast', '{"event":"after","data":1}')).status).toBe(200);
      expect(await got).toBe(1);
    });
  });
});
