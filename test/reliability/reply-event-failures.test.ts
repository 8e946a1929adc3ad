import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SocketErrorPayload } from '../../src/contracts/error-codes.js';
import { connectClient, emitWithAck, waitFor, watchUnwanted, type TestSocket } from '../support/client.js';
import { startServer, type TestServer } from '../support/server.js';
import { TEST_SECRET, signToken } from '../support/tokens.js';

/**
 * Item 15 of issue 10: `register` answered a failure on `register:ack`, but the other
 * requests with a reply event answered failures only with `error` and the ack, so a seed
 * 002 client waiting for `action:result` (or `server:response`, `message:ack`, the room
 * acks) never heard of it. Every request with a reply event now answers its failure there
 * too, as `{ success: false, error, code, requestId }`; the ack gets the same object.
 */

/** A request that fails, the reply event it must fail on, and the code. */
const FAILURES: [event: string, reply: string, payload: unknown, code: string][] = [
  ['register', 'register:ack', { userId: 'someone-else' }, 'FORBIDDEN'],
  ['ping', 'pong', 'not-an-object', 'INVALID_REQUEST'],
  ['client:event', 'server:response', { type: 'launch-rockets' }, 'UNKNOWN_ACTION'],
  ['client:action', 'action:result', { action: 'launch-rockets' }, 'UNKNOWN_ACTION'],
  ['client:message', 'message:ack', { content: 'hi', metadata: { room: 'not-joined' } }, 'FORBIDDEN'],
  ['room:join', 'room:join:ack', { room: 'user:someone-else' }, 'FORBIDDEN'],
  ['room:leave', 'room:leave:ack', { room: 'user:someone-else' }, 'FORBIDDEN'],
];

const untypedEmit = (socket: TestSocket, event: string, ...args: unknown[]) =>
  (socket as unknown as { emit(event: string, ...args: unknown[]): void }).emit(event, ...args);

describe('failures on reply events', () => {
  let t: TestServer;
  let socket: TestSocket;
  beforeAll(async () => {
    t = await startServer({ JWT_SECRET: TEST_SECRET });
    socket = await connectClient(t.url, { auth: { token: signToken({ userId: 'alice' }) } });
  });
  afterAll(async () => {
    socket.close();
    await t.close();
  });

  it.each(FAILURES)('answers a failed %s on %s, for a client that passes no ack callback', async (event, reply, payload, code) => {
    const replied = waitFor(socket, reply);
    const error = waitFor<SocketErrorPayload>(socket, 'error');
    untypedEmit(socket, event, payload);
    expect(await replied).toEqual({ success: false, error: expect.any(String), code, requestId: expect.any(String) });
    expect(await error).toMatchObject({ event, code });
  });

  it.each(FAILURES)('gives the ack of a failed %s the same object as %s', async (event, reply, payload) => {
    const replied = waitFor(socket, reply);
    const ack = await emitWithAck(socket, event, payload);
    expect(await replied).toEqual(ack);
  });

  it('keeps seed 001 failure events: register_user fails on registration_error only', async () => {
    const registrationSuccess = watchUnwanted(socket, ['registration_success']);
    const failed = waitFor(socket, 'registration_error');
    untypedEmit(socket, 'register_user', { userId: 'someone-else', machineId: 'm' });
    expect(await failed).toEqual({ error: expect.any(String), code: 'FORBIDDEN' });
    await registrationSuccess.expectNothingBefore();
  });
});
