import { createServer, IncomingMessage, ServerResponse, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { createRequestClasses } from '../../src/http/request-classes.js';
import { startServer, type TestServer } from '../support/server.js';

describe('requests born with the Express app\'s prototypes', () => {
  let server: Server | undefined;
  let t: TestServer | undefined;
  afterEach(async () => {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = undefined;
    await t?.close();
    t = undefined;
  });

  it('are Node\'s own objects until the app is adopted, then the app\'s, before Express sees them', async () => {
    const classes = createRequestClasses();
    const app = express();
    app.set('trust proxy', false);
    app.get('/probe', (req, res) => {
      res.json({ path: req.path, ip: req.ip, accepts: req.accepts('json'), query: req.query });
    });
    const seen: string[] = [];
    server = createServer({ IncomingMessage: classes.IncomingMessage, ServerResponse: classes.ServerResponse }, (req, res) => {
      const own = Object.getPrototypeOf(req) === app.request && Object.getPrototypeOf(res) === app.response;
      // Before adopt: Node's objects, without a member of Express's.
      const node = req instanceof IncomingMessage && res instanceof ServerResponse && !('get' in req) && !('json' in res);
      seen.push(own ? 'app' : node ? 'node' : 'other');
      if (!own) return void res.writeHead(503).end();
      app(req, res);
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    await request(url).get('/probe').expect(503);
    classes.adopt(app);
    const res = await request(url).get('/probe?x=1').expect(200);
    expect(res.body).toEqual({ path: '/probe', ip: '127.0.0.1', accepts: 'json', query: { x: '1' } });
    expect(seen).toEqual(['node', 'app']);
  });

  it('is how the server builds every request, and Socket.IO\'s own requests still work', async () => {
    t = await startServer();
    const prototypes: boolean[] = [];
    t.server.httpServer.prependListener('request', (req: IncomingMessage) => {
      // The app's request object stands where Object.create(express.request) stood.
      prototypes.push(Object.getPrototypeOf(Object.getPrototypeOf(req)) === express.request && req instanceof IncomingMessage);
    });
    await request(t.url).get('/health').expect(200);
    const polling = await request(t.url).get('/socket.io/?EIO=4&transport=polling').expect(200);
    expect(polling.text).toMatch(/^0\{"sid":/);
    expect(prototypes).toEqual([true, true]);
  });
});
