import { afterEach, describe, expect, it } from 'vitest';
import type { SocketErrorPayload } from '../../src/contracts/error-codes.js';
import { createTestClock } from '../support/clock.js';
import { connectClient, emitWithAck, waitFor, watchUnwanted, type TestSocket } from '../support/client.js';
import { startServer, type TestServer } from '../support/server.js';
import { TEST_SECRET, signToken } from '../support/tokens.js';

/**
 * Item 4 of issue 10: 100 `message` relays of 900 KB to 6 sockets sent 450 MB out for
 * 90 MB in. A relayed payload is now bounded (MAX_RELAY_BYTES) and so is what one
 * connection relays per minute, counted as bytes times recipients
 * (RATE_LIMIT_RELAY_BYTES_PER_MINUTE).
 */

let t: TestServer | undefined;
const sockets: TestSocket[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.close();
  await t?.close();
  t = undefined;
});

async function user(userId: string): Promise<TestSocket> {
  const socket = await connectClient(t!.url, { auth: { token: signToken({ userId }) } });
  sockets.push(socket);
  return socket;
}

/** A `message` payload for `room` whose JSON is exactly `bytes` long. */
function relayOf(room: string, bytes: number): { room: string; text: string } {
  const overhead = JSON.stringify({ room, text: '' }).length;
  return { room, text: 'x'.repeat(bytes - overhead) };
}

describe('the size of one relayed message (MAX_RELAY_BYTES)', () => {
  it('refuses a larger `message` with PAYLOAD_TOO_LARGE and relays nothing', async () => {
    t = await startServer({ JWT_SECRET: TEST_SECRET, MAX_RELAY_BYTES: '1024' });
    const [sender, receiver] = [await user('sender'), await user('receiver')];
    for (const socket of [sender, receiver]) await emitWithAck(socket, 'room:join', { room: 'r' });

    const relayed = waitFor(receiver, 'message');
    expect(await emitWithAck(sender, 'message', relayOf('r', 1024))).toEqual({ success: true, recipients: 1 });
    expect(await relayed).toMatchObject({ from: 'sender' });

    const unwanted = watchUnwanted(receiver, ['message']);
    const error = waitFor<SocketErrorPayload>(sender, 'error');
    expect(await emitWithAck(sender, 'message', relayOf('r', 1025))).toMatchObject({ success: false, code: 'PAYLOAD_TOO_LARGE' });
    expect(await error).toMatchObject({ event: 'message', code: 'PAYLOAD_TOO_LARGE', message: expect.stringMatching(/MAX_RELAY_BYTES/) });
    // A broadcast (no room) is bounded the same way.
    expect(await emitWithAck(sender, 'message', { text: 'x'.repeat(2000) })).toMatchObject({ success: false, code: 'PAYLOAD_TOO_LARGE' });
    await unwanted.expectNothingBefore();
  });

  it('refuses a larger `client:message` on its ack and on message:ack, and delivers nothing', async () => {
    t = await startServer({ JWT_SECRET: TEST_SECRET, MAX_RELAY_BYTES: '1024' });
    const [sender, receiver] = [await user('sender'), await user('receiver')];
    const unwanted = watchUnwanted(receiver, ['client:message']);
    const reply = waitFor(sender, 'message:ack');
    const ack = await emitWithAck(sender, 'client:message', { content: 'x'.repeat(1100), metadata: { to: 'receiver' } });
    expect(ack).toMatchObject({ success: false, code: 'PAYLOAD_TOO_LARGE' });
    expect(await reply).toEqual(ack);
    await unwanted.expectNothingBefore();
  });
});

describe('bytes relayed per connection and minute (RATE_LIMIT_RELAY_BYTES_PER_MINUTE)', () => {
  it('counts each relay as its size times its recipients, refuses beyond with RATE_LIMITED, and refills after the minute', async () => {
    const clock = createTestClock();
    t = await startServer({ JWT_SECRET: TEST_SECRET, MAX_RELAY_BYTES: '4096', RATE_LIMIT_RELAY_BYTES_PER_MINUTE: '10000' }, { clock });
    const sender = await user('sender');
    const audience = [await user('a'), await user('b'), await user('c')];
    for (const socket of [sender, ...audience]) await emitWithAck(socket, 'room:join', { room: 'big' });
    const received: unknown[] = [];
    audience[0]!.on('message', (payload) => received.push(payload));

    // 1,000 bytes to 3 recipients costs 3,000: three fit in 10,000, a fourth does not.
    for (let i = 0; i < 3; i++) expect(await emitWithAck(sender, 'message', relayOf('big', 1000))).toEqual({ success: true, recipients: 3 });
    const limited = await emitWithAck<{ retryAfter: number }>(sender, 'message', relayOf('big', 1000));
    expect(limited).toMatchObject({ success: false, code: 'RATE_LIMITED', retryAfter: expect.any(Number) });
    expect(limited.retryAfter).toBeGreaterThan(0);
    expect(limited.retryAfter).toBeLessThanOrEqual(60);
    // The same bytes to nobody cost nothing; to one recipient, 1,000, which still fits.
    await emitWithAck(sender, 'room:join', { room: 'empty' });
    expect(await emitWithAck(sender, 'message', relayOf('empty', 1000))).toEqual({ success: true, recipients: 0 });
    await emitWithAck(audience[1]!, 'room:join', { room: 'pair' });
    await emitWithAck(sender, 'room:join', { room: 'pair' });
    expect(await emitWithAck(sender, 'message', relayOf('pair', 1000))).toEqual({ success: true, recipients: 1 });
    expect(await emitWithAck(sender, 'message', relayOf('pair', 1000))).toMatchObject({ success: false, code: 'RATE_LIMITED' });

    // `client:message` spends from the same budget.
    expect(await emitWithAck(sender, 'client:message', { content: 'hi', metadata: { to: 'a' } })).toMatchObject({ success: false, code: 'RATE_LIMITED' });

    // Another connection has its own budget.
    const other = await user('other');
    await emitWithAck(other, 'room:join', { room: 'big' });
    expect(await emitWithAck(other, 'message', relayOf('big', 1000))).toEqual({ success: true, recipients: 4 });

    clock.advance(60_000);
    expect(await emitWithAck(sender, 'message', relayOf('big', 1000))).toEqual({ success: true, recipients: 4 });
    // The sentinel: anything relayed to audience[0] so far has arrived once its ping is answered.
    await emitWithAck(audience[0]!, 'ping', {});
    // Three before the limit, one from `other`, one after the minute; the refused ones never arrived.
    expect(received).toHaveLength(5);
  });

  it('answers a relay larger than a whole minute of budget with PAYLOAD_TOO_LARGE (waiting would not help)', async () => {
    t = await startServer({ JWT_SECRET: TEST_SECRET, MAX_RELAY_BYTES: '4096', RATE_LIMIT_RELAY_BYTES_PER_MINUTE: '5000' });
    const sender = await user('sender');
    for (const socket of [sender, await user('a'), await user('b')]) await emitWithAck(socket, 'room:join', { room: 'r' });
    const refused = await emitWithAck(sender, 'message', relayOf('r', 3000));
    expect(refused).toMatchObject({ success: false, code: 'PAYLOAD_TOO_LARGE', error: expect.stringMatching(/RATE_LIMIT_RELAY_BYTES_PER_MINUTE/) });
    expect(await emitWithAck(sender, 'message', relayOf('r', 2000))).toEqual({ success: true, recipients: 2 });
  });
});
