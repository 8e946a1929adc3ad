import { createHmac, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { io } from 'socket.io-client';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AckFailure, SocketErrorPayload } from '../../src/contracts/error-codes.js';
import type { NotificationListReply, UnreadCountPayload } from '../../src/contracts/events.js';
import type { JobRecord, JobReply, JobStatusChangedPayload } from '../../src/contracts/jobs.js';
import { connectClient, emitWithAck, waitFor, watchUnwanted, type TestSocket } from '../support/client.js';
import { startServer, type TestServer } from '../support/server.js';
import { TEST_SECRET, signToken } from '../support/tokens.js';

/**
 * Jobs (seed 003) against the real server over real sockets: the seed's own calls as its
 * README writes them (`test:create-job`, `test:assign-job`, `job:start` and `job:complete`
 * with their ack callbacks, the `job:*` listeners); the refusals (a non-assignee, an
 * unknown job, missing fields, what the state machine does not allow); retries after a
 * lost ack; tenants kept apart; an offline assignee finding the assignment in the inbox;
 * the backend's REST routes; the signed webhook; and the development helpers off in
 * production.
 */

/** Every event a transition sends: none of them may reach anyone when a request is refused. */
const JOB_EVENTS = ['job:assigned', 'job:started', 'job:completed', 'job:status-changed'];

type Reply = JobReply | AckFailure;

const sockets: TestSocket[] = [];
afterAll(() => {
  for (const socket of sockets) socket.close();
});

/**
 * A seed 003 client: numeric user and tenant ids in the token, and `auth: { token, tenantId }`
 * as its README connects. Resolves once connected.
 */
async function connectSeed(url: string, userId: number | string, tenantId?: number | string): Promise<TestSocket> {
  const claims = tenantId === undefined ? { userId } : { userId, tenantId };
  const token = signToken(claims);
  const socket = await connectClient(url, { auth: tenantId === undefined ? { token } : { token, tenantId } });
  sockets.push(socket);
  return socket;
}

/** Every payload of `event` that reaches `socket` from now on. */
function collect<T>(socket: TestSocket, event: string): T[] {
  const seen: T[] = [];
  (socket as unknown as { on(event: string, listener: (payload: T) => void): void }).on(event, (payload) => seen.push(payload));
  return seen;
}

/** `socket.emit(event, payload, callback)` as the seed writes it, resolved with what the callback got. */
function emitWithCallback<T = Reply>(socket: TestSocket, event: string, payload: unknown): Promise<T> {
  return new Promise((resolve) => (socket as unknown as { emit(event: string, payload: unknown, cb: (reply: T) => void): void }).emit(event, payload, resolve));
}

