import { Writable } from 'node:stream';
import { pino } from 'pino';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { startServer } from '../support/server.js';

describe('structured logs', () => {
  it('log one line per request with its id, and never keys, tokens, signatures or bodies', async () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    const key = 'logging-test-key-0123456789';
    const t = await startServer({ API_KEYS: key }, { logger: pino({ level: 'info' }, sink) });
    try {
      const res = await request(t.url)
        .post('/api/broadcast')
        .set('X-API-Key', key)
        .set('Authorization', 'Bearer secret-looking-token')
        .set('X-Signature', 'f'.repeat(64))
        .send({ event: 'x', data: { password: 'body-secret' } });
      await request(t.url).get('/api/status').set('X-API-Key', 'wrong-key-value');
      const access = lines.filter((line) => line.msg === 'request completed');
      expect(access.map((line) => line.reqId)).toContain(res.headers['x-request-id']);
      expect(access[0]).toMatchObject({ module: 'http', method: 'POST', url: '/api/broadcast', status: expect.any(Number) });
      const text = JSON.stringify(lines);
      for (const secret of [key, 'secret-looking-token', 'f'.repeat(64), 'body-secret', 'wrong-key-value']) expect(text).not.toContain(secret);
    } finally {
      await t.close();
    }
  });
});
