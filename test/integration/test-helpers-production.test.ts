import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AckFailure, SocketErrorPayload } from '../../src/contracts/error-codes.js';
import type { BroadcastPayload, TestNotificationReply } from '../../src/contracts/test-helpers.js';
import { loadConfig } from '../../src/config.js';
import { logStartupBanner } from '../../src/startup-banner.js';
import { connectClient, emitWithAck, waitFor, watchUnwanted, type TestSocket } from '../support/client.js';
import { startServerProcess, stopServerProcess, type ServerProcess } from '../support/server-process.js';
import { startServer, type TestServer } from '../support/server.js';
import { signToken } from '../support/tokens.js';

/**
 * The development helpers exist only outside production, or in production with
 * ENABLE_TEST_ENDPOINTS=true set explicitly. Off, a `test:*` socket event answers exactly
 * as an unknown one (UNKNOWN_ACTION) and `POST /socket/test/*` is 404 exactly as an unknown
 * route, even for a valid user token; nothing is sent or stored. On in production, they
 * work, and start-up says so loudly.
 */

const HELPER_ROUTES = ['notification', 'email', 'event', 'alarm', 'broadcast'];
/** Every development helper event of seeds 003 and 004, the job ones included. */
const HELPER_EVENTS = ['test:notification', 'test:create-job', 'test:assign-job'];

/** What production insists on, freshly generated so no weak-secret rule refuses it. */
function productionEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    NODE_ENV: 'production',
    API_KEYS: randomBytes(32).toString('base64url'),
    JWT_SECRET: randomBytes(48).toString('base64'),
    ALLOWED_ORIGINS: 'https://app.example.com',
    LOG_LEVEL: 'silent',
    ...extra,
  };
}

describe('the flag', () => {
  const base = productionEnv();
  it.each([
    ['development', true, { NODE_ENV: 'development' }],
    ['test', true, { NODE_ENV: 'test' }],
    ['development with ENABLE_TEST_ENDPOINTS=false', false, { NODE_ENV: 'development', ENABLE_TEST_ENDPOINTS: 'false' }],
    ['production', false, base],
    ['production with ENABLE_TEST_ENDPOINTS=false', false, { ...base, ENABLE_TEST_ENDPOINTS: 'false' }],
    ['production with ENABLE_TEST_ENDPOINTS empty', false, { ...base, ENABLE_TEST_ENDPOINTS: '' }],
    ['production with ENABLE_TEST_ENDPOINTS=true', true, { ...base, ENABLE_TEST_ENDPOINTS: 'true' }],
  ])('%s: test helpers on is %s', (_name, on, env) => {
    expect(loadConfig(env).testHelpers).toBe(on);
  });

  it('refuses a value that is not a boolean, naming the variable', () => {
    expect(() => loadConfig({ ...base, ENABLE_TEST_ENDPOINTS: 'sometimes' })).toThrow(/ENABLE_TEST_ENDPOINTS/);
  });

  it.each([
    ['on in production: a warning', { ...base, ENABLE_TEST_ENDPOINTS: 'true' }, true],
    ['off in production: none', base, false],
    ['on in development: none (that is the default)', { NODE_ENV: 'development' }, false],
  ])('the start-up banner, %s', (_name, env, warned) => {
    const lines: Array<{ level: number; msg: string }> = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(JSON.parse(chunk.toString()) as { level: number; msg: string });
        done();
      },
    });
    logStartupBanner(pino({ level: 'info' }, sink), loadConfig(env), 3000);
    const warning = lines.find((line) => line.msg.includes('ENABLE_TEST_ENDPOINTS'));
    if (warned) expect(warning).toMatchObject({ level: 40, msg: expect.stringContaining('in production') });
    else expect(warning).toBeUndefined();
  });
});