describe('jobs over sockets and REST (seed 003)', () => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startServer({ JWT_SECRET: TEST_SECRET, RATE_LIMIT_HTTP_PER_MINUTE: '100000' });
  });
  afterAll(() => t.close());

  const getJob = async (jobId: number | string): Promise<JobRecord> => (await request(t.url).get(`/api/jobs/${jobId}`).expect(200)).body.job as JobRecord;

  describe("the seed's README, verbatim", () => {
    let producer: TestSocket;
    let assignee: TestSocket;
    const heard: Record<string, unknown[]> = {};

    beforeAll(async () => {
      producer = await connectSeed(t.url, 123, 7);
      assignee = await connectSeed(t.url, 3, 7);
      for (const [name, socket] of [['producer', producer], ['assignee', assignee]] as const) {
        for (const event of [...JOB_EVENTS, 'notification:new']) heard[`${name} ${event}`] = collect(socket, event);
      }
    });

    it('test:create-job creates mock jobs created by the caller, in its tenant; the ack gives { success, job }', async () => {
      // Create mock job (for testing), as the seed emits it: four without a callback...
      for (let i = 0; i < 4; i += 1) {
        producer.emit('test:create-job', {
          projectId: 1,
          jobTypeId: 2,
          subject: 'Test Job',
        });
      }
      // ...and one with (the jobs are stored in order: this one's answer comes after theirs).
      const reply = await emitWithCallback(producer, 'test:create-job', { projectId: 1, jobTypeId: 2, subject: 'Test Job' });
      expect(reply).toEqual({
        success: true,
        job: {
          jobId: 5,
          tenantId: '7',
          projectId: 1,
          jobTypeId: 2,
          subject: 'Test Job',
          creatorId: '123',
          state: 'created',
          createdAt: expect.any(String),
          updatedAt: expect.any(String),
          history: [{ from: null, to: 'created', at: expect.any(String), by: '123' }],
        },
      });
      for (let jobId = 1; jobId <= 4; jobId += 1) expect(await getJob(jobId)).toMatchObject({ jobId, creatorId: '123', tenantId: '7', state: 'created' });
    });

    it('test:assign-job assigns: job:assigned and job:status-changed reach the assignee', async () => {
      const assigned = waitFor<JobRecord>(assignee, 'job:assigned');
      // Assign mock job (for testing)
      producer.emit('test:assign-job', {
        jobId: 5,
        assigneeId: 3,
      });
      expect(await assigned).toMatchObject({ jobId: 5, assigneeId: '3', creatorId: '123', state: 'assigned', subject: 'Test Job' });

      const reply = await emitWithCallback(producer, 'test:assign-job', { jobId: 1, assigneeId: 3 });
      expect(reply).toMatchObject({ success: true, job: { jobId: 1, assigneeId: '3', state: 'assigned' } });
      expect(heard['assignee job:assigned']).toEqual([expect.objectContaining({ jobId: 5 }), expect.objectContaining({ jobId: 1 })]);
      expect(heard['assignee job:status-changed']).toEqual([
        { jobId: 5, from: 'created', to: 'assigned', at: expect.any(String), by: '123' },
        { jobId: 1, from: 'created', to: 'assigned', at: expect.any(String), by: '123' },
      ]);
      // The assignee's inbox holds the assignments; the producer assigned them and is not told.
      // Stored before the ack; delivered live right after it (the inbox answers first).
      await new Promise<void>((resolve) => {
        const check = () => (heard['assignee notification:new']!.length >= 2 ? resolve() : assignee.once('notification:new', check));
        check();
      });
      expect(heard['assignee notification:new']).toEqual([
        expect.objectContaining({ type: 'job_assigned', userId: '3', tenantId: '7', data: { jobId: 5 } }),
        expect.objectContaining({ type: 'job_assigned', data: { jobId: 1 } }),
      ]);
    });

    it('job:start and job:complete answer through the callback, and both sides hear job:started, job:completed and job:status-changed', async () => {
      // Listening as the seed does.
      const log: string[] = [];
      producer.on('job:started', (data) => {
        log.push(`Job started: ${String(data.jobId)}`);
      });
      producer.on('job:completed', (data) => {
        log.push(`Job completed: ${String(data.jobId)}`);
      });
      producer.on('job:status-changed', (data) => {
        log.push(`Job status changed: ${data.from} → ${data.to}`);
      });

      const started = await new Promise<Reply>((resolve) => {
        assignee.emit('job:start', { jobId: 1 }, (response) => {
          resolve(response);
        });
      });
      expect(started).toMatchObject({ success: true, job: { jobId: 1, state: 'started', assigneeId: '3', startedAt: expect.any(String) } });

      const completed = await new Promise<Reply>((resolve) => {
        assignee.emit('job:complete', { jobId: 1, note: '...' }, (response) => {
          resolve(response);
        });
      });
      expect(completed).toMatchObject({ success: true, job: { jobId: 1, state: 'completed', note: '...', completedAt: expect.any(String) } });

      // The creator's events were sent before the assignee's acks; a round trip of the creator's own settles them.
      await emitWithAck(producer, 'ping', {});
      expect(log).toEqual(['Job started: 1', 'Job status changed: assigned → started', 'Job completed: 1', 'Job status changed: started → completed']);
      expect(heard['assignee job:started']).toEqual([expect.objectContaining({ jobId: 1, state: 'started' })]);
      expect(heard['assignee job:completed']).toEqual([expect.objectContaining({ jobId: 1, state: 'completed', note: '...' })]);
      expect(heard['assignee job:status-changed']?.slice(-2)).toEqual([
        expect.objectContaining({ jobId: 1, from: 'assigned', to: 'started', by: '3' }),
        expect.objectContaining({ jobId: 1, from: 'started', to: 'completed', by: '3' }),
      ]);
      expect(heard['producer notification:new']).toEqual([
        expect.objectContaining({ type: 'job_started', userId: '123', data: { jobId: 1 } }),
        expect.objectContaining({ type: 'job_completed', data: { jobId: 1 } }),
      ]);

      const stored = await getJob(1);
      expect(stored).toEqual((completed as JobReply).job);
      expect(stored.history.map(({ from, to, by }) => [from, to, by])).toEqual([
        [null, 'created', '123'],
        ['created', 'assigned', '123'],
        ['assigned', 'started', '3'],
        ['started', 'completed', '3'],
      ]);
    });

    describe('refusals: on the callback and the error event, and nobody hears anything', () => {
      const refuses = async (socket: TestSocket, event: string, payload: unknown, code: string) => {
        const watches = [producer, assignee].map((s) => watchUnwanted(s, JOB_EVENTS));
        const errorEvent = waitFor<SocketErrorPayload>(socket, 'error');
        const reply = await emitWithCallback(socket, event, payload);
        expect(reply).toEqual({ success: false, error: expect.any(String), code, requestId: expect.any(String) });
        expect(await errorEvent).toMatchObject({ event, code });
        for (const watch of watches) await watch.expectNothingBefore();
      };

      it.each([
        ['job:start', {}],
        ['job:start', { jobId: null }],
        ['job:complete', { note: 'no id' }],
        ['job:complete', { jobId: 5, note: 42 }],
        ['test:create-job', { projectId: 1, jobTypeId: 2 }],
        ['test:create-job', { subject: 'Test Job' }],
        ['test:assign-job', { jobId: 5 }],
        ['test:assign-job', { assigneeId: 3 }],
      ])('missing or malformed fields: %s %j is INVALID_REQUEST', async (event, payload) => {
        await refuses(assignee, event, payload, 'INVALID_REQUEST');
      });

      it('an unknown job is NOT_FOUND', async () => {
        await refuses(assignee, 'job:start', { jobId: 999 }, 'NOT_FOUND');
        await refuses(assignee, 'job:complete', { jobId: 'no-such-job' }, 'NOT_FOUND');
        await refuses(producer, 'test:assign-job', { jobId: 999, assigneeId: 3 }, 'NOT_FOUND');
      });

      it('anyone but the assignee is FORBIDDEN, the creator included', async () => {
        await refuses(producer, 'job:start', { jobId: 5 }, 'FORBIDDEN');
        await refuses(producer, 'job:complete', { jobId: 1 }, 'FORBIDDEN');
        const bystander = await connectSeed(t.url, 44, 7);
        await refuses(bystander, 'job:start', { jobId: 5 }, 'FORBIDDEN');
        // An unassigned job has no assignee yet.
        await refuses(assignee, 'job:start', { jobId: 2 }, 'FORBIDDEN');
      });

      it('what the state machine refuses is INVALID_STATE, and changes nothing', async () => {
        const before = await getJob(5);
        await refuses(assignee, 'job:complete', { jobId: 5 }, 'INVALID_STATE');
        await refuses(producer, 'test:assign-job', { jobId: 1, assigneeId: 44 }, 'INVALID_STATE');
        expect(await getJob(5)).toEqual(before);
        expect((await getJob(1)).state).toBe('completed');
      });

      it('an anonymous socket has no jobs: UNAUTHORIZED', async () => {
        const anonymous = await connectClient(t.url);
        sockets.push(anonymous);
        await refuses(anonymous, 'job:start', { jobId: 5 }, 'UNAUTHORIZED');
        await refuses(anonymous, 'test:create-job', { projectId: 1, jobTypeId: 2, subject: 'x' }, 'UNAUTHORIZED');
      });
    });

    it('a retry after a lost ack answers success with the same job, and nothing is sent again', async () => {
      const first = (await emitWithCallback<JobReply>(assignee, 'job:start', { jobId: 5 })).job;
      expect(first.state).toBe('started');
      // The creator's events and notification of the first start were sent before that ack, on another socket.
      await emitWithAck(producer, 'ping', {});
      const watches = [producer, assignee].map((s) => watchUnwanted(s, [...JOB_EVENTS, 'notification:new']));
      expect(await emitWithCallback(assignee, 'job:start', { jobId: 5 })).toEqual({ success: true, job: first });
      for (const watch of watches) await watch.expectNothingBefore();

      const done = (await emitWithCallback<JobReply>(assignee, 'job:complete', { jobId: 5, note: 'mixed' })).job;
      const assigned = await emitWithCallback<JobReply>(producer, 'test:assign-job', { jobId: 2, assigneeId: 3 });
      expect(assigned).toMatchObject({ success: true, job: { assigneeId: '3', state: 'assigned' } });
      for (const socket of [producer, assignee]) await emitWithAck(socket, 'ping', {});

      const again = [producer, assignee].map((s) => watchUnwanted(s, [...JOB_EVENTS, 'notification:new']));
      expect(await emitWithCallback(assignee, 'job:complete', { jobId: 5, note: 'retried with another note' })).toEqual({ success: true, job: done });
      // The same assignee again, as the number or as its string.
      expect(await emitWithCallback(producer, 'test:assign-job', { jobId: 2, assigneeId: '3' })).toEqual(assigned);
      expect(await emitWithCallback(producer, 'test:assign-job', { jobId: 2, assigneeId: 3 })).toEqual(assigned);
      for (const watch of again) await watch.expectNothingBefore();
      expect((await getJob(5)).note).toBe('mixed');
    });

    it('keeps tenants apart: the same user id in another tenant, or in none, reaches none of them and hears nothing', async () => {
      const elsewhere = await connectSeed(t.url, 3, 8);
      const noTenant = await connectSeed(t.url, 3);
      for (const socket of [elsewhere, noTenant]) {
        expect(await emitWithCallback(socket, 'job:start', { jobId: 2 })).toMatchObject({ success: false, code: 'NOT_FOUND' });
        expect(await emitWithCallback(socket, 'test:assign-job', { jobId: 3, assigneeId: 3 })).toMatchObject({ success: false, code: 'NOT_FOUND' });
      }
      const watches = [elsewhere, noTenant].map((s) => watchUnwanted(s, [...JOB_EVENTS, 'notification:new']));
      const started = waitFor<JobRecord>(producer, 'job:started');
      expect(await emitWithCallback(assignee, 'job:start', { jobId: 2 })).toMatchObject({ success: true, job: { state: 'started', tenantId: '7' } });
      await started;
      for (const watch of watches) await watch.expectNothingBefore();
      // Their own tenant's jobs are their own: a job made in tenant 8 is job 6, unseen in tenant 7.
      expect(await emitWithCallback(elsewhere, 'test:create-job', { projectId: 1, jobTypeId: 2, subject: 'Tenant 8' })).toMatchObject({
        success: true,
        job: { jobId: 6, tenantId: '8', creatorId: '3' },
      });
      expect(await emitWithCallback(producer, 'test:assign-job', { jobId: 6, assigneeId: 3 })).toMatchObject({ code: 'NOT_FOUND' });
    });
  });

  it('an offline assignee finds the job_assigned notification on connect, and the job in its list', async () => {
    const res = await request(t.url)
      .post('/api/jobs')
      .send({ subject: 'Master the night set', creatorId: 'booker', assigneeId: 'night-owl', tenantId: 'acme', projectId: 9 })
      .expect(201);
    const job = res.body.job as JobRecord;
    expect(job).toMatchObject({ state: 'assigned', assigneeId: 'night-owl', tenantId: 'acme' });

    const token = signToken({ userId: 'night-owl', tenantId: 'acme' });
    const socket: TestSocket = io(t.url, { transports: ['websocket'], reconnection: false, forceNew: true, auth: { token } });
    sockets.push(socket);
    const count = waitFor<UnreadCountPayload>(socket, 'notification:unread-count');
    await waitFor(socket, 'connect');
    expect(await count).toEqual({ count: 1 });
    const page = await emitWithAck<NotificationListReply>(socket, 'notification:list', {});
    expect(page.notifications).toEqual([
      expect.objectContaining({
        userId: 'night-owl',
        tenantId: 'acme',
        type: 'job_assigned',
        title: 'Job assigned to you',
        message: '“Master the night set” was assigned to you',
        data: { jobId: job.jobId },
        readAt: null,
      }),
    ]);
    // The job is there to act on.
    expect(await emitWithCallback(socket, 'job:start', { jobId: job.jobId })).toMatchObject({ success: true, job: { state: 'started' } });
  });

  describe('the backend over REST', () => {
    it('creates with 201, and a repeat of a given jobId answers 200 with the job stored first, unchanged', async () => {
      const first = await request(t.url).post('/api/jobs').send({ jobId: 'order-77', subject: 'Edit podcast', creatorId: 'host', data: { minutes: 42 } }).expect(201);
      expect(first.body).toEqual({ success: true, created: true, job: expect.objectContaining({ jobId: 'order-77', subject: 'Edit podcast', data: { minutes: 42 } }) });
      const again = await request(t.url).post('/api/jobs').send({ jobId: 'order-77', subject: 'Something else', assigneeId: 'x' }).expect(200);
      expect(again.body).toEqual({ success: true, created: false, job: first.body.job });

      // A numeric id keeps its type; its decimal string in a path names it.
      const numeric = await request(t.url).post('/api/jobs').send({ jobId: 9001, subject: 'Numbered' }).expect(201);
      expect(numeric.body.job.jobId).toBe(9001);
      expect((await request(t.url).post('/api/jobs').send({ jobId: '9001', subject: 'Again' }).expect(200)).body.job.jobId).toBe(9001);
      expect((await getJob('9001')).subject).toBe('Numbered');
    });

    it('assigns, reassigns and cancels, telling each side; a finished job is 409 INVALID_STATE', async () => {
      const created = (await request(t.url).post('/api/jobs').send({ subject: 'Cut stems', creatorId: 'lead', tenantId: 'acme' }).expect(201)).body.job as JobRecord;
      const first = await connectSeed(t.url, 'first-hand', 'acme');
      const second = await connectSeed(t.url, 'second-hand', 'acme');
      const lead = await connectSeed(t.url, 'lead', 'acme');

      const toFirst = waitFor<JobRecord>(first, 'job:assigned');
      await request(t.url).post(`/api/jobs/${created.jobId}/assign`).send({ assigneeId: 'first-hand' }).expect(200);
      expect(await toFirst).toMatchObject({ jobId: created.jobId, assigneeId: 'first-hand' });

      const toSecond = waitFor<JobRecord>(second, 'job:assigned');
      const firstTold = waitFor<JobStatusChangedPayload>(first, 'job:status-changed');
      const leadTold = collect<JobStatusChangedPayload>(lead, 'job:status-changed');
      const reassigned = await request(t.url).post(`/api/jobs/${created.jobId}/assign`).send({ assigneeId: 'second-hand' }).expect(200);
      expect(reassigned.body.job).toMatchObject({ state: 'assigned', assigneeId: 'second-hand' });
      expect(await toSecond).toMatchObject({ assigneeId: 'second-hand' });
      expect(await firstTold).toEqual({ jobId: created.jobId, from: 'assigned', to: 'assigned', at: expect.any(String), by: null });

      const secondTold = waitFor<JobStatusChangedPayload>(second, 'job:status-changed');
      const cancelled = await request(t.url).post(`/api/jobs/${created.jobId}/cancel`).expect(200);
      expect(cancelled.body.job).toMatchObject({ state: 'cancelled', cancelledAt: expect.any(String) });
      expect(await secondTold).toMatchObject({ from: 'assigned', to: 'cancelled', by: null });
      await emitWithAck(lead, 'ping', {});
      expect(leadTold.map((change) => change.to)).toEqual(['assigned', 'cancelled']);
      expect(await emitWithCallback(second, 'job:start', { jobId: created.jobId })).toMatchObject({ code: 'INVALID_STATE' });

      // Cancelling again changes nothing; assigning a cancelled job is refused.
      expect((await request(t.url).post(`/api/jobs/${created.jobId}/cancel`).expect(200)).body.job).toEqual(cancelled.body.job);
      const refused = await request(t.url).post(`/api/jobs/${created.jobId}/assign`).send({ assigneeId: 'lead' }).expect(409);
      expect(refused.body).toMatchObject({ success: false, code: 'INVALID_STATE' });
      expect((await request(t.url).post('/api/jobs/1/cancel').expect(409)).body.code).toBe('INVALID_STATE');
    });

    it('answers 404 for an unknown job and 400 naming a missing field', async () => {
      expect((await request(t.url).get('/api/jobs/nope').expect(404)).body).toMatchObject({ code: 'NOT_FOUND' });
      expect((await request(t.url).post('/api/jobs/nope/assign').send({ assigneeId: 'a' }).expect(404)).body.code).toBe('NOT_FOUND');
      expect((await request(t.url).post('/api/jobs/nope/cancel').expect(404)).body.code).toBe('NOT_FOUND');
      const missing = await request(t.url).post('/api/jobs').send({ creatorId: 'x' }).expect(400);
      expect(missing.body).toMatchObject({ code: 'INVALID_REQUEST', error: expect.stringContaining('subject') });
      expect((await request(t.url).post('/api/jobs/2/assign').send({}).expect(400)).body.error).toContain('assigneeId');
      expect((await request(t.url).post('/api/jobs').send({ jobId: -1, subject: 'x' }).expect(400)).body.code).toBe('INVALID_REQUEST');
    });

    it("lists a user's jobs, assigned or created, newest first, by state and page", async () => {
      for (let i = 1; i <= 3; i += 1) {
        await request(t.url).post('/api/jobs').send({ subject: `lister ${i}`, assigneeId: 'lister', tenantId: 'list-co' }).expect(201);
      }
      await request(t.url).post('/api/jobs').send({ subject: 'lister made', creatorId: 'lister', tenantId: 'list-co' }).expect(201);
      await request(t.url).post('/api/jobs').send({ subject: 'elsewhere', assigneeId: 'lister' }).expect(201);

      const all = await request(t.url).get('/api/users/lister/jobs?tenantId=list-co').expect(200);
      expect(all.body).toMatchObject({ success: true, userId: 'lister' });
      expect(all.body.jobs.map((job: JobRecord) => job.subject)).toEqual(['lister made', 'lister 3', 'lister 2', 'lister 1']);
      const created = await request(t.url).get('/api/users/lister/jobs?tenantId=list-co&state=created').expect(200);
      expect(created.body.jobs.map((job: JobRecord) => job.subject)).toEqual(['lister made']);

      const page1 = await request(t.url).get('/api/users/lister/jobs?tenantId=list-co&limit=3').expect(200);
      expect(page1.body.jobs).toHaveLength(3);
      const page2 = await request(t.url).get(`/api/users/lister/jobs?tenantId=list-co&limit=3&cursor=${page1.body.nextCursor}`).expect(200);
      expect(page2.body.jobs.map((job: JobRecord) => job.subject)).toEqual(['lister 1']);
      expect(page2.body).not.toHaveProperty('nextCursor');
      expect((await request(t.url).get('/api/users/lister/jobs').expect(200)).body.jobs.map((job: JobRecord) => job.subject)).toEqual(['elsewhere']);
      expect((await request(t.url).get('/api/users/lister/jobs?limit=101').expect(400)).body.code).toBe('INVALID_REQUEST');
      expect((await request(t.url).get('/api/users/lister/jobs?state=done').expect(400)).body.code).toBe('INVALID_REQUEST');
    });
  });

  it('mirrors each transition to the kafka-events channel (topic jobs) and counts it in /metrics', async () => {
    const watcher = await connectSeed(t.url, 'ops-watcher');
    expect(await emitWithAck(watcher, 'subscribe', 'kafka-events')).toMatchObject({ success: true });
    const mirrored = waitFor<{ topic: string; event: { type: string; job: JobRecord; from: string; to: string; by: unknown } }>(watcher, 'kafka-event');
    const job = (await request(t.url).post('/api/jobs').send({ subject: 'Watched', assigneeId: 'someone' }).expect(201)).body.job as JobRecord;
    expect(await mirrored).toMatchObject({ topic: 'jobs', event: { type: 'job.transition', job: { jobId: job.jobId }, from: 'created', to: 'assigned', by: null } });
    const metrics = await request(t.url).get('/metrics').expect(200);
    expect(metrics.text).toMatch(/^jobs_transitions_total\{to="assigned"\} [1-9]\d*$/m);
    expect(metrics.text).toMatch(/^jobs_transitions_total\{to="completed"\} [1-9]\d*$/m);
    // Kept beside the inbox by default, and part of readiness.
    expect(existsSync(path.join(t.dataDir, 'jobs.sqlite'))).toBe(true);
    expect((await request(t.url).get('/ready').expect(200)).body.checks).toMatchObject({ jobStore: true, inboxStore: true });
  });
});

