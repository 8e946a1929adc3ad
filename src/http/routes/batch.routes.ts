import type { z } from 'zod';
import {
  BATCH_MAX_ITEMS,
  BATCH_OPS,
  batchBodySchema,
  batchResponseSchema,
  broadcastBodySchema,
  pushBodySchema,
  roomBodySchema,
  type BatchItemResult,
  type BatchOp,
  type BatchResponse,
} from '../../contracts/schemas.js';
import { AppError, toAppError } from '../../errors.js';
import { describeIssues } from '../../validation.js';
import type { HttpDependencies } from '../dependencies.js';
import { chargeHttpRateLimit } from '../middleware/rate-limit.js';
import { requestIdOf } from '../request-context.js';
import { defineRoute } from '../route-definition.js';
import { runBroadcast, runPush, runRoom } from './delivery-ops.js';

const OPS: ReadonlySet<string> = new Set(BATCH_OPS);

/** Each op's body schema and its work: the single endpoints' own (delivery-ops.ts). */
const operations: { [op in BatchOp]: { schema: z.ZodType; run(deps: HttpDependencies, body: never): Promise<{ body: BatchItemResult['body']; replayed?: true }> } } = {
  push: {
    schema: pushBodySchema,
    run: async (deps, body: z.output<typeof pushBodySchema>) => {
      const { response, replayed } = await runPush(deps, body);
      return replayed ? { body: response, replayed: true } : { body: response };
    },
  },
  broadcast: { schema: broadcastBodySchema, run: async (deps, body: z.output<typeof broadcastBodySchema>) => ({ body: await runBroadcast(deps, body) }) },
  room: { schema: roomBodySchema, run: async (deps, body: z.output<typeof roomBodySchema>) => ({ body: await runRoom(deps, body) }) },
};

/**
 * One item of a batch, answered as its own endpoint would have answered it: its status
 * and its body, an error body when it failed. Never throws: an item fails alone.
 */
async function runItem(deps: HttpDependencies, item: unknown, index: number, requestId: string): Promise<BatchItemResult> {
  const op = typeof item === 'object' && item !== null && !Array.isArray(item) ? (item as { op?: unknown }).op : undefined;
  try {
    if (typeof op !== 'string' || !OPS.has(op)) {
      throw new AppError('INVALID_REQUEST', `items[${index}]: op must be one of ${BATCH_OPS.join(', ')}`);
    }
    const { op: _op, ...fields } = item as Record<string, unknown>;
    const operation = operations[op as BatchOp];
    const parsed = operation.schema.safeParse(fields);
    if (!parsed.success) throw new AppError('INVALID_REQUEST', `items[${index}] is invalid: ${describeIssues(parsed.error)}`);
    const done = await operation.run(deps, parsed.data as never);
    return { op, status: 200, ...done };
  } catch (err) {
    const appError = toAppError(err);
    if (appError.code === 'INTERNAL_SERVER_ERROR') deps.logger.error({ err: appError.cause ?? err, requestId, item: index }, 'unhandled error in a batch item');
    return {
      ...(typeof op === 'string' ? { op } : {}),
      status: appError.status,
      body: {
        success: false,
        error: appError.message,
        code: appError.code,
        ...(appError.retryAfter !== undefined ? { retryAfter: appError.retryAfter } : {}),
      },
    };
  }
}

/** POST /api/batch: many deliveries in one request (issue 14). */
export const batchRoutes = [
  defineRoute({
    method: 'post',
    path: '/api/batch',
    access: 'apiKey',
    summary: `Run up to ${BATCH_MAX_ITEMS} pushes, broadcasts and room emits in one request`,
    description:
      'Each item is the body of POST /api/push, /api/broadcast or /api/room with its `op`, and is answered in `results`, in order, ' +
      "with the status and body that endpoint would have answered: an item that fails (invalid, storage unavailable, ...) fails alone. " +
      'One signature covers the whole batch; each item spends one unit of the rate limit, so a batch that does not fit in what is left ' +
      'of the window is refused whole with 429 RATE_LIMITED and nothing is run. The body is bounded by MAX_BODY_BYTES and MAX_PAYLOAD_DEPTH ' +
      '(an item\'s `data` sits two levels deeper than in a request of its own).',
    body: batchBodySchema,
    responses: { 200: { description: 'Every item was run; each result says how it went', schema: batchResponseSchema } },
    handler: (deps) => async ({ body }, req, res) => {
      // The rate-limit guard spent one unit for the request; the other items spend theirs.
      if (body.items.length > 1) await chargeHttpRateLimit(deps.httpRateLimiter, deps.metrics, req, res, body.items.length - 1);
      const requestId = requestIdOf(res);
      const results: BatchItemResult[] = [];
      if (body.parallel === true) {
        results.push(...(await Promise.all(body.items.map((item, index) => runItem(deps, item, index, requestId)))));
      } else {
        for (const [index, item] of body.items.entries()) results.push(await runItem(deps, item, index, requestId));
      }
      const succeeded = results.filter((result) => result.status === 200).length;
      const response: BatchResponse = { success: true, results, succeeded, failed: results.length - succeeded };
      res.json(response);
    },
  }),
];
