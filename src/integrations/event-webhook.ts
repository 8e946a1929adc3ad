import { createHmac } from 'node:crypto';
import type { ActionForwarder } from '../domain/actions.js';
import { AppError } from '../errors.js';
import type { Logger } from '../observability/logger.js';

/**
 * Forwards unknown `client:event` types and `client:action` actions to the application's
 * backend as `POST EVENT_WEBHOOK_URL` with `{ userId, tenantId, socketId, type | action,
 * data | params }`. The body is signed: `X-Webhook-Signature: hex(HMAC-SHA256(secret,
 * timestamp + "." + body))` with `X-Webhook-Timestamp` (ms), so the backend can check
 * the call came from this server. The backend's JSON answer is the result; 404 means
 * "unknown" (UNKNOWN_ACTION); any other failure or a timeout is BAD_GATEWAY.
 */
export function createEventWebhook(options: { url: string; secret: string; timeoutMs: number; logger: Logger }): ActionForwarder {
  return {
    async forward(kind, name, input, ctx) {
      const body = JSON.stringify({
        userId: ctx.userId ?? null,
        tenantId: ctx.tenantId ?? null,
        socketId: ctx.socketId,
        ...(kind === 'event' ? { type: name, data: input ?? null } : { action: name, params: input ?? null }),
      });
      let response: Response;
      try {
        response = await fetch(options.url, {
          method: 'POST',
          headers: signedWebhookHeaders(options.secret, body),
          body,
          signal: AbortSignal.timeout(options.timeoutMs),
        });
      } catch (err) {
        const timedOut = (err as Error).name === 'TimeoutError';
        options.logger.warn({ err, name, kind }, 'event webhook call failed');
        throw new AppError('BAD_GATEWAY', timedOut ? 'The application backend did not answer in time' : 'The application backend is unreachable');
      }
      if (response.status === 404) throw new AppError('UNKNOWN_ACTION', `Unknown ${kind === 'event' ? 'event type' : 'action'}: ${name}`);
      if (!response.ok) {
        options.logger.warn({ status: response.status, name, kind }, 'event webhook answered an error');
        throw new AppError('BAD_GATEWAY', `The application backend answered ${response.status}`);
      }
      try {
        return (await response.json()) as unknown;
      } catch {
        throw new AppError('BAD_GATEWAY', 'The application backend answered something other than JSON');
      }
    },
  };
}

/**
 * The headers of a signed webhook call: `X-Webhook-Timestamp` (ms) and
 * `X-Webhook-Signature: hex(HMAC-SHA256(secret, timestamp + "." + body))`.
 */
export function signedWebhookHeaders(secret: string, body: string, now: number = Date.now()): Record<string, string> {
  const timestamp = String(now);
  const signature = createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
  return { 'Content-Type': 'application/json', 'X-Webhook-Timestamp': timestamp, 'X-Webhook-Signature': signature };
}

/**
 * Posts notices to the application's backend, signed as above (the job transitions): the
 * answer's body is not read. Rejects when the backend cannot be reached, does not answer
 * within `timeoutMs`, or answers other than 2xx; the caller decides what that means.
 */
export function createWebhookPoster(options: { url: string; secret: string; timeoutMs: number }): { post(payload: unknown): Promise<void> } {
  return {
    async post(payload) {
      const body = JSON.stringify(payload);
      const response = await fetch(options.url, {
        method: 'POST',
        headers: signedWebhookHeaders(options.secret, body),
        body,
        signal: AbortSignal.timeout(options.timeoutMs),
      });
      // Read to the end, so the connection can be reused.
      await response.arrayBuffer().catch(() => undefined);
      if (!response.ok) throw new Error(`the application backend answered ${response.status}`);
    },
  };
}
