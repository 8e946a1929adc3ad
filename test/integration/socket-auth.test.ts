import jwt from 'jsonwebtoken';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConnectionStatusPayload } from '../../src/contracts/events.js';
import { connectClient, connectError, waitFor } from '../support/client.js';
import { startServer, type TestServer } from '../support/server.js';
import { TEST_SECRET, ecKeyPair, rsaKeyPair, signToken, signTokenWithoutExp, unsignedToken } from '../support/tokens.js';

const rsa = rsaKeyPair();
const ec = ecKeyPair();

describe('socket identity: where the token comes from', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startServer({ JWT_SECRET: TEST_SECRET, ALLOW_ANONYMOUS: 'false' });
  });
  afterAll(() => t.close());

  it.each([
    ['auth.token', (token: string) => ({ auth: { token } })],
    ['the token query parameter', (token: string) => ({ query: { token } })],
    ['an Authorization: Bearer header', (token: string) => ({ extraHeaders: { Authorization: `Bearer ${token}` } })],
  ])('accepts a token in %s and joins the user room', async (_where, options) => {
    const token = signToken({ userId: 'alice' });
    const { io } = await import('socket.io-client');
    const socket = io(t.url, { transports: ['websocket'], forceNew: true, ...options(token) });
    try {
      const status = await waitFor<ConnectionStatusPayload>(socket, 'connection_status');
      expect(status.userId).toBe('alice');
      const pushed = waitFor(socket, 'notification');
      const res = await request(t.url).post('/api/push').send({ userId: 'alice', data: { hi: 1 } }).expect(200);
      expect(res.body.recipients).toBe(1);
      expect(await pushed).toEqual({ hi: 1 });
    } finally {
      socket.close();
    }
  });

  it('uses sub when there is no userId claim, and greets with the user id', async () => {
    const { io } = await import('socket.io-client');
    const socket = io(t.url, { auth: { token: signToken({ sub: 'bob' }) }, transports: ['websocket'], forceNew: true });
    try {
      const [status, welcome, connected] = await Promise.all([
        waitFor<ConnectionStatusPayload>(socket, 'connection_status'),
        waitFor<Record<string, unknown>>(socket, 'system:welcome'),
        waitFor<Record<string, unknown>>(socket, 'connected'),
      ]);
      expect(status).toEqual({ connected: true, socketId: socket.id, userId: 'bob', timestamp: expect.any(String) });
      expect(welcome).toMatchObject({ message: expect.any(String), socketId: socket.id, serverInfo: { environment: 'test' } });
      expect(connected).toMatchObject({ socketId: socket.id, userId: 'bob' });
    } finally {
      socket.close();
    }
  });

  it.each([
    ['no token', {}, 'UNAUTHORIZED'],
    ['a malformed token', { auth: { token: 'not.a.jwt' } }, 'UNAUTHORIZED'],
    ['an expired token', { auth: { token: signToken({ userId: 'a' }, { ttlSeconds: -120 }) } }, 'TOKEN_EXPIRED'],
    ['an alg:none token', { auth: { token: unsignedToken({ userId: 'a' }) } }, 'UNAUTHORIZED'],
    ['an HS512 token (wrong algorithm, right secret)', { auth: { token: signToken({ userId: 'a' }, { algorithm: 'HS512' }) } }, 'UNAUTHORIZED'],
    ['a token signed with another secret', { auth: { token: signToken({ userId: 'a' }, { secret: 'x'.repeat(40) }) } }, 'UNAUTHORIZED'],
    ['a token without exp', { auth: { token: signTokenWithoutExp({ userId: 'a' }) } }, 'UNAUTHORIZED'],
    ['a token without userId or sub', { auth: { token: signToken({ name: 'a' }) } }, 'UNAUTHORIZED'],
    ['an RS256 token when no public key is configured', { auth: { token: jwt.sign({ userId: 'a', exp: Math.floor(Date.now() / 1000) + 60 }, rsa.privateKey, { algorithm: 'RS256' }) } }, 'UNAUTHORIZED'],
  ])('refuses %s with connect_error %s', async (_what, options, code) => {
    const err = await connectError(t.url, options);
    expect(err.data?.code).toBe(code);
    expect(err.message.length).toBeGreaterThan(0);
  });
});

