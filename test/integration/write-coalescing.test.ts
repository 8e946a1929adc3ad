import type { Socket as NetSocket } from 'node:net';
import { io } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSocketGateway } from '../../src/realtime/socket-gateway.js';
import type { AppSocket } from '../../src/realtime/socket-types.js';
import { connectClient, emitWithAck, type TestSocket } from '../support/client.js';
import { startServer, type TestServer } from '../support/server.js';
import { TEST_SECRET, signToken } from '../support/tokens.js';

/** Counts the writes that reach a TCP socket's handle: one per `_write` or `_writev` (corked chunks). */
function countWrites(raw: NetSocket): { readonly count: number } {
  const counter = { count: 0 };
  const target = raw as unknown as Record<'_write' | '_writev', (...args: unknown[]) => unknown>;
  for (const method of ['_write', '_writev'] as const) {
    const original = target[method];
    target[method] = function (this: unknown, ...args: unknown[]) {
      counter.count += 1;
      return original.apply(this, args);
    };
  }
  return counter;
}

describe('write coalescing (src/realtime/coalesce-writes.ts)', () => {
  let t: TestServer;
  let client: TestSocket;
  let serverSide: AppSocket;

  beforeAll(async () => {
    t = await startServer({ JWT_SECRET: TEST_SECRET });
    client = await connectClient(t.url, { auth: { token: signToken({ userId: 'carol' }) } });
    // Once a request's answer is back, the server has nothing in flight on this connection.
    await emitWithAck(client, 'ping');
    serverSide = [...t.server.io.of('/').sockets.values()].find((socket) => socket.data.userId === 'carol')!;
  });
  afterAll(async () => {
    client.close();
    await t.close();
  });

  it('sends the packets that piled up behind a write in flight with one write to the TCP socket, in order', async () => {
    const transport = serverSide.conn.transport as unknown as { name: string; socket: { _socket: NetSocket } };
    expect(transport.name).toBe('websocket');
    const writes = countWrites(transport.socket._socket);

    const received: number[] = [];
    const all = new Promise<void>((resolve) => {
      (client as unknown as { on(event: string, listener: (n: number) => void): void }).on('burst', (n) => {
        received.push(n);
        if (received.length === 6) resolve();
      });
    });
    const emit = (serverSide as unknown as { emit(event: string, n: number): void }).emit.bind(serverSide);
    for (let n = 0; n < 6; n += 1) emit('burst', n);
    await all;

    expect(received).toEqual([0, 1, 2, 3, 4, 5]);
    // The first packet leaves at once; the five emitted while it was in flight are flushed
    // together and, corked, leave in one write (without coalescing: one write each, 6).
    expect(writes.count).toBe(2);
  });

  it('sends a sequence of events to every socket of a user in one write each, in order, and leaves the transport writable', async () => {
    const second = await connectClient(t.url, { auth: { token: signToken({ userId: 'carol' }) } });
    await emitWithAck(second, 'ping');
    const sockets = [...t.server.io.of('/').sockets.values()].filter((socket) => socket.data.userId === 'carol');
    expect(sockets).toHaveLength(2);
    const writes = sockets.map((socket) => countWrites((socket.conn.transport as unknown as { socket: { _socket: NetSocket } }).socket._socket));
    const arrived = (client_: TestSocket, count: number) =>
      new Promise<unknown[]>((resolve) => {
        const seen: unknown[] = [];
        for (const event of ['first', 'second', 'third', 'after']) {
          (client_ as unknown as { on(event: string, listener: (payload: unknown) => void): void }).on(event, (payload) => {
            seen.push([event, payload]);
            if (seen.length === count) resolve(seen);
          });
        }
      });
    const both = Promise.all([arrived(client, 3), arrived(second, 3)]);

    const gateway = createSocketGateway(t.server.io);
    const recipients = await gateway.emitSequenceToUser({ userId: 'carol' }, [
      ['first', { n: 1 }],
      ['second', { n: 2 }],
      ['third', { n: 3 }],
    ]);

    expect(recipients).toBe(2);
    const expected = [
      ['first', { n: 1 }],
      ['second', { n: 2 }],
      ['third', { n: 3 }],
    ];
    expect(await both).toEqual([expected, expected]);
    // One write per socket (without holding: the first packet alone, then the other two).
    expect(writes.map((w) => w.count)).toEqual([1, 1]);
    for (const socket of sockets) expect((socket.conn.transport as unknown as { writable: boolean }).writable).toBe(true);
    // Nothing was left behind: a plain emit afterwards still goes out at once.
    const after = new Promise((resolve) => (second as unknown as { once(event: string, listener: (payload: unknown) => void): void }).once('after', resolve));
    (sockets[1] as unknown as { emit(event: string, payload: unknown): void }).emit('after', 'yes');
    expect(await after).toBe('yes');
    second.close();
  });

  it('sends a new socket its CONNECT, its greetings and its unread count in one write, then writes as usual', async () => {
    // Counted from the Engine.IO handshake on, so after the `open` packet, which leaves
    // before the client can send CONNECT.
    let writes: { readonly count: number } | undefined;
    const onEngineConnection = (engineSocket: { transport: { name: string; socket: { _socket: NetSocket } } }) => {
      if (engineSocket.transport.name === 'websocket') writes ??= countWrites(engineSocket.transport.socket._socket);
    };
    t.server.io.engine.on('connection', onEngineConnection);
    const seen: string[] = [];
    const greeted: TestSocket = io(t.url, { transports: ['websocket'], reconnection: false, forceNew: true, auth: { token: signToken({ userId: 'dave' }) } });
    try {
      const untypedClient = greeted as unknown as { onAny(listener: (event: string) => void): void; once(event: string, listener: () => void): void };
      untypedClient.onAny((event) => seen.push(event));
      await new Promise<void>((resolve) => untypedClient.once('notification:unread-count', resolve));
      t.server.io.engine.off('connection', onEngineConnection);
      // Without the hold: CONNECT alone, then the three greetings, then the count (3 writes).
      expect(writes?.count).toBe(1);
      expect(seen).toEqual(['connection_status', 'system:welcome', 'connected', 'notification:unread-count']);
      // The transport was handed back: a request afterwards is answered, in writes of its own.
      await emitWithAck(greeted, 'ping');
      expect(writes?.count).toBeGreaterThan(1);
    } finally {
      greeted.close();
    }
  });
});
