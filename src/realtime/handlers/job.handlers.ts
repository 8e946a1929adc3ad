import { jobCompletePayloadSchema, jobStartPayloadSchema, testAssignJobPayloadSchema, testCreateJobPayloadSchema } from '../../contracts/jobs.js';
import type { JobActor, JobService } from '../../domain/job-service.js';
import { AppError } from '../../errors.js';
import type { HandlerRegistry } from '../handle.js';
import type { AppSocket } from '../socket-types.js';

export interface JobHandlerDependencies {
  jobs: JobService;
  /** `test:create-job` and `test:assign-job` exist (config.testHelpers). */
  testHelpers: boolean;
}

/** The socket's user, within the tenant of its token: it reaches that tenant's jobs only. */
function actorOf(socket: AppSocket): JobActor {
  const { userId, tenantId } = socket.data;
  if (userId === undefined) throw new AppError('UNAUTHORIZED', 'Connect with a token, or register first');
  return { kind: 'user', userId, tenantId };
}

/**
 * Jobs over sockets (seed 003): the assignee starts and completes a job, each answered on
 * the ack alone (`{ success: true, job }`, or the failure: FORBIDDEN for anyone but the
 * assignee, NOT_FOUND for a job that does not exist in the socket's tenant, INVALID_STATE
 * for what the state machine refuses). The transition's events reach the users' sockets,
 * this one included, before the ack. While the development helpers are on, also
 * `test:create-job` (a job created by the caller, in the caller's tenant) and
 * `test:assign-job` (assigns one of the tenant's jobs, as the backend would); otherwise
 * those two are unknown events (UNKNOWN_ACTION, see handle.ts).
 */
export function registerJobHandlers(handlers: HandlerRegistry, deps: JobHandlerDependencies): void {
  const { jobs } = deps;

  handlers.on('job:start', jobStartPayloadSchema, async ({ jobId }, socket) => ({
    success: true as const,
    job: await jobs.transition(jobId, { kind: 'start' }, actorOf(socket)),
  }));

  handlers.on('job:complete', jobCompletePayloadSchema, async ({ jobId, note }, socket) => ({
    success: true as const,
    job: await jobs.transition(jobId, { kind: 'complete', note }, actorOf(socket)),
  }));

  if (!deps.testHelpers) return;

  handlers.on('test:create-job', testCreateJobPayloadSchema, async (payload, socket) => {
    const { job } = await jobs.create(payload, actorOf(socket));
    return { success: true as const, job };
  });

  handlers.on('test:assign-job', testAssignJobPayloadSchema, async ({ jobId, assigneeId }, socket) => ({
    success: true as const,
    job: await jobs.transition(jobId, { kind: 'assign', assigneeId }, actorOf(socket)),
  }));
}
