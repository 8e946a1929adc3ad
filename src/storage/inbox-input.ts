import { AppError } from '../errors.js';

/**
 * How every InboxStore reads what callers hand it, shared so the SQLite store and the
 * memory store (the reference of the semantics) cannot drift apart.
 */

/** Ids are a positive integer as a plain decimal string; anything else never named a notification. */
const ID_PATTERN = /^[1-9][0-9]{0,15}$/;

/** The id's number, or undefined when the string cannot be an id this store gave out. */
export function parseId(id: string): number | undefined {
  if (!ID_PATTERN.test(id)) return undefined;
  const value = Number(id);
  return Number.isSafeInteger(value) ? value : undefined;
}

/** Epoch ms of an ISO 8601 time; INVALID_REQUEST naming `field` when it does not parse. */
export function parseTime(iso: string, field: string): number {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) throw new AppError('INVALID_REQUEST', `${field} must be an ISO 8601 time`);
  return ms;
}
