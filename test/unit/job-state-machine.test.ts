import { beforeEach, describe, expect, it } from 'vitest';
import { JOB_STATES, type JobRecord, type JobState } from '../../src/contracts/jobs.js';
import type { EventMirror } from '../../src/domain/event-mirror.js';
import { createInboxService, type InboxService } from '../../src/domain/inbox-service.js';
import {
  MAX_HISTORY,
  applyJobAction,
  createJobService,
  type JobAction,
  type JobActor,
  type JobService,
  type JobTransition,
  type JobTransitionWebhookBody,
} from '../../src/domain/job-service.js';
import type { JobStore } from '../../src/domain/job-store.js';
import type { RealtimeGateway } from '../../src/domain/realtime-gateway.js';
import { AppError } from '../../src/errors.js';
import { createMemoryInboxStore } from '../../src/storage/memory/memory-inbox-store.js';
import { createMemoryJobStore } from '../../src/storage/memory/memory-job-store.js';
import { rejectionCode } from '../support/chat-store-harness.js';
import { createTestClock, type TestClock } from '../support/clock.js';

const AT = '2025-01-01T00:00:00.000Z';
const LATER = '2025-01-01T01:00:00.000Z';
const BACKEND: JobActor = { kind: 'backend' };
const user = (userId: string, tenantId?: string): JobActor => ({ kind: 'user', userId, tenantId });

function jobIn(state: JobState, fields: Partial<JobRecord> = {}): JobRecord {
  return {
    jobId: 1,
    subject: 'Mix the intro',
    creatorId: 'carol',
    ...(state === 'created' ? {} : { assigneeId: 'ann' }),
    state,
    createdAt: AT,
    updatedAt: AT,
    history: [{ from: null, to: 'created', at: AT, by: null }],
    ...fields,
  };
}

/**
 * What each action does from each state, asked by ann (the assignee, once there is one):
 * the state it leads to, 'repeat' (already happened: success, unchanged) or the refusal.
 * A created job has no assignee yet, so nobody may start or complete it.
 */
const TABLE: Record<JobState, Record<string, JobState | 'repeat' | 'INVALID_STATE' | 'FORBIDDEN'>> = {
  created: { 'assign ann': 'assigned', 'assign bob': 'assigned', start: 'FORBIDDEN', complete: 'FORBIDDEN', cancel: 'cancelled' },
  assigned: { 'assign ann': 'repeat', 'assign bob': 'assigned', start: 'started', complete: 'INVALID_STATE', cancel: 'cancelled' },
  started: { 'assign ann': 'INVALID_STATE', 'assign bob': 'INVALID_STATE', start: 'repeat', complete: 'completed', cancel: 'cancelled' },
  completed: { 'assign ann': 'INVALID_STATE', 'assign bob': 'INVALID_STATE', start: 'INVALID_STATE', complete: 'repeat', cancel: 'INVALID_STATE' },
  cancelled: { 'assign ann': 'INVALID_STATE', 'assign bob': 'INVALID_STATE', start: 'INVALID_STATE', complete: 'INVALID_STATE', cancel: 'repeat' },
};

const ACTIONS: Record<string, JobAction> = {
  'assign ann': { kind: 'assign', assigneeId: 'ann' },
  'assign bob': { kind: 'assign', assigneeId: 'bob' },
  start: { kind: 'start' },
  complete: { kind: 'complete', note: 'done' },
  cancel: { kind: 'cancel' },
};

