import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, emitWithAck, type TestSocket } from '../support/client.js';
import { connectRaw, emitRawJson, openRawSocket, type RawSocket } from '../support/raw-socket.js';
import { startServer, type TestServer } from '../support/server.js';
import { TEST_SECRET, signToken } from '../support/tokens.js';

/**
 * Item 11 of issue 10 (the socket half): JSON nested 10,000 levels deep in a socket
 * payload overflowed the stack in Socket.IO's encoder (`hasBinary`) when it was echoed or
 * relayed: 47 INTERNAL_SERVER_ERRORs. Every event's payload is now refused beyond
 * MAX_PAYLOAD_DEPTH with INVALID_REQUEST, before any handler runs.
 *
 * socket.io-client cannot encode such a payload (its own encoder overflows), so the
 * events are written as raw frames on a real WebSocket.
 */

/** JSON text of `depth` nested arrays (a scalar inside), depth counted as nestingExceeds does. */
const nested = (depth: number) => `${'['.repeat(depth)}0${']'.repeat(depth)}`;
const DEEP = nested(10_000);

/** Each event with a 10,000-deep value where its schema accepts any JSON (or ignores the field). */
const DEEP_PAYLOADS: [string, string][] = [
  ['message', DEEP],
  ['message', `{"room":"lobby","data":${DEEP}}`],
  ['client:event', `{"type":"echo","data":${DEEP}}`],
  ['client:action', `{"action":"echo","params":${DEEP}}`],
  ['client:message', `{"content":"hi","metadata":{"room":"lobby","extra":${DEEP}}}`],
  ['register', `{"userId":"deep","extra":${DEEP}}`],
  ['register_user', `{"userId":"deep","machineId":"m","extra":${DEEP}}`],
  ['ping', `{"timestamp":1,"extra":${DEEP}}`],
  ['room:join', `{"room":"lobby","extra":${DEEP}}`],
  ['auth:refresh', `{"token":"x","extra":${DEEP}}`],
  ['create_chat_session', `{"machineId":"m","receiverUserId":"bob","extra":${DEEP}}`],
  ['send_message', `{"sessionId":"00000000-0000-4000-8000-000000000000","message":"hi","extra":${DEEP}}`],
];

describe('socket payloads nested deeper than MAX_PAYLOAD_DEPTH', () => {
  let t: TestServer;
  let attacker: RawSocket;
  let neighbour: TestSocket;
  beforeAll(async () => {
    t = await startServer({ JWT_SECRET: TEST_SECRET });
    attacker = await openRawSocket(t.url);
    await connectRaw(attacker, { token: signToken({ userId: 'attacker' }) });
    await emitRawJson(attacker, 'room:join', '{"room":"lobby"}');
    neighbour = await connectClient(t.url, { auth: { token: signToken({ userId: 'neighbour' }) } });
    await emitWithAck(neighbour, 'room:join', { room: 'lobby' });
  });
  afterAll(async () => {
    attacker.close();
    neighbour.close();
    await t.close();
  });

  it.each(DEEP_PAYLOADS)('answers %s nested 10,000 deep with INVALID_REQUEST naming the limit', async (event, payload) => {
    const [reply] = await emitRawJson(attacker, event, payload);
    expect(reply).toEqual({
      success: false,
      code: 'INVALID_REQUEST',
      error: expect.stringMatching(/MAX_PAYLOAD_DEPTH/),
      requestId: expect.any(String),
    });
    // The server keeps serving both the sender and its neighbour.
    expect(await emitRawJson(attacker, 'ping', '{}')).toEqual([{ timestamp: expect.any(String) }]);
    expect(await emitWithAck(neighbour, 'ping', {})).toEqual({ timestamp: expect.any(String) });
  });

  it('answers without an ack too: the error event and the reply event carry INVALID_REQUEST', async () => {
    const fresh = await openRawSocket(t.url);
    try {
      await connectRaw(fresh, { token: signToken({ userId: 'attacker' }) });
      fresh.send(`42["client:event",{"type":"echo","data":${DEEP}}]`);
      expect(JSON.parse((await fresh.next((frame) => frame.startsWith('42["error"'))).slice(2))).toEqual([
        'error',
        { event: 'client:event', code: 'INVALID_REQUEST', message: expect.stringMatching(/MAX_PAYLOAD_DEPTH/) },
      ]);
      expect(JSON.parse((await fresh.next((frame) => frame.startsWith('42["server:response"'))).slice(2))).toMatchObject([
        'server:response',
        { success: false, code: 'INVALID_REQUEST' },
      ]);
    } finally {
      fresh.close();
    }
  });

  it('accepts MAX_PAYLOAD_DEPTH levels and refuses one more', async () => {
    const limit = t.config.maxPayloadDepth;
    const relayed = new Promise((resolve) => neighbour.once('message', resolve));
    expect(await emitRawJson(attacker, 'message', `{"room":"lobby","data":${nested(limit - 1)}}`)).toEqual([{ success: true, recipients: 1 }]);
    expect(await relayed).toMatchObject({ from: 'attacker' });
    expect(await emitRawJson(attacker, 'message', `{"room":"lobby","data":${nested(limit)}}`)).toMatchObject([{ success: false, code: 'INVALID_REQUEST' }]);
  });

  it('never answered INTERNAL_SERVER_ERROR', async () => {
    const metrics = await request(t.url).get('/metrics').expect(200);
    expect(metrics.text).toMatch(/socket_server_socket_errors_total\{code="INVALID_REQUEST"\} [1-9]/);
    expect(metrics.text).not.toMatch(/socket_server_socket_errors_total\{code="INTERNAL_SERVER_ERROR"\}/);
  });
});
