import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, emitWithAck, type TestSocket } from '../support/client.js';
import { startServer, type TestServer } from '../support/server.js';
import { TEST_SECRET, signToken } from '../support/tokens.js';

const WEBHOOK_SECRET = 'webhook-secret-0123456789';

interface Call {
  body: Record<string, unknown>;
  signatureValid: boolean;
}

/** A real application backend: answers by action name, records what it received. */
function startBackend(calls: Call[]): Promise<Server> {
  const server = createServer(async (req: IncomingMessage, res) => {
    let raw = '';
    for await (const chunk of req) raw += String(chunk);
    const timestamp = String(req.headers['x-webhook-timestamp']);
    const expected = createHmac('sha256', WEBHOOK_SECRET).update(`${timestamp}.${raw}`).digest('hex');
    const body = JSON.parse(raw) as Record<string, unknown>;
    calls.push({ body, signatureValid: expected === req.headers['x-webhook-signature'] });
    const name = body.action ?? body.type;
    if (name === 'slow') {
      await new Promise((resolve) => setTimeout(resolve, 1500));
    }
    if (name === 'broken') return res.writeHead(500).end('oops');
    if (name === 'unknown-to-backend') return res.writeHead(404).end();
    if (name === 'not-json') return res.writeHead(200, { 'Content-Type': 'text/plain' }).end('hello');
    res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ handledBy: 'backend', name, input: body.params ?? body.data }));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

describe('EVENT_WEBHOOK_URL: unknown client:event types and client:action actions go to the backend', () => {
  const calls: Call[] = [];
  let backend: Server;
  let t: TestServer;
  let socket: TestSocket;

  beforeAll(async () => {
    backend = await startBackend(calls);
    const { port } = backend.address() as AddressInfo;
    t = await startServer({
      JWT_SECRET: TEST_SECRET,
      EVENT_WEBHOOK_URL: `http://127.0.0.1:${port}/socket-events`,
      EVENT_WEBHOOK_SECRET: WEBHOOK_SECRET,
      EVENT_WEBHOOK_TIMEOUT_MS: '300',
    });
    socket = await connectClient(t.url, { auth: { token: signToken({ userId: 'hooked', tenantId: 'acme' }) } });
  });
  afterAll(async () => {
    socket.close();
    await t.close();
    await new Promise((resolve) => backend.close(resolve));
  });

  it('forwards an unknown action, signed, and returns the backend answer', async () => {
    const ack = await emitWithAck(socket, 'client:action', { action: 'order.cancel', params: { orderId: 7 } });
    expect(ack).toEqual({ success: true, requestId: expect.any(String), result: { handledBy: 'backend', name: 'order.cancel', input: { orderId: 7 } } });
    const call = calls.at(-1)!;
    expect(call.signatureValid).toBe(true);
    expect(call.body).toMatchObject({ userId: 'hooked', tenantId: 'acme', action: 'order.cancel', params: { orderId: 7 } });
  });

  it('forwards an unknown client:event type with its data', async () => {
    const ack = await emitWithAck(socket, 'client:event', { type: 'cart.update', data: { items: 2 } });
    expect(ack).toMatchObject({ success: true, data: { name: 'cart.update', input: { items: 2 } } });
    expect(calls.at(-1)!.body).toMatchObject({ type: 'cart.update', data: { items: 2 } });
  });

  it('keeps built-ins local', async () => {
    const before = calls.length;
    await emitWithAck(socket, 'client:action', { action: 'time' });
    expect(calls.length).toBe(before);
  });

  it.each([
    ['unknown-to-backend', 'UNKNOWN_ACTION'],
    ['broken', 'BAD_GATEWAY'],
    ['not-json', 'BAD_GATEWAY'],
    ['slow', 'BAD_GATEWAY'],
  ])('answers a backend that says %s with %s', async (action, code) => {
    expect(await emitWithAck(socket, 'client:action', { action })).toMatchObject({ success: false, code });
    expect(socket.connected).toBe(true);
  });
});
