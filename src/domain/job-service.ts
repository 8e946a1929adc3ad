import type { JobHistoryEntry, JobId, JobRecord, JobState, JobStatusChangedPayload } from '../contracts/jobs.js';
import { AppError } from '../errors.js';
import type { Clock } from './clock.js';
import type { EventMirror } from './event-mirror.js';
import type { InboxService } from './inbox-service.js';
import type { JobListFilter, JobStore } from './job-store.js';
import type { RealtimeGateway } from './realtime-gateway.js';

/**
 * Who asks for a change:
 * - `backend`: the application's backend (an API key, over REST). It reaches every job,
 *   in every tenant, and its changes are recorded with `by: null`.
 * - `user`: a socket's user. It reaches only the jobs of its own tenant (any other is
 *   NOT_FOUND), and only the assignee may start or complete a job (FORBIDDEN otherwise).
 */
export type JobActor = { kind: 'backend' } | { kind: 'user'; userId: string; tenantId: string | undefined };

/** A change the state machine is asked for. */
export type JobAction = { kind: 'assign'; assigneeId: string } | { kind: 'start' } | { kind: 'complete'; note?: string | undefined } | { kind: 'cancel' };

/** What a new job is made of (the store gives the id when none is given). */
export interface NewJobInput {
  jobId?: JobId | undefined;
  tenantId?: string | undefined;
  projectId?: number | string | undefined;
  jobTypeId?: number | string | undefined;
  subject: string;
  creatorId?: string | undefined;
  assigneeId?: string | undefined;
  data?: unknown;
}

/** One transition that was committed, as the webhook and the event mirror carry it. */
export interface JobTransition {
  job: JobRecord;
  from: JobState;
  to: JobState;
  at: string;
  by: string | null;
  /** On a reassignment, the assignee the job was taken from. */
  previousAssigneeId?: string | undefined;
}

/** The body posted to EVENT_WEBHOOK_URL after each transition. */
export interface JobTransitionWebhookBody {
  type: 'job.transition';
  job: JobRecord;
  from: JobState;
  to: JobState;
  by: string | null;
}

/** Posts a transition to the application's backend (signed: integrations/event-webhook.ts); rejects when it was not taken. */
export interface JobWebhook {
  post(body: JobTransitionWebhookBody): Promise<void>;
}

/**
 * Jobs (seed 003), for every transport: REST routes and socket handlers call these and
 * never the store. Each transition is durable before its promise resolves; then, in this
 * order, it reaches:
 * - the sockets of the users it concerns, in the job's tenant: `job:assigned` (the job) to
 *   the new assignee; `job:started` / `job:completed` (the job) to the assignee and the
 *   creator; `job:status-changed` `{ jobId, from, to, at, by }` to the assignee, the
 *   creator and, on a reassignment, the previous assignee;
 * - the inbox of the user it concerns (the assignee on assign and cancel, the creator on
 *   start and complete; nobody for their own action): a stored `notification` of type
 *   `job_assigned`, `job_started`, `job_completed` or `job_cancelled`, so an offline user
 *   finds it on connect;
 * - the event mirror (topic `jobs`) and, when configured, the backend's webhook.
 * None of these can fail the transition, which is already stored: their failures are
 * reported to `onBackgroundError`.
 *
 * A repeat of a transition that already happened (the same assignee again, a second
 * start of a started job...) resolves with the job unchanged and sends nothing, so a
 * client may retry after a lost ack.
 */
export interface JobService {
  /** Resolves with `created: false` and the stored job, unchanged, when `jobId` is given and taken. */
  create(input: NewJobInput, actor: JobActor): Promise<{ job: JobRecord; created: boolean }>;
  /** NOT_FOUND for an unknown job, or one of another tenant than a user actor's. */
  get(jobId: JobId, actor: JobActor): Promise<JobRecord>;
  /** Asks the state machine for `action`; resolves with the job as stored afterwards. */
  transition(jobId: JobId, action: JobAction, actor: JobActor): Promise<JobRecord>;
  list(filter: JobListFilter): Promise<{ jobs: JobRecord[]; nextCursor?: string }>;
}

/** Entries a job's history keeps: its most recent ones (a job reassigned forever stays bounded). */
export const MAX_HISTORY = 100;

/** The transitions the state machine allows: from these states, to this one. */
const TRANSITIONS: Readonly<Record<JobAction['kind'], { from: readonly JobState[]; to: JobState }>> = {
  assign: { from: ['created', 'assigned'], to: 'assigned' },
  start: { from: ['assigned'], to: 'started' },
  complete: { from: ['started'], to: 'completed' },
  cancel: { from: ['created', 'assigned', 'started'], to: 'cancelled' },
};

