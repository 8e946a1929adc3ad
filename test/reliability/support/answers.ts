import { ERROR_CATALOG, type ErrorCode } from '../../../src/contracts/error-codes.js';
import type { RawResponse } from './raw-http.js';

/**
 * The invariants every answer keeps, whatever was sent: a failure carries a code from the
 * one catalog, and never INTERNAL_SERVER_ERROR (bad input is the client's mistake, and
 * an unexpected exception is a bug). Each throws with the offending answer.
 */

const isCatalogCode = (code: unknown): code is ErrorCode => typeof code === 'string' && Object.hasOwn(ERROR_CATALOG, code);

const show = (value: unknown) => {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
};

/** A failure-shaped value (`success: false`, an `error` event payload) has a catalog code, not INTERNAL_SERVER_ERROR. */
export function assertCodedFailure(what: string, failure: unknown): void {
  const code = (failure as { code?: unknown } | null)?.code;
  if (!isCatalogCode(code)) throw new Error(`${what}: a failure without a catalog code: ${show(failure)}`);
  if (code === 'INTERNAL_SERVER_ERROR') throw new Error(`${what}: answered INTERNAL_SERVER_ERROR: ${show(failure)}`);
}

/** An ack reply is a success, or a coded failure. */
export function assertAckReply(what: string, reply: unknown): void {
  if (typeof reply === 'object' && reply !== null && (reply as { success?: unknown }).success === false) assertCodedFailure(what, reply);
}

/** An HTTP answer is below 500 (or a coded 503), and every error answer is JSON with a catalog code matching its status. */
export function assertHttpAnswer(what: string, res: RawResponse): void {
  if (res.status < 400) return;
  let body: unknown;
  try {
    body = JSON.parse(res.text);
  } catch {
    throw new Error(`${what}: ${res.status} with a body that is not JSON: ${show(res.text)}`);
  }
  assertCodedFailure(`${what} (${res.status})`, body);
  const code = (body as { code: ErrorCode }).code;
  if (ERROR_CATALOG[code].status !== res.status) {
    throw new Error(`${what}: status ${res.status} does not match ${code} (${ERROR_CATALOG[code].status})`);
  }
}
