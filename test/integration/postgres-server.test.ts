import { readdir } from 'node:fs/promises';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import type { MessageSent, NewMessagePayload } from '../../src/contracts/events.js';
import { AppError } from '../../src/errors.js';
import { connectClient, emitWithAck, type TestSocket } from '../support/client.js';
import { createTestSchema, DATABASE_URL, postgresSkipReason, terminateBackends, type TestSchema } from '../support/postgres.js';
import { startServer, type TestServer } from '../support/server.js';
import { closedPort, startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';
import { TEST_SECRET, signToken } from '../support/tokens.js';
import { eventually } from '../support/eventually.js';

/**
 * The real server with DATABASE_URL: chat and the notification inbox in PostgreSQL, what
 * survives a restart, and what clients are told while PostgreSQL is out of reach.
 */

const KEY = 'postgres-server-key-0123456789';
const skipped = await postgresSkipReason();

/** `url` with another host:port (a proxy's) and an application_name of its own. */
function variant(url: string, changes: { port?: number; applicationName?: string }): string {
  const parsed = new URL(url);
  if (changes.port !== undefined) {
    parsed.hostname = '127.0.0.1';
    parsed.port = String(changes.port);
  }
  if (changes.applicationName !== undefined) parsed.searchParams.set('application_name', changes.applicationName);
  return parsed.toString();
}

describe.skipIf(skipped !== undefined)('the server on PostgreSQL (DATABASE_URL)', () => {
  const servers: TestServer[] = [];
  const sockets: TestSocket[] = [];
  let schema: TestSchema | undefined;
  let proxy: TcpProxy | undefined;

  const start = async (databaseUrl: string) => {
    const server = await startServer({ JWT_SECRET: TEST_SECRET, API_KEYS: KEY, DATABASE_URL: databaseUrl, RATE_LIMIT_HTTP_PER_MINUTE: '100000' });
    servers.push(server);
    return server;
  };
  const connectAs = async (server: TestServer, userId: string) => {
    const socket = await connectClient(server.url, { auth: { token: signToken({ userId }) } });
    sockets.push(socket);
    return socket;
  };
  const send = (server: TestServer, sessionId: string, message: string) =>
    request(server.url).post(`/api/sessions/${sessionId}/messages`).set('X-API-Key', KEY).send({ senderUserId: 'alice', message });

  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.close();
    for (const server of servers.splice(0)) await server.close();
    await proxy?.close();
    proxy = undefined;
    await schema?.drop();
    schema = undefined;
  });

  it('keeps chat messages, stored notifications and jobs in PostgreSQL: a server on another data directory finds them all', async () => {
    schema = await createTestSchema('server_restart');
    const first = await start(schema.url);
    const alice = await connectAs(first, 'alice');
    const { sessionId } = await emitWithAck<{ sessionId: string }>(alice, 'create_chat_session', { machineId: 'm-a', receiverUserId: 'bob' });
    for (const text of ['one', 'two', 'three']) {
      expect(await emitWithAck<MessageSent>(alice, 'send_message', { sessionId, message: text })).toMatchObject({ delivered: false });
    }
    const pushed = await request(first.url).post('/api/push').set('X-API-Key', KEY).send({ userId: 'bob', persist: true, data: { title: 'Hello' } }).expect(200);
    const job = await request(first.url).post('/api/jobs').set('X-API-Key', KEY).send({ subject: 'Mix the track', creatorId: 'alice', assigneeId: 'carol' }).expect(201);
    // Nothing of it went to files: the data directory holds no session, no inbox and no job database.
    const files = await readdir(first.dataDir);
    expect(files.filter((name) => /^[0-9a-f-]{36}$/.test(name) || name.endsWith('.sqlite') || name.includes('.sqlite-'))).toEqual([]);
    expect(await schema.query('SELECT seq, message FROM chat_messages ORDER BY seq')).toEqual([
      { seq: 1, message: 'one' },
      { seq: 2, message: 'two' },
      { seq: 3, message: 'three' },
    ]);

    await first.close();
    servers.splice(servers.indexOf(first), 1);
    const second = await start(schema.url);
    expect(second.dataDir).not.toBe(first.dataDir);
    // Bob was away: the messages he missed reach him on connecting to the other server.
    // Listening before the connection completes: offline delivery starts as it connects.
    const { io } = await import('socket.io-client');
    const bob: TestSocket = io(second.url, { auth: { token: signToken({ userId: 'bob' }) }, transports: ['websocket'], forceNew: true });
    sockets.push(bob);
    const received: NewMessagePayload[] = [];
    await new Promise<void>((resolve) => {
      bob.on('new_message', (payload) => {
        received.push(payload);
        if (received.length === 3) resolve();
      });
    });
    expect(received.map((p) => [p.message.seq, p.message.message])).toEqual([
      [1, 'one'],
      [2, 'two'],
      [3, 'three'],
    ]);
    const inbox = await request(second.url).get('/api/users/bob/notifications').set('X-API-Key', KEY).expect(200);
    expect(inbox.body.notifications.map((n: { id: string }) => n.id)).toEqual(pushed.body.notificationIds);
    const count = await request(second.url).get('/api/users/bob/notifications/unread-count').set('X-API-Key', KEY).expect(200);
    expect(count.body).toMatchObject({ count: 1 });
    expect((await send(second, sessionId, 'four').expect(201)).body).toMatchObject({ seq: 4 });
    const jobs = await request(second.url).get('/api/users/carol/jobs').set('X-API-Key', KEY).expect(200);
    expect(jobs.body.jobs).toEqual([expect.objectContaining({ jobId: job.body.job.jobId, subject: 'Mix the track', state: 'assigned' })]);
    const next = await request(second.url).post('/api/jobs').set('X-API-Key', KEY).send({ subject: 'Master it' }).expect(201);
    expect(next.body.job.jobId).toBe(job.body.job.jobId + 1);
  });

  it('refuses to start, naming the database, when PostgreSQL cannot be reached', async () => {
    const url = variant(DATABASE_URL, { port: await closedPort() });
    const error = await startServer({ JWT_SECRET: TEST_SECRET, API_KEYS: KEY, DATABASE_URL: url }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe('STORAGE_UNAVAILABLE');
    expect((error as AppError).message).toContain(`127.0.0.1:${new URL(url).port}`);
  });

  it('answers STORAGE_UNAVAILABLE and fails /ready while PostgreSQL is out of reach, stores nothing meanwhile, and recovers without a restart', async () => {
    schema = await createTestSchema('server_outage');
    proxy = await startTcpProxy({ host: new URL(DATABASE_URL).hostname, port: Number(new URL(DATABASE_URL).port || 5432) });
    const server = await start(variant(schema.url, { port: proxy.port }));
    const created = await request(server.url).post('/api/sessions').set('X-API-Key', KEY).send({ machineId: 'm', senderUserId: 'alice', receiverUserId: 'bob' }).expect(201);
    const { sessionId } = created.body as { sessionId: string };
    await send(server, sessionId, 'before').expect(201);
    await request(server.url).get('/ready').expect(200);

    await proxy.cut();
    const refused = await send(server, sessionId, 'during').expect(503);
    expect(refused.body).toMatchObject({ success: false, code: 'STORAGE_UNAVAILABLE' });
    const push = await request(server.url).post('/api/push').set('X-API-Key', KEY).send({ userId: 'bob', persist: true, data: { title: 'lost?' } }).expect(503);
    expect(push.body).toMatchObject({ code: 'STORAGE_UNAVAILABLE' });
    expect((await request(server.url).get(`/api/sessions/${sessionId}/messages`).set('X-API-Key', KEY).expect(503)).body.code).toBe('STORAGE_UNAVAILABLE');
    const ready = await request(server.url).get('/ready').expect(503);
    expect(ready.body.checks).toMatchObject({ chatStore: false, inboxStore: false });

    await proxy.restore();
    // Readiness comes back by itself (a probe write), with no request needing to succeed first.
    await eventually(async () => (await request(server.url).get('/ready')).status === 200, '/ready answers 200');
    // Nothing refused was stored, and seqs go on with no gap.
    expect((await send(server, sessionId, 'after').expect(201)).body).toMatchObject({ seq: 2 });
    const page = await request(server.url).get(`/api/sessions/${sessionId}/messages`).set('X-API-Key', KEY).expect(200);
    expect(page.body.messages.map((m: { message: string }) => m.message)).toEqual(['before', 'after']);
    expect((await request(server.url).get('/api/users/bob/notifications').set('X-API-Key', KEY).expect(200)).body.notifications).toEqual([]);
  });

  it('serves the very next request after PostgreSQL ended all its connections', async () => {
    schema = await createTestSchema('server_terminate');
    const applicationName = `notify-${schema.name}`;
    const server = await start(variant(schema.url, { applicationName }));
    const created = await request(server.url).post('/api/sessions').set('X-API-Key', KEY).send({ machineId: 'm', senderUserId: 'alice', receiverUserId: 'bob' }).expect(201);
    const { sessionId } = created.body as { sessionId: string };
    // Several connections open and idle in the pool.
    await Promise.all(Array.from({ length: 8 }, (_, i) => send(server, sessionId, `m${i}`).expect(201)));

    expect(await terminateBackends(applicationName)).toBeGreaterThan(0);
    expect((await send(server, sessionId, 'after').expect(201)).body).toMatchObject({ seq: 9 });
    await request(server.url).get(`/api/users/bob/notifications`).set('X-API-Key', KEY).expect(200);
    await request(server.url).post('/api/push').set('X-API-Key', KEY).send({ userId: 'bob', persist: true }).expect(200);
    await request(server.url).get('/ready').expect(200);
  });
});

if (skipped !== undefined) {
  describe('the server on PostgreSQL (DATABASE_URL)', () => {
    it.skip(`skipped: ${skipped}`, () => undefined);
  });
}
