import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, connectError, emitWithAck, waitFor, watchUnwanted, type TestSocket } from '../support/client.js';
import { startServer, type TestServer } from '../support/server.js';
import { TEST_SECRET, signToken } from '../support/tokens.js';

/**
 * Seed 003's tenants: clients connect with `auth: { token, tenantId }` and backends emit
 * to `tenant_{tenantId}:user_{userId}`. The tenant is the token's claim only.
 */

let t: TestServer;
const sockets: TestSocket[] = [];
const connect = async (auth: Record<string, unknown>) => {
  const socket = await connectClient(t.url, { auth });
  sockets.push(socket);
  return socket;
};

beforeAll(async () => {
  // Anonymous sockets allowed, so that "no token" and "no claim" are both reachable.
  t = await startServer({ JWT_SECRET: TEST_SECRET, ALLOW_ANONYMOUS: 'true' });
});
afterAll(async () => {
  for (const socket of sockets) socket.close();
  await t?.close();
});

describe('auth.tenantId beside the token', () => {
  it('accepts it when it equals the token claim, as a string or as the number the seed client has', async () => {
    const asString = await connect({ token: signToken({ userId: 'u1', tenantId: 't1' }), tenantId: 't1' });
    const whoami = await emitWithAck<{ result: unknown }>(asString, 'client:action', { action: 'whoami' });
    expect(whoami.result).toMatchObject({ userId: 'u1', tenantId: 't1', authenticated: true });

    const asNumber = await connect({ token: signToken({ userId: '5', tenantId: 7 }), tenantId: 7 });
    expect((await emitWithAck<{ result: unknown }>(asNumber, 'client:action', { action: 'whoami' })).result).toMatchObject({ tenantId: '7' });
    const mixed = await connect({ token: signToken({ userId: '5', tenantId: 7 }), tenantId: '7' });
    expect((await emitWithAck<{ result: unknown }>(mixed, 'client:action', { action: 'whoami' })).result).toMatchObject({ tenantId: '7' });
  });

  it('accepts a null tenantId (a user without a tenant) as not given', async () => {
    const socket = await connect({ token: signToken({ userId: 'plain' }), tenantId: null });
    expect((await emitWithAck<{ result: unknown }>(socket, 'client:action', { action: 'whoami' })).result).toMatchObject({ userId: 'plain', tenantId: null });
  });

  it.each([
    ['another tenant than the claim', { token: signToken({ userId: 'u1', tenantId: 't1' }), tenantId: 't2' }],
    ['the claim as a number that differs', { token: signToken({ userId: 'u1', tenantId: 7 }), tenantId: 8 }],
    ['a value that is not a tenant id', { token: signToken({ userId: 'u1', tenantId: 't1' }), tenantId: { $ne: null } }],
    ['a token with no tenantId claim', { token: signToken({ userId: 'u1' }), tenantId: 't1' }],
    ['no token at all (anonymous)', { tenantId: 't1' }],
  ])('refuses the connection with FORBIDDEN for %s', async (_case, auth) => {
    const err = await connectError(t.url, { auth });
    expect(err.data?.code).toBe('FORBIDDEN');
    expect(err.message).toMatch(/tenant/);
  });

  it('still refuses a bad token as UNAUTHORIZED, before looking at the tenant', async () => {
    const err = await connectError(t.url, { auth: { token: 'not.a.jwt', tenantId: 't1' } });
    expect(err.data?.code).toBe('UNAUTHORIZED');
  });
});

describe('the seed room name tenant_{tenantId}:user_{userId}', () => {
  it('reaches that user of that tenant through POST /api/room, and not the same user id in another tenant or without one', async () => {
    const t1 = await connect({ token: signToken({ userId: 'dj', tenantId: 't1' }), tenantId: 't1' });
    const t1Second = await connect({ token: signToken({ userId: 'dj', tenantId: 't1' }) });
    const t2 = await connect({ token: signToken({ userId: 'dj', tenantId: 't2' }), tenantId: 't2' });
    const noTenant = await connect({ token: signToken({ userId: 'dj' }) });
    const otherUser = await connect({ token: signToken({ userId: 'dj2', tenantId: 't1' }) });

    const got = [waitFor(t1, 'job:assigned'), waitFor(t1Second, 'job:assigned')];
    const unwanted = [t2, noTenant, otherUser].map((socket) => watchUnwanted(socket, ['job:assigned']));
    const res = await request(t.url).post('/api/room').send({ room: 'tenant_t1:user_dj', event: 'job:assigned', data: { jobId: 1 } }).expect(200);
    expect(res.body.recipients).toBe(2);
    expect(await Promise.all(got)).toEqual([{ jobId: 1 }, { jobId: 1 }]);
    for (const watch of unwanted) await watch.expectNothingBefore();
  });

  it('maps tenant ids with _ . - and user ids with : in them', async () => {
    const socket = await connect({ token: signToken({ userId: 'team:lead', tenantId: 'a_b.c-d' }) });
    const got = waitFor(socket, 'ping:seed');
    const res = await request(t.url).post('/api/room').send({ room: 'tenant_a_b.c-d:user_team:lead', event: 'ping:seed', data: 1 }).expect(200);
    expect(res.body.recipients).toBe(1);
    expect(await got).toBe(1);
  });

  it('can never be joined by a client, so nobody else hears what is sent there', async () => {
    const intruder = await connect({ token: signToken({ userId: 'u9', tenantId: 't2' }) });
    const victim = await connect({ token: signToken({ userId: 'victim', tenantId: 't1' }) });
    for (const room of ['tenant_t1:user_victim', 'tenant_anything']) {
      expect(await emitWithAck(intruder, 'room:join', { room })).toMatchObject({ success: false, code: 'FORBIDDEN' });
      expect(await emitWithAck(intruder, 'subscribe', room)).toMatchObject({ success: false, code: 'FORBIDDEN' });
    }
    const heard = waitFor<string>(victim, 'secret');
    const unwanted = watchUnwanted(intruder, ['secret']);
    await request(t.url).post('/api/room').send({ room: 'tenant_t1:user_victim', event: 'secret', data: 's' }).expect(200);
    expect(await heard).toBe('s');
    await unwanted.expectNothingBefore();
  });
});