describe('the job state machine (applyJobAction)', () => {
  it('covers every state', () => {
    expect(Object.keys(TABLE).sort()).toEqual([...JOB_STATES].sort());
  });

  const cases = JOB_STATES.flatMap((state) => Object.entries(TABLE[state]).map(([action, outcome]) => [state, action, outcome] as const));
  it.each(cases)('%s, %s → %s', (state, actionName, outcome) => {
    // The assignee acts, so only the state machine decides.
    const actor = user('ann');
    const job = jobIn(state);
    const run = () => applyJobAction(job, ACTIONS[actionName]!, actor, LATER);
    if (outcome === 'INVALID_STATE' || outcome === 'FORBIDDEN') {
      expect(run).toThrow(AppError);
      expect(run).toThrow(expect.objectContaining({ code: outcome }));
    } else if (outcome === 'repeat') {
      expect(run()).toBeUndefined();
    } else {
      const next = run()!;
      expect(next.state).toBe(outcome);
      expect(next.updatedAt).toBe(LATER);
      expect(next.history.at(-1)).toEqual({ from: state, to: outcome, at: LATER, by: 'ann' });
      expect(next.history.slice(0, -1)).toEqual(job.history);
    }
    // Pure: the job given is never changed.
    expect(job).toEqual(jobIn(state));
  });

  it('sets the assignee, the time of each step and the completion note', () => {
    const assigned = applyJobAction(jobIn('created'), ACTIONS['assign bob']!, BACKEND, LATER)!;
    expect(assigned).toMatchObject({ state: 'assigned', assigneeId: 'bob' });
    expect(assigned.history.at(-1)?.by).toBeNull();
    expect(applyJobAction(jobIn('assigned'), { kind: 'start' }, user('ann'), LATER)).toMatchObject({ startedAt: LATER });
    expect(applyJobAction(jobIn('started'), { kind: 'complete', note: 'mixed' }, user('ann'), LATER)).toMatchObject({ completedAt: LATER, note: 'mixed' });
    expect(applyJobAction(jobIn('started'), { kind: 'complete' }, user('ann'), LATER)).not.toHaveProperty('note');
    expect(applyJobAction(jobIn('started'), { kind: 'cancel' }, BACKEND, LATER)).toMatchObject({ state: 'cancelled', cancelledAt: LATER });
  });

  it('lets only the assignee start or complete, whatever the state (FORBIDDEN first)', () => {
    for (const state of JOB_STATES) {
      for (const action of [ACTIONS.start!, ACTIONS.complete!]) {
        expect(() => applyJobAction(jobIn(state), action, user('carol'), LATER)).toThrow(expect.objectContaining({ code: 'FORBIDDEN' }));
      }
    }
    // An unassigned job has no assignee: nobody may start it.
    expect(() => applyJobAction(jobIn('created'), ACTIONS.start!, user('ann'), LATER)).toThrow(expect.objectContaining({ code: 'FORBIDDEN' }));
  });

  it(`keeps the most recent ${MAX_HISTORY} history entries`, () => {
    let job = jobIn('assigned');
    for (let i = 0; i < MAX_HISTORY + 5; i += 1) job = applyJobAction(job, { kind: 'assign', assigneeId: `user-${i}` }, BACKEND, LATER)!;
    expect(job.history).toHaveLength(MAX_HISTORY);
    expect(job.history.at(-1)).toMatchObject({ from: 'assigned', to: 'assigned' });
    expect(job.assigneeId).toBe(`user-${MAX_HISTORY + 4}`);
  });
});

interface Emit {
  userIds: readonly string[];
  tenantId: string | undefined;
  event: string;
  payload: unknown;
}

/** A gateway that records what it is asked to emit, and can be made to fail. */
function recordingGateway(emits: Emit[], fail: { on?: string }): RealtimeGateway {
  return {
    async broadcast() {
      return 0;
    },
    async emitToUsers({ userIds, tenantId }, event, payload) {
      if (fail.on === event) throw new Error(`emit of ${event} failed`);
      emits.push({ userIds: [...userIds].sort(), tenantId, event, payload });
      return userIds.length;
    },
    async emitSequenceToUser({ userId, tenantId }, events) {
      for (const [event, payload] of events) {
        if (fail.on === event) throw new Error(`emit of ${event} failed`);
        emits.push({ userIds: [userId], tenantId, event, payload });
      }
      return 1;
    },
    async emitToRoom() {
      return 0;
    },
    async stats() {
      return { connections: 0, users: 0, rooms: 0 };
    },
    async connectionsOf() {
      return 0;
    },
    async listConnections() {
      return [];
    },
  };
}

