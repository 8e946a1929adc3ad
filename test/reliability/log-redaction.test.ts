import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { io } from 'socket.io-client';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redactUrl } from '../../src/observability/redact-url.js';
import { connectClient } from '../support/client.js';
import { startServer, type TestServer } from '../support/server.js';
import { signToken } from '../support/tokens.js';

/**
 * Item 10 of issue 10: a token sent in a query string (seed 004 clients do) was written
 * to the access log as part of the URL. Every logged URL, HTTP and Socket.IO, now has the
 * values of credential-looking query parameters replaced, and keeps its path.
 */

type LogLine = Record<string, unknown>;

/** A pino destination that keeps every line and lets a test wait for one positively. */
function captureLogs() {
  const lines: LogLine[] = [];
  const added = new EventEmitter();
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const text of chunk.toString().split('\n').filter(Boolean)) {
        const line = JSON.parse(text) as LogLine;
        lines.push(line);
        added.emit('line', line);
      }
      done();
    },
  });
  return {
    lines,
    logger: pino({ level: 'debug' }, sink),
    /** Resolves with the first line, already written or still to come, that matches. */
    next(matches: (line: LogLine) => boolean): Promise<LogLine> {
      const found = lines.find(matches);
      if (found) return Promise.resolve(found);
      return new Promise((resolve) => {
        const listener = (line: LogLine) => {
          if (!matches(line)) return;
          added.off('line', listener);
          resolve(line);
        };
        added.on('line', listener);
      });
    },
  };
}

const API_KEY = 'query-api-key-0123456789abcdef';

describe('credentials in query strings never reach the logs', () => {
  let t: TestServer;
  let logs: ReturnType<typeof captureLogs>;
  let token: string;
  beforeAll(async () => {
    logs = captureLogs();
    t = await startServer({}, { logger: logs.logger });
    token = signToken({ userId: 'alice' }, { secret: t.config.jwt.secret });
  });
  afterAll(() => t.close());

  it('an HTTP request: the access log keeps the path and the harmless parameters', async () => {
    const url = `/socket/connections?token=${token}&api_key=${API_KEY}&limit=5`;
    const res = await request(t.url).get(url).set('Authorization', `Bearer ${token}`).expect(200);
    const line = await logs.next((l) => l.reqId === res.headers['x-request-id']);
    expect(line.url).toBe('/socket/connections?token=[redacted]&api_key=[redacted]&limit=5');
    expect(JSON.stringify(logs.lines)).not.toContain(token);
    expect(JSON.stringify(logs.lines)).not.toContain(API_KEY);
  });

  it('a refused HTTP request with other credential names', async () => {
    const res = await request(t.url).get('/api/status?access_token=AT-value-1&Signature=SIG-value-2&password=PW-value-3&sig=S-value-4&x=1');
    const line = await logs.next((l) => l.reqId === res.headers['x-request-id']);
    expect(line.url).toBe('/api/status?access_token=[redacted]&Signature=[redacted]&password=[redacted]&sig=[redacted]&x=1');
    for (const secret of ['AT-value-1', 'SIG-value-2', 'PW-value-3', 'S-value-4']) expect(JSON.stringify(logs.lines)).not.toContain(secret);
  });

  it('a Socket.IO connection authenticated by ?token=: connect and disconnect are logged, the token is not', async () => {
    const socket = await connectClient(t.url, { query: { token, api_key: API_KEY } });
    const connected = await logs.next((l) => l.msg === 'socket connected' && l.socketId === socket.id);
    expect(connected).toMatchObject({ userId: 'alice', transport: 'websocket' });
    expect(connected.url).toMatch(/^\/socket\.io\/\?/);
    expect(connected.url).toContain('token=[redacted]');
    expect(connected.url).toContain('api_key=[redacted]');
    expect(connected.url).toContain('transport=websocket');

    const id = socket.id;
    socket.close();
    await logs.next((l) => l.msg === 'socket disconnected' && l.socketId === id);
    expect(JSON.stringify(logs.lines)).not.toContain(token);
    expect(JSON.stringify(logs.lines)).not.toContain(API_KEY);
  });

  it('a refused Socket.IO handshake is logged with its URL redacted', async () => {
    const res = await request(t.url).get(`/socket.io/?EIO=4&transport=carrier-pigeon&token=${token}`).expect(400);
    expect(res.body).toMatchObject({ message: 'Transport unknown' });
    const refused = await logs.next((l) => l.msg === 'socket handshake refused');
    expect(refused.url).toBe('/socket.io/?EIO=4&transport=carrier-pigeon&token=[redacted]');
    expect(JSON.stringify(logs.lines)).not.toContain(token);
  });

  it('a polling connection (several HTTP requests, none through Express) logs no token either', async () => {
    const socket = io(t.url, { transports: ['polling'], query: { token }, reconnection: false, forceNew: true });
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('connect_error', reject);
      });
      const connected = await logs.next((l) => l.msg === 'socket connected' && l.socketId === socket.id);
      expect(connected).toMatchObject({ transport: 'polling', url: expect.stringContaining('token=[redacted]') });
      expect(JSON.stringify(logs.lines)).not.toContain(token);
    } finally {
      socket.close();
    }
  });
});

describe('redactUrl', () => {
  it.each([
    ['/a?token=x', '/a?token=[redacted]'],
    ['/a?apiKey=x&X-API-KEY=y&key=z&keyword=w', '/a?apiKey=[redacted]&X-API-KEY=[redacted]&key=[redacted]&keyword=w'],
    ['/a?refresh_token=x&id_token=y&jwt=z&auth=w', '/a?refresh_token=[redacted]&id_token=[redacted]&jwt=[redacted]&auth=[redacted]'],
    ['/a?client_secret=x&passwd=y&pwd=z&hmac=w&credentials=v', '/a?client_secret=[redacted]&passwd=[redacted]&pwd=[redacted]&hmac=[redacted]&credentials=[redacted]'],
    // An escaped name is the same name; a value may itself contain "=".
    ['/a?%74oken=x&to%6Ben=y&token=a=b==', '/a?%74oken=[redacted]&to%6Ben=[redacted]&token=[redacted]'],
    ['/a?limit=10&userId=bob&tenantId=t1', '/a?limit=10&userId=bob&tenantId=t1'],
    ['/users/alice/presence', '/users/alice/presence'],
    ['/a?', '/a?'],
    ['/a?token', '/a?token'],
    ['/%FF?%E0%A4%A=1&token=x', '/%FF?%E0%A4%A=1&token=[redacted]'],
  ])('%s', (url, expected) => {
    expect(redactUrl(url)).toBe(expected);
  });
});