const actorId = (actor: JobActor): string | null => (actor.kind === 'user' ? actor.userId : null);

/** A user actor sees its own tenant's jobs only; for any other a job does not exist. */
function visibleTo(job: JobRecord, actor: JobActor): boolean {
  return actor.kind === 'backend' || (job.tenantId ?? undefined) === actor.tenantId;
}

function withHistory(job: JobRecord, entry: JobHistoryEntry): JobHistoryEntry[] {
  return [...job.history, entry].slice(-MAX_HISTORY);
}

/**
 * The state machine: the job after `action`, or undefined when `action` already happened
 * (the job is in the state it leads to, with the same assignee for an assign), which a
 * retry after a lost ack gets as a success. Throws AppError: FORBIDDEN when a user other
 * than the assignee starts or completes a job; INVALID_STATE when the job's state does
 * not allow the action. Pure: the caller stores what it returns.
 */
export function applyJobAction(job: JobRecord, action: JobAction, actor: JobActor, at: string): JobRecord | undefined {
  if ((action.kind === 'start' || action.kind === 'complete') && actor.kind === 'user' && actor.userId !== job.assigneeId) {
    throw new AppError('FORBIDDEN', `Only the job's assignee may ${action.kind} it`);
  }
  const rule = TRANSITIONS[action.kind];
  const repeat = job.state === rule.to && (action.kind !== 'assign' || job.assigneeId === action.assigneeId);
  if (repeat) return undefined;
  if (!rule.from.includes(job.state)) {
    throw new AppError('INVALID_STATE', `A ${job.state} job cannot be ${action.kind === 'assign' ? 'assigned' : `${rule.to}`}`);
  }
  const next: JobRecord = { ...job, state: rule.to, updatedAt: at, history: withHistory(job, { from: job.state, to: rule.to, at, by: actorId(actor) }) };
  if (action.kind === 'assign') next.assigneeId = action.assigneeId;
  if (action.kind === 'start') next.startedAt = at;
  if (action.kind === 'complete') {
    next.completedAt = at;
    if (action.note !== undefined) next.note = action.note;
  }
  if (action.kind === 'cancel') next.cancelledAt = at;
  return next;
}

/** The events the seed names for the transition's target state (besides `job:status-changed`). */
const STATE_EVENTS: Partial<Record<JobState, 'job:assigned' | 'job:started' | 'job:completed'>> = {
  assigned: 'job:assigned',
  started: 'job:started',
  completed: 'job:completed',
};

/** The inbox notification of a transition: its type, who it concerns, and its words. */
function notificationOf(transition: JobTransition): { userId: string | undefined; type: string; title: string; message: string } {
  const { job, to } = transition;
  const subject = `“${job.subject}”`;
  const assignee = job.assigneeId ?? 'The assignee';
  switch (to) {
    case 'assigned':
      return { userId: job.assigneeId, type: 'job_assigned', title: 'Job assigned to you', message: `${subject} was assigned to you` };
    case 'started':
      return { userId: job.creatorId, type: 'job_started', title: 'Job started', message: `${assignee} started ${subject}` };
    case 'completed':
      return { userId: job.creatorId, type: 'job_completed', title: 'Job completed', message: `${assignee} completed ${subject}` };
    default:
      return { userId: job.assigneeId, type: 'job_cancelled', title: 'Job cancelled', message: `${subject} was cancelled` };
  }
}

export interface JobServiceOptions {
  store: JobStore;
  gateway: RealtimeGateway;
  inbox: InboxService;
  mirror: EventMirror;
  /** The backend's webhook (EVENT_WEBHOOK_URL), when configured. */
  webhook?: JobWebhook | undefined;
  clock: Clock;
  /** Told of each committed transition (metrics). */
  onTransition?: (transition: JobTransition) => void;
  /** Told about failures of work done after a transition was already durable. */
  onBackgroundError?: (err: unknown, context: Record<string, unknown>) => void;
}

