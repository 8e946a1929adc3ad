import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, waitFor, type TestSocket } from '../support/client.js';
import { startServer, type TestServer } from '../support/server.js';

const exec = promisify(execFile);

describe('POST /notify (seed 000)', () => {
  let t: TestServer;
  let a: TestSocket;
  let b: TestSocket;

  beforeAll(async () => {
    t = await startServer();
    a = await connectClient(t.url);
    b = await connectClient(t.url);
  });
  afterAll(async () => {
    a.close();
    b.close();
    await t.close();
  });

  it('the seed curl example, pasted as is, reaches every connected socket and gets the seed response', async () => {
    const received = Promise.all([waitFor<Record<string, unknown>>(a, 'notification'), waitFor(b, 'notification')]);
    // The seed's example, verbatim except for the port.
    const { stdout } = await exec('bash', [
      '-c',
      `curl -s -X POST ${t.url}/notify \\
    -H "Content-Type: application/json" \\
    -d '{
      "title": "New Message",
      "message": "You have a new message",
      "type": "info",
      "data": {
        "userId": "123",
        "messageId": "456"
      }
    }'`,
    ]);
    const response = JSON.parse(stdout) as Record<string, unknown>;
    expect(response).toMatchObject({ message: 'Notification sent successfully', recipients: 2 });
    expect(typeof response.id).toBe('string');
    expect(Number.isNaN(Date.parse(String(response.timestamp)))).toBe(false);

    const [notification] = await received;
    expect(notification).toEqual({
      title: 'New Message',
      message: 'You have a new message',
      type: 'info',
      data: { userId: '123', messageId: '456' },
      id: response.id,
      timestamp: response.timestamp,
    });
  });

  it('keeps id and timestamp when the sender supplies them', async () => {
    const received = waitFor<Record<string, unknown>>(a, 'notification');
    const body = { id: 'n-1', timestamp: '2020-01-01T00:00:00.000Z', title: 'x' };
    const res = await request(t.url).post('/notify').send(body).expect(200);
    expect(res.body).toMatchObject({ id: 'n-1', timestamp: '2020-01-01T00:00:00.000Z', recipients: 2 });
    expect(await received).toEqual(body);
  });

  it.each([
    ['an array', '[1,2]'],
    ['a string', '"hello"'],
    ['a number', '42'],
    ['null', 'null'],
    ['broken JSON', '{"title":'],
  ])('answers %s with 400 in the seed failure shape', async (_what, raw) => {
    const res = await request(t.url).post('/notify').set('Content-Type', 'application/json').send(raw).expect(400);
    expect(res.body).toMatchObject({
      success: false,
      error: 'Failed to send notification',
      code: 'INVALID_REQUEST',
    });
    expect(typeof res.body.message).toBe('string');
    expect(res.body.requestId).toBe(res.headers['x-request-id']);
  });

  it('refuses a body that is not JSON', async () => {
    const res = await request(t.url).post('/notify').set('Content-Type', 'text/plain').send('hi').expect(400);
    expect(res.body).toMatchObject({ code: 'INVALID_REQUEST', error: 'Failed to send notification' });
  });
});
