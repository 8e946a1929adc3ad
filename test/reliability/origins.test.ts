import { request as httpRequest } from 'node:http';
import { io } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import { connectClient, waitFor, type TestSocket } from '../support/client.js';
import { startServer, type TestServer } from '../support/server.js';

/**
 * Item 7 of issue 10: a DNS-rebinding page at http://evil.example:PORT sends
 * `Origin: http://evil.example:PORT` and `Host: evil.example:PORT`. The server used to
 * accept any Origin equal to the request's own Host; now only configured origins (and, in
 * development, loopback at the bound port) pass.
 */

interface RawAnswer {
  status: number;
  body: string;
}

/** One HTTP request with exactly the headers given (supertest would set Host itself). */
function rawRequest(port: number, method: string, path: string, headers: Record<string, string>, body?: string): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const pollingHandshake = (t: TestServer, headers: Record<string, string>) =>
  rawRequest(t.port, 'GET', '/socket.io/?EIO=4&transport=polling', headers);

let t: TestServer | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

describe('origins are compared with configuration, never with Host', () => {
  it('refuses a rebinding origin on the polling handshake and the WebSocket upgrade in development', async () => {
    t = await startServer({ NODE_ENV: 'development' });
    const evil = `http://evil.example:${t.port}`;
    const polling = await pollingHandshake(t, { Origin: evil, Host: `evil.example:${t.port}` });
    expect(polling.status).toBe(403);

    const socket: TestSocket = io(t.url, {
      transports: ['websocket'],
      forceNew: true,
      reconnection: false,
      extraHeaders: { Origin: evil, Host: `evil.example:${t.port}` },
    });
    const refusal = await waitFor<Error>(socket, 'connect_error');
    expect(refusal).toBeInstanceOf(Error);
    expect(socket.connected).toBe(false);
    socket.close();
  });

  it('allows the page at the bound loopback port, which only exists once listening (PORT=0)', async () => {
    t = await startServer({ NODE_ENV: 'development' });
    for (const origin of [`http://127.0.0.1:${t.port}`, `http://localhost:${t.port}`]) {
      expect((await pollingHandshake(t, { Origin: origin })).status).toBe(200);
      (await connectClient(t.url, { extraHeaders: { Origin: origin } })).close();
    }
    // Another loopback port is another site.
    expect((await pollingHandshake(t, { Origin: `http://127.0.0.1:${t.port + 1}` })).status).toBe(403);
  });

  it('allows PUBLIC_URL and ALLOWED_ORIGINS, and nothing else, in production', async () => {
    t = await startServer({
      NODE_ENV: 'production',
      API_KEYS: 'k8Jq2vN5xR7mT4wZ9pL3sD6f',
      JWT_SECRET: 'Qm7vX2pL9sK4wN8rT3yB6hF1jD5gC0zA',
      ALLOWED_ORIGINS: 'https://app.example.com',
      PUBLIC_URL: 'https://notify.example.com/base',
    });
    expect((await pollingHandshake(t, { Origin: 'https://app.example.com' })).status).toBe(200);
    expect((await pollingHandshake(t, { Origin: 'https://notify.example.com' })).status).toBe(200);
    const rebinding = `http://evil.example:${t.port}`;
    expect((await pollingHandshake(t, { Origin: rebinding, Host: `evil.example:${t.port}` })).status).toBe(403);
    // A page on another port of this address is another site.
    expect((await pollingHandshake(t, { Origin: `http://127.0.0.1:${t.port + 1}` })).status).toBe(403);
  });

  it('accepts Origin equal to Host only when Host names no DNS name (non-browser clients send one)', async () => {
    t = await startServer({ NODE_ENV: 'production', API_KEYS: 'k8Jq2vN5xR7mT4wZ9pL3sD6f', JWT_SECRET: 'Qm7vX2pL9sK4wN8rT3yB6hF1jD5gC0zA', ALLOWED_ORIGINS: 'https://app.example.com' });
    // python-socketio's WebSocket transport sends the URL it was given as Origin.
    for (const host of [`127.0.0.1:${t.port}`, `localhost:${t.port}`, `[::1]:${t.port}`]) {
      expect((await pollingHandshake(t, { Origin: `http://${host}`, Host: host })).status).toBe(200);
    }
    // The same shape with a DNS name is what a rebinding page sends.
    const host = `notify.internal:${t.port}`;
    expect((await pollingHandshake(t, { Origin: `http://${host}`, Host: host })).status).toBe(403);
  });
});

describe('state-changing HTTP requests from a foreign page', () => {
  it('refuses POST /notify from a rebinding origin with 403 FORBIDDEN, and does not execute it', async () => {
    t = await startServer({ NODE_ENV: 'development' });
    const listener = await connectClient(t.url);
    const seen: unknown[] = [];
    listener.on('notification' as never, (payload: unknown) => {
      seen.push(payload);
    });
    try {
      const host = `evil.example:${t.port}`;
      const refused = await rawRequest(
        t.port,
        'POST',
        '/notify',
        { Origin: `http://${host}`, Host: host, 'Content-Type': 'application/json' },
        JSON.stringify({ title: 'from the rebinding page' }),
      );
      expect(refused.status).toBe(403);
      expect(JSON.parse(refused.body)).toMatchObject({ success: false, code: 'FORBIDDEN' });

      // Sentinel: a notification sent after the refused one, on the same path, arrives; the
      // refused one, had it run, would have arrived before it.
      const sentinel = waitFor<{ title: string }>(listener, 'notification');
      const allowed = await rawRequest(
        t.port,
        'POST',
        '/notify',
        { Origin: `http://127.0.0.1:${t.port}`, 'Content-Type': 'application/json' },
        JSON.stringify({ title: 'sentinel' }),
      );
      expect(allowed.status).toBe(200);
      expect((await sentinel).title).toBe('sentinel');
      expect(seen).toHaveLength(1);
    } finally {
      listener.close();
    }
  });

  it('still answers reads from a foreign origin (without CORS headers) and requests without Origin', async () => {
    t = await startServer({ NODE_ENV: 'development' });
    expect((await rawRequest(t.port, 'GET', '/health', { Origin: 'http://evil.example' })).status).toBe(200);
    const fromCurl = await rawRequest(t.port, 'POST', '/api/broadcast', { 'Content-Type': 'application/json' }, JSON.stringify({ event: 'e', data: {} }));
    expect(fromCurl.status).toBe(200);
    const foreign = await rawRequest(
      t.port,
      'POST',
      '/api/broadcast',
      { Origin: 'http://evil.example', 'Content-Type': 'application/json' },
      JSON.stringify({ event: 'e', data: {} }),
    );
    expect(foreign.status).toBe(403);
  });
});
