import { afterEach, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../support/server.js';
import { openRawTcp, statusOf } from './support/raw-http.js';

/**
 * Item 2 of issue 10 (the HTTP routing half): a request refused before its body was read
 * is answered at once and its connection closed, instead of the server reading a slow
 * body to its end (a byte every few seconds held a socket for minutes). Each test keeps
 * dripping body bytes, as a slowloris client does, and waits for the server to end the
 * connection: a server that kept reading would never end it (the drip also keeps Node's
 * keep-alive idle timeout from closing it instead).
 */

const KEY = 'refused-body-key-0123456789';

/**
 * Writes `head` (request line and headers) plus `partialBody` on a raw connection, then,
 * unless `drip` is empty, `drip` (one more body byte) every 200 ms until the server ends it.
 */
const rawRequest = (t: TestServer, head: string, partialBody: string, drip = ' ') =>
  openRawTcp(t.port, `${head}\r\n\r\n${partialBody}`, { pieces: drip === '' ? [] : [drip], everyMs: 200 });

const slowPost = (t: TestServer, path: string, headers: string[]) =>
  rawRequest(
    t,
    [`POST ${path} HTTP/1.1`, `Host: 127.0.0.1:${t.port}`, 'Content-Type: application/json', 'Content-Length: 4096', ...headers].join('\r\n'),
    '{"event":"x","da',
  );

let t: TestServer | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

describe('a request refused before its body arrives is answered, then its connection closed', () => {
  it('401: no API key', async () => {
    t = await startServer({ API_KEYS: KEY });
    const exchange = await slowPost(t, '/api/broadcast', []);
    await exchange.closed;
    expect(statusOf(exchange.text())).toBe(401);
    expect(exchange.text()).toMatch(/\r\nConnection: close\r\n/i);
    expect(exchange.text()).toContain('"code":"UNAUTHORIZED"');
  });

  it('401 on a user route and 404 on an unknown path', async () => {
    t = await startServer({ API_KEYS: KEY });
    const user = await slowPost(t, '/api/sessions', []);
    await user.closed;
    expect(statusOf(user.text())).toBe(401);
    const unknown = await slowPost(t, '/api/nowhere', [`X-API-Key: ${KEY}`]);
    await unknown.closed;
    expect(statusOf(unknown.text())).toBe(404);
  });

  it('403: a state-changing request from a foreign page', async () => {
    t = await startServer({ API_KEYS: KEY, ALLOWED_ORIGINS: 'https://app.example.com' });
    const exchange = await slowPost(t, '/api/broadcast', [`X-API-Key: ${KEY}`, 'Origin: https://evil.example.net']);
    await exchange.closed;
    expect(statusOf(exchange.text())).toBe(403);
    expect(exchange.text()).toMatch(/\r\nConnection: close\r\n/i);
  });

  it('429: over the rate limit', async () => {
    t = await startServer({ API_KEYS: KEY, RATE_LIMIT_HTTP_PER_MINUTE: '1' });
    const first = await slowPost(t, '/api/broadcast', ['X-API-Key: wrong-key']);
    await first.closed;
    expect(statusOf(first.text())).toBe(401);
    const second = await slowPost(t, '/api/broadcast', ['X-API-Key: wrong-key']);
    await second.closed;
    expect(statusOf(second.text())).toBe(429);
  });

  it('413: a Content-Length over MAX_BODY_BYTES is refused before a byte of the body is read', async () => {
    t = await startServer({ API_KEYS: KEY, MAX_BODY_BYTES: '2048' });
    const exchange = await rawRequest(
      t,
      [`POST /api/broadcast HTTP/1.1`, `Host: 127.0.0.1:${t.port}`, `X-API-Key: ${KEY}`, 'Content-Type: application/json', 'Content-Length: 10000000'].join('\r\n'),
      '{"event":"x"',
    );
    await exchange.closed;
    expect(statusOf(exchange.text())).toBe(413);
    expect(exchange.text()).toContain('"code":"PAYLOAD_TOO_LARGE"');
  });

  it('413: a chunked body that grows past MAX_BODY_BYTES is refused without reading the rest', async () => {
    t = await startServer({ API_KEYS: KEY, MAX_BODY_BYTES: '2048' });
    const chunk = `{"event":"x","data":"${'y'.repeat(3000)}`;
    const exchange = await rawRequest(
      t,
      [`POST /api/broadcast HTTP/1.1`, `Host: 127.0.0.1:${t.port}`, `X-API-Key: ${KEY}`, 'Content-Type: application/json', 'Transfer-Encoding: chunked'].join('\r\n'),
      `${chunk.length.toString(16)}\r\n${chunk}\r\n`,
      // Well-formed one-byte chunks, so that only the server's choice can end the request.
      '1\r\ny\r\n',
    );
    await exchange.closed;
    expect(statusOf(exchange.text())).toBe(413);
    expect(exchange.text()).toMatch(/\r\nConnection: close\r\n/i);
  });

  it('keeps the connection of a refused request whose body had fully arrived (keep-alive still works)', async () => {
    t = await startServer({ API_KEYS: KEY });
    const body = '{"event":"x"}';
    const request = (extra: string[]) =>
      [`POST /api/broadcast HTTP/1.1`, `Host: 127.0.0.1:${t!.port}`, 'Content-Type: application/json', `Content-Length: ${body.length}`, ...extra].join('\r\n') +
      `\r\n\r\n${body}`;
    // Two requests on one connection: the refused one, then an accepted one, then the server closes.
    const exchange = await rawRequest(
      t,
      request([]).replace(/\r\n\r\n[\s\S]*$/, ''),
      `${body}${request([`X-API-Key: ${KEY}`, 'Connection: close'])}`,
      '',
    );
    await exchange.closed;
    const statuses = [...exchange.text().matchAll(/HTTP\/1\.1 (\d{3})/g)].map((match) => Number(match[1]));
    expect(statuses).toEqual([401, 200]);
  });
});
