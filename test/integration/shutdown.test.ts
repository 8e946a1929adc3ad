import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { connectClient, connectError, waitFor } from '../support/client.js';
import { startServer } from '../support/server.js';

describe('graceful shutdown', () => {
  it('drains: health 503, new sockets refused, sockets told and closed, then the port is closed', async () => {
    const t = await startServer();
    const socket = await connectClient(t.url);

    t.server.lifecycle.startDraining();
    const health = await request(t.url).get('/health').expect(503);
    expect(health.body).toMatchObject({ status: 'shutting_down' });
    const ready = await request(t.url).get('/ready').expect(503);
    expect(ready.body.checks.accepting).toBe(false);
    const refused = await connectError(t.url);
    expect(refused.data?.code).toBe('SERVICE_UNAVAILABLE');

    const told = waitFor(socket, 'system:shutdown');
    const disconnected = waitFor<string>(socket, 'disconnect');
    const first = t.server.close();
    const second = t.server.close();
    expect(second).toBe(first);
    expect(await told).toMatchObject({ message: expect.any(String) });
    expect(await disconnected).toBe('io server disconnect');
    await first;
    expect(t.server.httpServer.listening).toBe(false);
    await expect(request(t.url).get('/health')).rejects.toThrow();
    await t.close();
  });

  it('is bounded by the watchdog even when a client holds a connection open', async () => {
    const t = await startServer({ SHUTDOWN_TIMEOUT_MS: '300' });
    // An HTTP request that never finishes sending its body keeps its connection busy.
    const net = await import('node:net');
    const stuck = net.connect(t.port, '127.0.0.1');
    await new Promise((resolve) => stuck.once('connect', resolve));
    stuck.write('POST /notify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{');
    await new Promise((resolve) => setTimeout(resolve, 50));
    await t.server.close();
    expect(t.server.httpServer.listening).toBe(false);
    stuck.destroy();
    await t.close();
  });
});
