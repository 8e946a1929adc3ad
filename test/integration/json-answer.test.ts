import express, { type Express } from 'express';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { answerJsonDirectly } from '../../src/http/json-answer.js';

/** Two apps with the server's settings and the same routes: one answers with Express's res.json, one directly. */
function appWith(direct: boolean): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  if (direct) answerJsonDirectly(app);
  app.all('/object', (_req, res) => res.json({ success: true, text: 'héllo ✓', n: 42, nested: { list: [1, null, 'x'] } }));
  app.all('/created', (_req, res) => res.status(201).json([1, 2, 3]));
  app.all('/string', (_req, res) => res.json('just a string'));
  app.all('/null', (_req, res) => res.json(null));
  app.all('/undefined', (_req, res) => res.json(undefined));
  app.all('/no-content', (_req, res) => res.status(204).json({ dropped: true }));
  app.all('/typed', (_req, res) => res.type('application/problem+json').status(400).json({ title: 'typed' }));
  app.all('/error', (_req, res) => res.status(429).set('Retry-After', '3').json({ success: false, code: 'RATE_LIMITED' }));
  return app;
}

const CASES: [method: 'get' | 'post' | 'head' | 'delete', path: string, headers: Record<string, string>][] = [
  ['get', '/object', {}],
  ['post', '/object', {}],
  ['delete', '/object', {}],
  ['head', '/object', {}],
  ['get', '/object', { 'If-None-Match': '*' }],
  ['get', '/object', { 'If-Modified-Since': 'Wed, 21 Oct 2015 07:28:00 GMT' }],
  ['post', '/created', {}],
  ['get', '/string', {}],
  ['get', '/null', {}],
  ['get', '/undefined', {}],
  ['get', '/no-content', {}],
  ['get', '/typed', {}],
  ['post', '/error', {}],
];

describe('answerJsonDirectly', () => {
  const plain = appWith(false);
  const direct = appWith(true);

  it.each(CASES)('%s %s %j answers exactly as Express does', async (method, path, headers) => {
    const answer = async (app: Express) => {
      const res = await request(app)[method](path).set(headers).buffer(true).parse((stream, done) => {
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('end', () => done(null, Buffer.concat(chunks).toString('utf8')));
      });
      const { date: _date, ...rest } = res.headers as Record<string, string>;
      return { status: res.status, headers: rest, body: res.body as string };
    };
    const expected = await answer(plain);
    expect(await answer(direct)).toEqual(expected);
  });

  it('answers the ordinary case itself, without Express\'s send', async () => {
    // If the direct path were never taken the comparison above would pass vacuously.
    const app = appWith(true);
    let sent = 0;
    const send = app.response.send;
    app.response.send = function (this: express.Response, body?: unknown) {
      sent += 1;
      return send.call(this, body);
    };
    await request(app).get('/object').expect(200);
    expect(sent).toBe(0);
    await request(app).head('/object').expect(200);
    expect(sent).toBe(1);
  });

  it('refuses an app whose JSON settings it would ignore', () => {
    const app = express();
    expect(() => answerJsonDirectly(app)).toThrow(/etag fn/);
    app.set('etag', false);
    app.set('json spaces', 2);
    expect(() => answerJsonDirectly(app)).toThrow(/json spaces/);
  });
});