describe('production without ENABLE_TEST_ENDPOINTS', () => {
  let t: TestServer;
  let secret: string;
  const open: TestSocket[] = [];

  beforeAll(async () => {
    t = await startServer(productionEnv());
    secret = t.config.jwt.secret;
  });
  afterAll(async () => {
    for (const socket of open) socket.close();
    await t?.close();
  });

  const connect = async (userId: string) => {
    const socket = await connectClient(t.url, { auth: { token: signToken({ userId }, { secret }) } });
    open.push(socket);
    return socket;
  };

  it.each(HELPER_EVENTS)('%s answers exactly as an unknown test:* event, on the ack and `error`, and sends nothing', async (event) => {
    const socket = await connect(`prod-${event}`);
    const nothing = watchUnwanted(socket, ['notification', 'notification:new', 'notification:unread-count', 'test:notification:ack', 'job:assigned']);
    const answerTo = async (name: string, payload: unknown) => {
      const error = waitFor<SocketErrorPayload>(socket, 'error');
      const ack = await emitWithAck<AckFailure>(socket, name, payload);
      return { ack, error: await error };
    };
    const helper = await answerTo(event, { type: 'info', title: 'x', message: 'y', projectId: 1, jobTypeId: 2, subject: 'Test Job', jobId: 5, assigneeId: 3 });
    const unknown = await answerTo('test:never-existed', {});
    expect(helper.ack).toEqual({ success: false, code: 'UNKNOWN_ACTION', error: `Unknown event: ${event}`, requestId: expect.any(String) });
    expect(helper.error).toEqual({ event, code: 'UNKNOWN_ACTION', message: `Unknown event: ${event}` });
    // Indistinguishable from an event that never existed, but for the name.
    expect({ ...unknown.ack, requestId: 'r', error: 'e' }).toEqual({ ...helper.ack, requestId: 'r', error: 'e' });
    expect(unknown.error).toEqual({ event: 'test:never-existed', code: 'UNKNOWN_ACTION', message: 'Unknown event: test:never-existed' });
    await nothing.expectNothingBefore();
    expect(await emitWithAck(socket, 'notification:list', {})).toMatchObject({ notifications: [], unreadCount: 0 });
  });

  it.each(HELPER_ROUTES)('POST /socket/test/%s is 404 as an unknown route, even with a valid user token', async (kind) => {
    const watcher = await connect('prod-http');
    const nothing = watchUnwanted(watcher, ['notification', 'notification:new', 'broadcast']);
    const token = signToken({ userId: 'prod-http' }, { secret });
    const helper = await request(t.url).post(`/socket/test/${kind}`).set('Authorization', `Bearer ${token}`).send({ title: 'x' });
    const unknown = await request(t.url).post('/socket/test/never-existed').set('Authorization', `Bearer ${token}`).send({ title: 'x' });
    expect(helper.status).toBe(404);
    expect(helper.body).toEqual({ ...unknown.body, requestId: helper.body.requestId, error: `No route for POST /socket/test/${kind}` });
    expect(helper.body).toMatchObject({ success: false, code: 'NOT_FOUND' });
    await nothing.expectNothingBefore();
    const inbox = await request(t.url).get('/api/users/prod-http/notifications').set('Authorization', `Bearer ${token}`).expect(200);
    expect(inbox.body.notifications).toEqual([]);
  });

  it('/openapi.json does not mention them', async () => {
    const doc = (await request(t.url).get('/openapi.json').expect(200)).body as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths).filter((p) => p.startsWith('/socket/test/'))).toEqual([]);
  });
});

describe('production with ENABLE_TEST_ENDPOINTS=true', () => {
  let t: TestServer;
  const open: TestSocket[] = [];

  beforeAll(async () => {
    t = await startServer(productionEnv({ ENABLE_TEST_ENDPOINTS: 'true' }));
  });
  afterAll(async () => {
    for (const socket of open) socket.close();
    await t?.close();
  });

  it('test:notification stores and answers the record', async () => {
    const socket = await connectClient(t.url, { auth: { token: signToken({ userId: 'qa' }, { secret: t.config.jwt.secret }) } });
    open.push(socket);
    const reply = await emitWithAck<TestNotificationReply>(socket, 'test:notification', { type: 'job_assigned', priority: 'HIGH', title: 'Test Notification', message: 'This is a test' });
    expect(reply).toMatchObject({ success: true, notification: { userId: 'qa', type: 'job_assigned', priority: 'HIGH', readAt: null } });
  });

  it('POST /socket/test/* work, and are documented', async () => {
    const token = signToken({ userId: 'qa-http' }, { secret: t.config.jwt.secret });
    const socket = await connectClient(t.url, { auth: { token } });
    open.push(socket);
    const got = waitFor<BroadcastPayload>(socket, 'broadcast');
    const email = await request(t.url).post('/socket/test/email').set('Authorization', `Bearer ${token}`).send({ from: 'qa@example.com', subject: 'Prod' }).expect(200);
    expect(email.body).toMatchObject({ ok: true, message: 'Email notification sent', userConnected: true });
    await request(t.url).post('/socket/test/broadcast').set('Authorization', `Bearer ${token}`).send({ title: 'T', message: 'M' }).expect(200);
    expect(await got).toMatchObject({ title: 'T', message: 'M', from: 'qa-http' });
    const doc = (await request(t.url).get('/openapi.json').expect(200)).body as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths).filter((p) => p.startsWith('/socket/test/')).sort()).toEqual(HELPER_ROUTES.map((kind) => `/socket/test/${kind}`).sort());
  });
});

describe('the real entry point in production with ENABLE_TEST_ENDPOINTS=true', { timeout: 60_000 }, () => {
  let server: ServerProcess | undefined;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'notify-test-helpers-'));
    server = await startServerProcess(productionEnv({ ENABLE_TEST_ENDPOINTS: 'true', LOG_LEVEL: 'info', HOST: '127.0.0.1', CHAT_SESSIONS_DIR: dir }));
  }, 60_000);
  afterAll(async () => {
    if (server) await stopServerProcess(server, 'SIGTERM');
    await rm(dir, { recursive: true, force: true });
  });

  it('logs the warning at start, at warn level', async () => {
    // The banner follows the "listening" line the start waited for.
    await expect.poll(() => server!.output(), { timeout: 10_000 }).toContain('ENABLE_TEST_ENDPOINTS');
    const warning = server!
      .output()
      .split('\n')
      .filter((line) => line.includes('ENABLE_TEST_ENDPOINTS'))
      .map((line) => JSON.parse(line) as { level: number; msg: string });
    expect(warning).toEqual([expect.objectContaining({ level: 40, msg: expect.stringContaining('test helpers are ON') })]);
  });
});