describe('the job service', () => {
  let clock: TestClock;
  let store: JobStore;
  let inbox: InboxService;
  let jobs: JobService;
  let emits: Emit[];
  let mirrored: { topic: string; event: unknown }[];
  let posted: JobTransitionWebhookBody[];
  let transitions: JobTransition[];
  let background: { err: unknown; context: Record<string, unknown> }[];
  let failures: { emit?: string; inbox?: boolean; mirror?: boolean; webhook?: boolean };

  beforeEach(async () => {
    clock = createTestClock(Date.parse(AT));
    store = createMemoryJobStore();
    await store.open();
    const inboxStore = createMemoryInboxStore({ maxPerUser: 100, retentionMs: 90 * 24 * 3600 * 1000, clock });
    await inboxStore.open();
    emits = [];
    mirrored = [];
    posted = [];
    transitions = [];
    background = [];
    failures = {};
    const gateway = recordingGateway(emits, {
      get on() {
        return failures.emit;
      },
    });
    const realInbox = createInboxService({ store: inboxStore, gateway: recordingGateway([], {}), clock, retentionDays: 90 });
    inbox = {
      ...realInbox,
      push: (input) => (failures.inbox ? Promise.reject(new AppError('STORAGE_UNAVAILABLE')) : realInbox.push(input)),
    };
    const mirror: EventMirror = {
      publish(topic, event) {
        if (failures.mirror) throw new Error('mirror down');
        mirrored.push({ topic, event });
      },
    };
    jobs = createJobService({
      store,
      gateway,
      inbox,
      mirror,
      webhook: {
        async post(body) {
          if (failures.webhook) throw new Error('backend down');
          posted.push(body);
        },
      },
      clock,
      onTransition: (transition) => transitions.push(transition),
      onBackgroundError: (err, context) => background.push({ err, context }),
    });
  });

  const inboxOf = async (userId: string, tenantId?: string) => (await inbox.list({ userId, tenantId }, { limit: 100 })).notifications;

  it('creates a job from the backend as given, and announces nothing until it is assigned', async () => {
    const { job, created } = await jobs.create({ subject: 'Master track 4', projectId: 1, jobTypeId: 2, creatorId: 'carol', tenantId: 'acme', data: { bpm: 120 } }, BACKEND);
    expect(created).toBe(true);
    expect(job).toEqual({
      jobId: 1,
      tenantId: 'acme',
      projectId: 1,
      jobTypeId: 2,
      subject: 'Master track 4',
      creatorId: 'carol',
      data: { bpm: 120 },
      state: 'created',
      createdAt: AT,
      updatedAt: AT,
      history: [{ from: null, to: 'created', at: AT, by: null }],
    });
    expect(emits).toEqual([]);
    expect(transitions).toEqual([]);
  });

  it('creates and assigns in one step, then tells the assignee and the creator, stores the assignee’s notification, mirrors and posts', async () => {
    const { job } = await jobs.create({ jobId: 'job-a', subject: 'Master track 4', creatorId: 'carol', assigneeId: 'ann', tenantId: 'acme' }, BACKEND);
    expect(job).toMatchObject({ jobId: 'job-a', state: 'assigned', assigneeId: 'ann' });
    expect(job.history).toEqual([
      { from: null, to: 'created', at: AT, by: null },
      { from: 'created', to: 'assigned', at: AT, by: null },
    ]);
    expect(emits.map(({ event, userIds, tenantId }) => [event, userIds, tenantId])).toEqual([
      ['job:assigned', ['ann'], 'acme'],
      ['job:status-changed', ['ann', 'carol'], 'acme'],
    ]);
    expect(emits[0]?.payload).toEqual(job);
    expect(emits[1]?.payload).toEqual({ jobId: 'job-a', from: 'created', to: 'assigned', at: AT, by: null });
    expect(await inboxOf('ann', 'acme')).toEqual([
      expect.objectContaining({ type: 'job_assigned', title: 'Job assigned to you', data: { jobId: 'job-a' }, readAt: null }),
    ]);
    expect(await inboxOf('ann')).toEqual([]);
    expect(mirrored).toEqual([{ topic: 'jobs', event: { type: 'job.transition', job, from: 'created', to: 'assigned', by: null, at: AT } }]);
    await expect.poll(() => posted).toEqual([{ type: 'job.transition', job, from: 'created', to: 'assigned', by: null }]);
    expect(transitions.map((t) => t.to)).toEqual(['assigned']);
  });

  it('answers a create with a taken jobId with the stored job, unchanged, and announces nothing', async () => {
    const first = await jobs.create({ jobId: 5, subject: 'first', assigneeId: 'ann' }, BACKEND);
    const count = emits.length;
    const again = await jobs.create({ jobId: '5', subject: 'second', assigneeId: 'bob' }, BACKEND);
    expect(again).toEqual({ job: first.job, created: false });
    expect(emits).toHaveLength(count);
  });

  it('walks a job through start and complete by its assignee, telling both sides, and the creator’s inbox', async () => {
    await jobs.create({ subject: 'Mix', creatorId: 'carol', assigneeId: 'ann' }, BACKEND);
    emits.length = 0;
    clock.advance(60_000);
    const started = await jobs.transition(1, { kind: 'start' }, user('ann'));
    expect(started).toMatchObject({ state: 'started', startedAt: '2025-01-01T00:01:00.000Z' });
    const completed = await jobs.transition(1, { kind: 'complete', note: 'Bounced to WAV' }, user('ann'));
    expect(completed).toMatchObject({ state: 'completed', note: 'Bounced to WAV' });
    expect(emits.map(({ event, userIds }) => [event, userIds])).toEqual([
      ['job:started', ['ann', 'carol']],
      ['job:status-changed', ['ann', 'carol']],
      ['job:completed', ['ann', 'carol']],
      ['job:status-changed', ['ann', 'carol']],
    ]);
    expect(emits[3]?.payload).toEqual({ jobId: 1, from: 'started', to: 'completed', at: '2025-01-01T00:01:00.000Z', by: 'ann' });
    expect((await inboxOf('carol')).map((n) => [n.type, n.message])).toEqual([
      ['job_completed', 'ann completed “Mix”'],
      ['job_started', 'ann started “Mix”'],
    ]);
    expect((await inboxOf('ann')).map((n) => n.type)).toEqual(['job_assigned']);
  });

  it('answers a repeat with the job unchanged and announces nothing', async () => {
    await jobs.create({ subject: 'Mix', creatorId: 'carol', assigneeId: 'ann' }, BACKEND);
    const started = await jobs.transition(1, { kind: 'start' }, user('ann'));
    const count = { emits: emits.length, transitions: transitions.length, mirrored: mirrored.length };
    clock.advance(1000);
    expect(await jobs.transition(1, { kind: 'start' }, user('ann'))).toEqual(started);
    const completed = await jobs.transition(1, { kind: 'complete', note: 'first' }, user('ann'));
    expect(await jobs.transition(1, { kind: 'complete', note: 'second' }, user('ann'))).toEqual(completed);
    expect({ emits: emits.length, transitions: transitions.length, mirrored: mirrored.length }).toEqual({
      emits: count.emits + 2,
      transitions: count.transitions + 1,
      mirrored: count.mirrored + 1,
    });
  });

  it('tells the previous assignee of a reassignment, and gives nobody a notification of their own action', async () => {
    await jobs.create({ subject: 'Mix', creatorId: 'carol', assigneeId: 'ann' }, BACKEND);
    emits.length = 0;
    await jobs.transition(1, { kind: 'assign', assigneeId: 'bob' }, user('carol'));
    expect(emits.map(({ event, userIds }) => [event, userIds])).toEqual([
      ['job:assigned', ['bob']],
      ['job:status-changed', ['ann', 'bob', 'carol']],
    ]);
    // carol assigns herself: told by the events, not by her inbox.
    await jobs.transition(1, { kind: 'assign', assigneeId: 'carol' }, user('carol'));
    expect(await inboxOf('carol')).toEqual([]);
    expect((await inboxOf('bob')).map((n) => n.type)).toEqual(['job_assigned']);
  });

  it('cancels from the backend and tells the assignee, in the inbox too', async () => {
    await jobs.create({ subject: 'Mix', creatorId: 'carol', assigneeId: 'ann' }, BACKEND);
    emits.length = 0;
    expect(await jobs.transition('1', { kind: 'cancel' }, BACKEND)).toMatchObject({ state: 'cancelled' });
    expect(emits.map(({ event, userIds }) => [event, userIds])).toEqual([['job:status-changed', ['ann', 'carol']]]);
    expect((await inboxOf('ann')).map((n) => n.type)).toEqual(['job_cancelled', 'job_assigned']);
  });

  it('keeps a user to their own tenant’s jobs: any other is NOT_FOUND, as is an unknown job', async () => {
    await jobs.create({ subject: 'Mix', creatorId: 'carol', assigneeId: 'ann', tenantId: 'acme' }, BACKEND);
    expect(await rejectionCode(jobs.transition(1, { kind: 'start' }, user('ann')))).toBe('NOT_FOUND');
    expect(await rejectionCode(jobs.transition(1, { kind: 'start' }, user('ann', 'other')))).toBe('NOT_FOUND');
    expect(await rejectionCode(jobs.get(1, user('carol')))).toBe('NOT_FOUND');
    expect(await rejectionCode(jobs.transition(2, { kind: 'start' }, user('ann', 'acme')))).toBe('NOT_FOUND');
    expect(await rejectionCode(jobs.transition(1, { kind: 'start' }, user('carol', 'acme')))).toBe('FORBIDDEN');
    expect((await jobs.transition(1, { kind: 'start' }, user('ann', 'acme'))).state).toBe('started');
    expect((await jobs.get(1, BACKEND)).state).toBe('started');
  });

  it('creates a user’s job in the user’s tenant with the user as creator, whatever else it is told', async () => {
    const { job } = await jobs.create({ subject: 'Test Job', projectId: 1, jobTypeId: 2, creatorId: 'someone', tenantId: 'elsewhere' }, user('dj', 'acme'));
    expect(job).toMatchObject({ jobId: 1, tenantId: 'acme', creatorId: 'dj', projectId: 1, jobTypeId: 2 });
    expect(job.history).toEqual([{ from: null, to: 'created', at: AT, by: 'dj' }]);
  });

  it('never fails a stored transition for what follows it: each failure is reported and the rest still happens', async () => {
    await jobs.create({ subject: 'Mix', creatorId: 'carol', assigneeId: 'ann' }, BACKEND);
    failures = { emit: 'job:started', inbox: true, mirror: true, webhook: true };
    const started = await jobs.transition(1, { kind: 'start' }, user('ann'));
    expect(started.state).toBe('started');
    expect((await store.get(1))?.state).toBe('started');
    await expect.poll(() => background.map((entry) => entry.context.what).sort()).toEqual(['job event mirror', 'job events', 'job inbox notification', 'job webhook']);
    expect(background.every((entry) => entry.context.jobId === 1 && entry.context.to === 'started')).toBe(true);
    expect(transitions.map((t) => t.to)).toEqual(['assigned', 'started']);

    // A refused transition is a failure of its own call, and announces nothing.
    failures = {};
    const before = emits.length;
    expect(await rejectionCode(jobs.transition(1, { kind: 'assign', assigneeId: 'bob' }, BACKEND))).toBe('INVALID_STATE');
    expect(emits).toHaveLength(before);
  });

  it('lists a user’s jobs through the store', async () => {
    await jobs.create({ subject: 'a', creatorId: 'carol' }, BACKEND);
    await jobs.create({ subject: 'b', assigneeId: 'carol' }, BACKEND);
    await jobs.create({ subject: 'c', assigneeId: 'ann' }, BACKEND);
    expect((await jobs.list({ userId: 'carol', limit: 10 })).jobs.map((job) => job.subject)).toEqual(['b', 'a']);
  });
});
