import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, waitFor, watchUnwanted, type TestSocket } from '../support/client.js';
import { startServer, type TestServer } from '../support/server.js';

describe('delivery API: /api/push, /api/broadcast, /api/room (seed 002)', () => {
  let t: TestServer;
  let alice: TestSocket;
  let bob: TestSocket;

  beforeAll(async () => {
    t = await startServer();
    alice = await connectClient(t.url);
    bob = await connectClient(t.url);
    // Put the sockets in rooms from the server side, the way the socket gateway does
    // for identified users; this file tests HTTP delivery, not identity.
    t.server.io.in(alice.id!).socketsJoin(['user:alice', 'news']);
    t.server.io.in(bob.id!).socketsJoin(['user:bob']);
  });
  afterAll(async () => {
    alice.close();
    bob.close();
    await t.close();
  });

  it('pushes to one user only', async () => {
    const got = waitFor(alice, 'order:shipped');
    const toBob = watchUnwanted(bob, ['order:shipped']);
    const res = await request(t.url)
      .post('/api/push')
      .send({ userId: 'alice', event: 'order:shipped', data: { orderId: 7 } })
      .expect(200);
    expect(res.body).toMatchObject({ success: true, delivered: true, recipients: 1 });
    expect(typeof res.body.messageId).toBe('string');
    expect(typeof res.body.timestamp).toBe('string');
    expect(await got).toEqual({ orderId: 7 });
    await toBob.expectNothingBefore();
  });

  it('defaults the event to notification and pushes to many users', async () => {
    const got = Promise.all([waitFor(alice, 'notification'), waitFor(bob, 'notification')]);
    const res = await request(t.url)
      .post('/api/push')
      .send({ userIds: ['alice', 'bob', 'carol'], data: { hi: 1 } })
      .expect(200);
    expect(res.body).toMatchObject({ delivered: true, recipients: 2 });
    expect(await got).toEqual([{ hi: 1 }, { hi: 1 }]);
  });

  it('reports delivered:false for a user with no socket', async () => {
    const res = await request(t.url).post('/api/push').send({ userId: 'nobody' }).expect(200);
    expect(res.body).toMatchObject({ success: true, delivered: false, recipients: 0 });
  });

  it.each([
    ['no user', { event: 'x' }],
    ['both userId and userIds', { userId: 'a', userIds: ['b'] }],
    ['more than 1000 users', { userIds: Array.from({ length: 1001 }, (_, i) => `u${i}`) }],
    ['a reserved event name', { userId: 'a', event: 'disconnect' }],
    ['the error event', { userId: 'a', event: 'error' }],
    ['an event name with spaces', { userId: 'a', event: 'bad name' }],
    ['a 65-character event name', { userId: 'a', event: 'e'.repeat(65) }],
    ['an empty user id', { userId: '' }],
  ])('refuses a push with %s (400 INVALID_REQUEST)', async (_what, body) => {
    const res = await request(t.url).post('/api/push').send(body).expect(400);
    expect(res.body).toMatchObject({ success: false, code: 'INVALID_REQUEST' });
    expect(res.body.error).toMatch(/invalid/i);
  });

  it('broadcasts to everyone', async () => {
    const got = Promise.all([waitFor(alice, 'system:notification'), waitFor(bob, 'system:notification')]);
    const data = { title: 'Maintenance', message: 'at 10', type: 'warning' };
    const res = await request(t.url).post('/api/broadcast').send({ event: 'system:notification', data }).expect(200);
    expect(res.body).toMatchObject({ success: true, recipients: 2 });
    expect(await got).toEqual([data, data]);
  });

  it('emits to a room only', async () => {
    const got = waitFor(alice, 'headline');
    const toBob = watchUnwanted(bob, ['headline']);
    const res = await request(t.url).post('/api/room').send({ room: 'news', event: 'headline', data: 'big' }).expect(200);
    expect(res.body).toMatchObject({ success: true, recipients: 1 });
    expect(await got).toBe('big');
    await toBob.expectNothingBefore();
  });

  it('refuses a bad room name', async () => {
    const res = await request(t.url).post('/api/room').send({ room: 'has space', event: 'x' }).expect(400);
    expect(res.body.code).toBe('INVALID_REQUEST');
  });
});
