import { z } from 'zod';
import {
  assignJobBodySchema,
  createJobBodySchema,
  jobCreatedResponseSchema,
  jobIdParamSchema,
  jobResponseSchema,
  userJobsQuerySchema,
  userJobsResponseSchema,
} from '../../contracts/jobs.js';
import { userIdSchema } from '../../contracts/schemas.js';
import type { JobActor } from '../../domain/job-service.js';
import { defineRoute } from '../route-definition.js';

/** REST calls are the application's backend (an API key): every job, every tenant. */
const BACKEND: JobActor = { kind: 'backend' };

const jobParams = z.object({ jobId: jobIdParamSchema });
const userParams = z.object({ userId: userIdSchema });

const noJob = { description: 'No such job' };
const refused = { description: '`INVALID_STATE`: the job is in a state that does not allow this (e.g. a completed job)' };
const storageDown = { description: 'Storage unavailable: nothing was changed' };
const afterwards =
  'Stored before the answer; then the users it concerns are told (`job:*` events, an inbox notification), and the webhook is called when `EVENT_WEBHOOK_URL` is set.';

/** Jobs (seed 003) for the application's backend. */
export const jobRoutes = [
  defineRoute({
    method: 'post',
    path: '/api/jobs',
    access: 'apiKey',
    summary: 'Create a job; with `assigneeId`, assigned at once. A given `jobId` makes the call idempotent',
    description:
      'Without `jobId`, the server gives the next free integer (1, 2, …). With one, a repeat answers 200 with the job stored first, unchanged, whatever the rest of the body says. ' +
      afterwards,
    body: createJobBodySchema,
    responses: {
      201: { description: 'Created', schema: jobCreatedResponseSchema },
      200: { description: 'A job with this `jobId` existed: it is returned unchanged', schema: jobCreatedResponseSchema },
      503: storageDown,
    },
    handler:
      ({ jobs }) =>
      async ({ body }, _req, res) => {
        const { job, created } = await jobs.create(body, BACKEND);
        res.status(created ? 201 : 200).json({ success: true, created, job });
      },
  }),

  defineRoute({
    method: 'get',
    path: '/api/jobs/:jobId',
    access: 'apiKey',
    summary: 'One job, with its history',
    params: jobParams,
    responses: { 200: { description: 'The job', schema: jobResponseSchema }, 404: noJob },
    handler:
      ({ jobs }) =>
      async ({ params }, _req, res) => {
        res.json({ success: true, job: await jobs.get(params.jobId, BACKEND) });
      },
  }),

  defineRoute({
    method: 'post',
    path: '/api/jobs/:jobId/assign',
    access: 'apiKey',
    summary: 'Assign (or reassign) a job: `{ assigneeId }`',
    description: `Allowed while the job is created or assigned; the same assignee again changes nothing. ${afterwards}`,
    params: jobParams,
    body: assignJobBodySchema,
    responses: { 200: { description: 'The job as stored', schema: jobResponseSchema }, 404: noJob, 409: refused, 503: storageDown },
    handler:
      ({ jobs }) =>
      async ({ params, body }, _req, res) => {
        res.json({ success: true, job: await jobs.transition(params.jobId, { kind: 'assign', assigneeId: body.assigneeId }, BACKEND) });
      },
  }),

  defineRoute({
    method: 'post',
    path: '/api/jobs/:jobId/cancel',
    access: 'apiKey',
    summary: 'Cancel a job (any state but completed; a cancelled one stays as it is)',
    description: afterwards,
    params: jobParams,
    responses: { 200: { description: 'The job as stored', schema: jobResponseSchema }, 404: noJob, 409: refused, 503: storageDown },
    handler:
      ({ jobs }) =>
      async ({ params }, _req, res) => {
        res.json({ success: true, job: await jobs.transition(params.jobId, { kind: 'cancel' }, BACKEND) });
      },
  }),

  defineRoute({
    method: 'get',
    path: '/api/users/:userId/jobs',
    access: 'apiKey',
    summary: "A page of the user's jobs (assigned to them or created by them), newest first: `?state=&limit=&cursor=&tenantId=`",
    description: '`limit` 1–100 (default 20); `nextCursor`, present when more follow, is the next page\'s `cursor`.',
    params: userParams,
    query: userJobsQuerySchema,
    responses: { 200: { description: 'A page', schema: userJobsResponseSchema } },
    handler:
      ({ jobs }) =>
      async ({ params, query }, _req, res) => {
        const page = await jobs.list({ userId: params.userId, ...query });
        res.json({ success: true, userId: params.userId, ...page });
      },
  }),
];
