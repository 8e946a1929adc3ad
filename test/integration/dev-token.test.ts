import request from 'supertest';
import { describe, expect, it } from 'vitest';
import type { ConnectionStatusPayload } from '../../src/contracts/events.js';
import { io } from 'socket.io-client';
import { waitFor, type TestSocket } from '../support/client.js';
import { startServer } from '../support/server.js';
import { TEST_SECRET } from '../support/tokens.js';

describe('POST /api/dev/token', () => {
  it('issues a token the socket gateway accepts (development only)', async () => {
    const t = await startServer({ ALLOW_ANONYMOUS: 'false' });
    try {
      const res = await request(t.url).post('/api/dev/token').send({ userId: 'dev-user', tenantId: 'acme' }).expect(200);
      expect(res.body).toEqual({ token: expect.any(String), expiresAt: expect.any(String) });
      expect(Date.parse(res.body.expiresAt)).toBeGreaterThan(Date.now() + 3500_000);
      const socket: TestSocket = io(t.url, { auth: { token: res.body.token }, transports: ['websocket'], forceNew: true });
      expect((await waitFor<ConnectionStatusPayload>(socket, 'connection_status')).userId).toBe('dev-user');
      expect((await request(t.url).get('/api/users/dev-user/presence?tenantId=acme')).body.online).toBe(true);
      socket.close();
      expect((await request(t.url).post('/api/dev/token').send({}).expect(400)).body.code).toBe('INVALID_REQUEST');
    } finally {
      await t.close();
    }
  });

  it('does not exist in production', async () => {
    const t = await startServer({ NODE_ENV: 'production', API_KEYS: 'production-key-0123456789', JWT_SECRET: TEST_SECRET });
    try {
      const res = await request(t.url).post('/api/dev/token').set('X-API-Key', 'production-key-0123456789').send({ userId: 'x' }).expect(404);
      expect(res.body.code).toBe('NOT_FOUND');
    } finally {
      await t.close();
    }
  });
});
