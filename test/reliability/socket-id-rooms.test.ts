import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, emitWithAck, waitFor, watchUnwanted, type TestSocket } from '../support/client.js';
import { startServer, type TestServer } from '../support/server.js';
import { TEST_SECRET, signToken } from '../support/tokens.js';

/**
 * Item 5 of issue 10: every socket sits in a room named after its id, and its own replies
 * (`pong`, `server:response`, ...) travel through that room. `room:join { room: <alice's
 * socket id> }` used to succeed, and the joiner then received Alice's replies.
 */
describe('rooms named after a socket id', () => {
  let t: TestServer;
  let alice: TestSocket;
  let mallory: TestSocket;
  beforeAll(async () => {
    t = await startServer({ JWT_SECRET: TEST_SECRET });
    alice = await connectClient(t.url, { auth: { token: signToken({ userId: 'alice' }) } });
    mallory = await connectClient(t.url, { auth: { token: signToken({ userId: 'mallory' }) } });
  });
  afterAll(async () => {
    alice.close();
    mallory.close();
    await t.close();
  });

  it("refuses joining another socket's id room with FORBIDDEN, by room:join and by subscribe", async () => {
    const aliceId = alice.id!;
    const reply = waitFor(mallory, 'room:join:ack');
    expect(await emitWithAck(mallory, 'room:join', { room: aliceId })).toMatchObject({ success: false, code: 'FORBIDDEN' });
    expect(await reply).toMatchObject({ success: false, code: 'FORBIDDEN', error: expect.stringMatching(/socket id/) });
    expect(await emitWithAck(mallory, 'subscribe', aliceId)).toMatchObject({ success: false, code: 'FORBIDDEN' });
    // Nor can a message be sent into it.
    expect(await emitWithAck(mallory, 'message', { room: aliceId, text: 'hi' })).toMatchObject({ success: false, code: 'FORBIDDEN' });
  });

  it("does not let Alice's replies reach the would-be joiner", async () => {
    await emitWithAck(mallory, 'room:join', { room: alice.id! });
    const overheard = watchUnwanted(mallory, ['pong', 'server:response', 'action:result', 'message:ack', 'room:join:ack']);
    await emitWithAck(alice, 'ping', {});
    await emitWithAck(alice, 'client:event', { type: 'echo', data: 'private' });
    await emitWithAck(alice, 'client:action', { action: 'whoami' });
    await emitWithAck(alice, 'client:message', { content: 'to nobody' });
    await emitWithAck(alice, 'room:join', { room: 'alice-only' });
    // Alice's replies were sent before this; anything of them for Mallory arrives before its answer.
    await overheard.expectNothingBefore(() => emitWithAck(mallory, 'room:leave', { room: 'never-joined' }));
  });

  it('refuses any room of the form of a socket id (sockets elsewhere, or about to recover), and leaving one', async () => {
    expect(await emitWithAck(mallory, 'room:join', { room: 'AbCdEfGhIjKlMnOpQr_-' })).toMatchObject({ success: false, code: 'FORBIDDEN' });
    expect(await emitWithAck(mallory, 'room:leave', { room: mallory.id! })).toMatchObject({ success: false, code: 'FORBIDDEN' });
    expect(await emitWithAck(mallory, 'unsubscribe', mallory.id!)).toMatchObject({ success: false, code: 'FORBIDDEN' });
    // Still hers: her own replies still arrive.
    expect(await emitWithAck(mallory, 'ping', {})).toEqual({ timestamp: expect.any(String) });
    // Room names of another length, or with other characters, are ordinary rooms.
    expect(await emitWithAck(mallory, 'room:join', { room: 'AbCdEfGhIjKlMnOpQr_-x' })).toEqual({ success: true, room: 'AbCdEfGhIjKlMnOpQr_-x' });
    expect(await emitWithAck(mallory, 'room:join', { room: 'AbCdEfGhIjKlMnOpQr:-' })).toEqual({ success: true, room: 'AbCdEfGhIjKlMnOpQr:-' });
  });

  it('keeps refusing the reserved prefixes', async () => {
    for (const room of ['user:alice', 'tenant:acme:user:alice', 'session:123']) {
      expect(await emitWithAck(mallory, 'room:join', { room })).toMatchObject({ success: false, code: 'FORBIDDEN' });
      expect(await emitWithAck(mallory, 'room:leave', { room })).toMatchObject({ success: false, code: 'FORBIDDEN' });
    }
  });
});