interface WebhookCall {
  body: { type: string; job: JobRecord; from: string; to: string; by: string | null };
  signatureValid: boolean;
}

/** A real application backend that records each call; `answer` decides its status. */
function startBackend(calls: WebhookCall[], secret: string, answer: () => number): Promise<Server> {
  const server = createServer(async (req: IncomingMessage, res) => {
    let raw = '';
    for await (const chunk of req) raw += String(chunk);
    const timestamp = String(req.headers['x-webhook-timestamp']);
    const expected = createHmac('sha256', secret).update(`${timestamp}.${raw}`).digest('hex');
    calls.push({ body: JSON.parse(raw) as WebhookCall['body'], signatureValid: expected === req.headers['x-webhook-signature'] });
    res.writeHead(answer()).end();
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

describe('EVENT_WEBHOOK_URL: every transition is posted to the backend, signed', () => {
  const secret = 'jobs-webhook-secret-0123456789';
  const calls: WebhookCall[] = [];
  let status = 200;
  let backend: Server;
  let t: TestServer;

  beforeAll(async () => {
    backend = await startBackend(calls, secret, () => status);
    const { port } = backend.address() as AddressInfo;
    t = await startServer({ JWT_SECRET: TEST_SECRET, EVENT_WEBHOOK_URL: `http://127.0.0.1:${port}/hooks`, EVENT_WEBHOOK_SECRET: secret });
  });
  afterAll(async () => {
    await t.close();
    await new Promise((resolve) => backend.close(resolve));
  });

  it('posts { type: "job.transition", job, from, to, by } for assign, start and complete; a failing backend fails nothing', async () => {
    const worker = await connectSeed(t.url, 'worker');
    const created = (await request(t.url).post('/api/jobs').send({ subject: 'Hooked', creatorId: 'boss', assigneeId: 'worker' }).expect(201)).body.job as JobRecord;
    await expect.poll(() => calls.length).toBe(1);
    expect(calls[0]).toEqual({ signatureValid: true, body: { type: 'job.transition', job: created, from: 'created', to: 'assigned', by: null } });

    // The backend failing (500) does not fail the transition: it is stored and answered.
    status = 500;
    const started = await emitWithCallback<JobReply>(worker, 'job:start', { jobId: created.jobId });
    expect(started).toMatchObject({ success: true, job: { state: 'started' } });
    await expect.poll(() => calls.length).toBe(2);
    expect(calls[1]).toEqual({ signatureValid: true, body: { type: 'job.transition', job: started.job, from: 'assigned', to: 'started', by: 'worker' } });

    status = 200;
    const completed = await emitWithCallback<JobReply>(worker, 'job:complete', { jobId: created.jobId, note: 'ok' });
    await expect.poll(() => calls.length).toBe(3);
    expect(calls[2]?.body).toEqual({ type: 'job.transition', job: completed.job, from: 'started', to: 'completed', by: 'worker' });
    // A repeat posts nothing: a round trip after it, then still three calls.
    await emitWithCallback(worker, 'job:complete', { jobId: created.jobId });
    await request(t.url).get(`/api/jobs/${created.jobId}`).expect(200);
    expect(calls).toHaveLength(3);
  });
});

describe('the development helpers in production', () => {
  const productionEnv = () => ({
    NODE_ENV: 'production',
    API_KEYS: randomBytes(32).toString('base64url'),
    JWT_SECRET: TEST_SECRET.repeat(2) + randomBytes(16).toString('hex'),
    ALLOWED_ORIGINS: 'https://app.example.com',
  });

  it('are unknown events, answered UNKNOWN_ACTION, while job:start and job:complete still work', async () => {
    const env = productionEnv();
    const t = await startServer(env);
    try {
      const token = signToken({ userId: 'prod-user' }, { secret: env.JWT_SECRET });
      const socket = await connectClient(t.url, { auth: { token } });
      sockets.push(socket);
      for (const [event, payload] of [
        ['test:create-job', { projectId: 1, jobTypeId: 2, subject: 'Test Job' }],
        ['test:assign-job', { jobId: 5, assigneeId: 3 }],
      ] as const) {
        const errorEvent = waitFor<SocketErrorPayload>(socket, 'error');
        expect(await emitWithCallback(socket, event, payload)).toMatchObject({ success: false, code: 'UNKNOWN_ACTION', error: `Unknown event: ${event}` });
        expect(await errorEvent).toMatchObject({ event, code: 'UNKNOWN_ACTION' });
      }
      const job = (await request(t.url).post('/api/jobs').set('X-API-Key', env.API_KEYS).send({ subject: 'Real work', assigneeId: 'prod-user' }).expect(201)).body
        .job as JobRecord;
      expect(await emitWithCallback(socket, 'job:start', { jobId: job.jobId })).toMatchObject({ success: true, job: { state: 'started' } });
      expect(await emitWithCallback(socket, 'job:complete', { jobId: job.jobId })).toMatchObject({ success: true, job: { state: 'completed' } });
    } finally {
      await t.close();
    }
  });

  it('exist in production only with ENABLE_TEST_ENDPOINTS=true', async () => {
    const env = { ...productionEnv(), ENABLE_TEST_ENDPOINTS: 'true' };
    const t = await startServer(env);
    try {
      const socket = await connectClient(t.url, { auth: { token: signToken({ userId: 'tester' }, { secret: env.JWT_SECRET }) } });
      sockets.push(socket);
      expect(await emitWithCallback(socket, 'test:create-job', { projectId: 1, jobTypeId: 2, subject: 'Test Job' })).toMatchObject({
        success: true,
        job: { jobId: 1, creatorId: 'tester' },
      });
    } finally {
      await t.close();
    }
  });
});