describe('socket identity: issuer, audience and public keys', () => {
  it('checks JWT_ISSUER and JWT_AUDIENCE when set', async () => {
    const t = await startServer({ JWT_SECRET: TEST_SECRET, JWT_ISSUER: 'https://auth.example.com', JWT_AUDIENCE: 'notify' });
    try {
      const good = signToken({ userId: 'a', iss: 'https://auth.example.com', aud: 'notify' });
      (await connectClient(t.url, { auth: { token: good } })).close();
      const wrongIssuer = signToken({ userId: 'a', iss: 'https://evil.example.com', aud: 'notify' });
      expect((await connectError(t.url, { auth: { token: wrongIssuer } })).data?.code).toBe('UNAUTHORIZED');
      const wrongAudience = signToken({ userId: 'a', iss: 'https://auth.example.com', aud: 'other' });
      expect((await connectError(t.url, { auth: { token: wrongAudience } })).data?.code).toBe('UNAUTHORIZED');
    } finally {
      await t.close();
    }
  });

  it('verifies RS256 with JWT_PUBLIC_KEY and refuses the public key used as an HMAC secret', async () => {
    const t = await startServer({ JWT_SECRET: TEST_SECRET, JWT_PUBLIC_KEY: rsa.publicKey });
    try {
      const exp = Math.floor(Date.now() / 1000) + 60;
      const rs256 = jwt.sign({ userId: 'r', exp }, rsa.privateKey, { algorithm: 'RS256' });
      (await connectClient(t.url, { auth: { token: rs256 } })).close();
      const confused = signToken({ userId: 'r' }, { secret: rsa.publicKey });
      expect((await connectError(t.url, { auth: { token: confused } })).data?.code).toBe('UNAUTHORIZED');
      const es256 = jwt.sign({ userId: 'r', exp }, ec.privateKey, { algorithm: 'ES256' });
      expect((await connectError(t.url, { auth: { token: es256 } })).data?.code).toBe('UNAUTHORIZED');
    } finally {
      await t.close();
    }
  });

  it('verifies ES256 with an EC JWT_PUBLIC_KEY', async () => {
    const t = await startServer({ JWT_SECRET: TEST_SECRET, JWT_PUBLIC_KEY: ec.publicKey });
    try {
      const es256 = jwt.sign({ userId: 'e', exp: Math.floor(Date.now() / 1000) + 60 }, ec.privateKey, { algorithm: 'ES256' });
      (await connectClient(t.url, { auth: { token: es256 } })).close();
    } finally {
      await t.close();
    }
  });
});

describe('anonymous sockets and connection limits', () => {
  it('lets anonymous sockets in when ALLOW_ANONYMOUS is on, but never downgrades a bad token', async () => {
    const t = await startServer({ JWT_SECRET: TEST_SECRET, ALLOW_ANONYMOUS: 'true' });
    try {
      const { io } = await import('socket.io-client');
      const socket = io(t.url, { transports: ['websocket'], forceNew: true });
      const status = await waitFor<ConnectionStatusPayload>(socket, 'connection_status');
      expect(status.userId).toBeNull();
      socket.close();
      expect((await connectError(t.url, { auth: { token: 'garbage' } })).data?.code).toBe('UNAUTHORIZED');
    } finally {
      await t.close();
    }
  });

  it('limits new connections per IP with RATE_LIMITED and retryAfter', async () => {
    const t = await startServer({ RATE_LIMIT_WS_CONNECTIONS_PER_MINUTE: '2' });
    try {
      const a = await connectClient(t.url);
      const b = await connectClient(t.url);
      const err = await connectError(t.url);
      expect(err.data?.code).toBe('RATE_LIMITED');
      expect(err.data?.retryAfter).toBeGreaterThan(0);
      a.close();
      b.close();
      const metrics = await request(t.url).get('/metrics');
      expect(metrics.text).toMatch(/socket_server_rate_limited_total\{scope="ws_connection"\} 1/);
    } finally {
      await t.close();
    }
  });

  it('counts connections by authenticated/anonymous and transport', async () => {
    const t = await startServer({ JWT_SECRET: TEST_SECRET });
    try {
      const anonymous = await connectClient(t.url);
      const authenticated = await connectClient(t.url, { auth: { token: signToken({ userId: 'm' }) } });
      const polling = await connectClient(t.url, { transports: ['polling'], auth: { token: signToken({ userId: 'p' }) } });
      const text = (await request(t.url).get('/metrics')).text;
      expect(text).toContain('socket_server_connections_total{authenticated="false",transport="websocket"} 1');
      expect(text).toContain('socket_server_connections_total{authenticated="true",transport="websocket"} 1');
      expect(text).toContain('socket_server_connections_total{authenticated="true",transport="polling"} 1');
      expect(text).toContain('socket_server_active_connections 3');
      anonymous.close();
      authenticated.close();
      polling.close();
    } finally {
      await t.close();
    }
  });
});