/** Jobs on top of a durable JobStore, the realtime gateway, the inbox and the event mirror (see JobService). */
export function createJobService(options: JobServiceOptions): JobService {
  const { store, gateway, inbox, mirror, webhook, clock } = options;
  const isoNow = () => new Date(clock.now()).toISOString();
  const report = (err: unknown, what: string, transition: JobTransition) =>
    options.onBackgroundError?.(err, { what, jobId: transition.job.jobId, to: transition.to });

  const notFound = (jobId: JobId) => new AppError('NOT_FOUND', `No job ${String(jobId)}`);

  async function emitTo(userIds: readonly (string | undefined)[], tenantId: string | undefined, event: string, payload: unknown): Promise<void> {
    const users = [...new Set(userIds.filter((userId): userId is string => userId !== undefined))];
    if (users.length > 0) await gateway.emitToUsers({ userIds: users, tenantId }, event, payload);
  }

  /** Everything a committed transition causes; each part is on its own, and none can fail the transition. */
  async function announce(transition: JobTransition): Promise<void> {
    const { job, from, to, at, by } = transition;
    options.onTransition?.(transition);
    try {
      const stateEvent = STATE_EVENTS[to];
      if (stateEvent === 'job:assigned') await emitTo([job.assigneeId], job.tenantId, stateEvent, job);
      else if (stateEvent !== undefined) await emitTo([job.assigneeId, job.creatorId], job.tenantId, stateEvent, job);
      const changed: JobStatusChangedPayload = { jobId: job.jobId, from, to, at, by };
      await emitTo([job.assigneeId, job.creatorId, transition.previousAssigneeId], job.tenantId, 'job:status-changed', changed);
    } catch (err) {
      report(err, 'job events', transition);
    }
    const { userId, ...notification } = notificationOf(transition);
    if (userId !== undefined && userId !== by) {
      try {
        await inbox.push({
          userIds: [userId],
          tenantId: job.tenantId,
          event: 'notification',
          data: { ...notification, data: { jobId: job.jobId } },
          persist: true,
        });
      } catch (err) {
        report(err, 'job inbox notification', transition);
      }
    }
    try {
      mirror.publish('jobs', { type: 'job.transition', job, from, to, by, at });
    } catch (err) {
      report(err, 'job event mirror', transition);
    }
    // Not awaited: the backend's answer time is not the transition's.
    webhook?.post({ type: 'job.transition', job, from, to, by }).catch((err: unknown) => report(err, 'job webhook', transition));
  }

  return {
    async create(input, actor) {
      const at = isoNow();
      const by = actorId(actor);
      const tenantId = actor.kind === 'user' ? actor.tenantId : input.tenantId;
      const creatorId = actor.kind === 'user' ? actor.userId : input.creatorId;
      const result = await store.create(input.jobId, (jobId) => {
        const job: JobRecord = {
          jobId,
          ...(tenantId !== undefined ? { tenantId } : {}),
          ...(input.projectId !== undefined ? { projectId: input.projectId } : {}),
          ...(input.jobTypeId !== undefined ? { jobTypeId: input.jobTypeId } : {}),
          subject: input.subject,
          ...(creatorId !== undefined ? { creatorId } : {}),
          ...(input.data !== undefined ? { data: input.data } : {}),
          state: 'created',
          createdAt: at,
          updatedAt: at,
          history: [{ from: null, to: 'created', at, by }],
        };
        // Created and assigned in one write: nobody can see it created and unassigned.
        return input.assigneeId === undefined ? job : (applyJobAction(job, { kind: 'assign', assigneeId: input.assigneeId }, actor, at) ?? job);
      });
      if (result.created && result.job.state === 'assigned') {
        await announce({ job: result.job, from: 'created', to: 'assigned', at, by });
      }
      return result;
    },

    async get(jobId, actor) {
      const job = await store.get(jobId);
      if (job === undefined || !visibleTo(job, actor)) throw notFound(jobId);
      return job;
    },

    async transition(jobId, action, actor) {
      const at = isoNow();
      let from: JobState | undefined;
      let previousAssigneeId: string | undefined;
      const result = await store.update(jobId, (job) => {
        if (!visibleTo(job, actor)) throw notFound(jobId);
        from = job.state;
        previousAssigneeId = job.assigneeId;
        return applyJobAction(job, action, actor, at);
      });
      if (result === undefined) throw notFound(jobId);
      if (result.changed && from !== undefined) {
        const reassigned = action.kind === 'assign' && previousAssigneeId !== undefined && previousAssigneeId !== result.job.assigneeId;
        await announce({ job: result.job, from, to: result.job.state, at, by: actorId(actor), ...(reassigned ? { previousAssigneeId } : {}) });
      }
      return result.job;
    },

    list(filter) {
      return store.list(filter);
    },
  };
}
