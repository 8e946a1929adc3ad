import { createHash, randomUUID } from 'node:crypto';
import {
  NOTIFICATION_PRIORITIES,
  type MarkedReadPayload,
  type NotificationDeletedPayload,
  type NotificationPage,
  type NotificationPriority,
  type NotificationRecord,
} from '../contracts/inbox.js';
import { AppError } from '../errors.js';
import type { Clock } from './clock.js';
import type { InboxOwner, InboxStore, ListOptions, NewNotification } from './inbox-store.js';
import type { RealtimeGateway } from './realtime-gateway.js';

/**
 * The inbox's rules, shared by every transport: HTTP routes and socket handlers call these
 * methods and never the store, and every change reaches all of the owner's sockets (every
 * device) with the same events, whichever transport made it:
 * - a stored push: `notification:new` <record> and `notification:unread-count` { count },
 *   besides the push's own event (default `notification`) carrying the record's id;
 * - a read: `notification:marked-read` then `notification:unread-count`;
 * - a delete: `notification:deleted` then `notification:unread-count`.
 *
 * Failures are AppErrors with catalog codes: an unknown id, or another owner's, is
 * NOT_FOUND and changes nothing; storage failures are STORAGE_UNAVAILABLE.
 */
export interface InboxService {
  /**
   * Delivers a push to users' sockets; with `persist`, stores one record per user first
   * (one durable write for all of them), resolves once they are durable, and delivers
   * them live right after (on the next turn of the event loop, so that an HTTP answer
   * leaves first: stored, answered, then delivered, as the issue orders it). With an
   * `idempotencyKey`, a retry resolves with the first call's outcome and neither stores
   * nor delivers again. Keys are per tenant (the same key in two tenants is two pushes);
   * a key used again with a different request (users, event, data, persist, ttl or
   * priority) is refused with IDEMPOTENCY_KEY_REUSED rather than answered with the first.
   */
  push(input: PushInput): Promise<PushOutcome>;
  list(owner: InboxOwner, options: ListOptions): Promise<NotificationPage>;
  unreadCount(owner: InboxOwner): Promise<number>;
  /** Marks read; resolves with how many changed (ids that were unread). NOT_FOUND when a single given id is not the owner's. */
  markRead(owner: InboxOwner, ids: readonly string[] | 'all'): Promise<{ changed: number; notificationIds: string[]; readAt: string }>;
  /** NOT_FOUND when the id is not the owner's. */
  remove(owner: InboxOwner, id: string): Promise<void>;
}

export interface PushInput {
  userIds: readonly string[];
  tenantId?: string | undefined;
  event: string;
  data: unknown;
  persist: boolean;
  /** Seconds until the stored records expire (`expiresAt`); the retention period bounds it. */
  ttlSeconds?: number | undefined;
  idempotencyKey?: string | undefined;
  /** Overrides for the record; otherwise taken from `data` when it has them (seed 004's `{ type, title, message, data }`). */
  priority?: NotificationPriority | undefined;
}

export interface PushOutcome {
  /**
   * Sockets the push was handed to on this node. For a stored or idempotent push, the users'
   * sockets connected just before the write, because the answer a retry gets is stored in it.
   */
  recipients: number;
  /** One per user, in `userIds` order, when persisted. */
  notificationIds?: string[];
  /** The records stored, in `userIds` order (for the caller's own use; not all transports answer them). */
  records?: NotificationRecord[];
  /** True when this was a retry of an earlier call with the same idempotency key. */
  replayed: boolean;
  messageId: string;
  timestamp: string;
}

/** Events the inbox itself sends; a stored push must not be published under one of them. */
const INBOX_EVENTS = {
  created: 'notification:new',
  unreadCount: 'notification:unread-count',
  markedRead: 'notification:marked-read',
  deleted: 'notification:deleted',
} as const;

const INBOX_EVENT_NAMES: ReadonlySet<string> = new Set(Object.values(INBOX_EVENTS));

const PRIORITIES: ReadonlySet<string> = new Set(NOTIFICATION_PRIORITIES);
const MAX_TYPE_LENGTH = 32;

export interface InboxServiceOptions {
  store: InboxStore;
  gateway: RealtimeGateway;
  clock: Clock;
  /** INBOX_TTL_DAYS: a push's `ttlSeconds` never keeps a notification longer. */
  retentionDays: number;
  /** Told about failures of work done after a change was already durable (the count events). */
  onBackgroundError?: (err: unknown, context: Record<string, unknown>) => void;
}

/** What an idempotent push stores with its notifications: the answer every retry gets. */
interface StoredPushAnswer {
  recipients: number;
  notificationIds?: string[];
  messageId: string;
  timestamp: string;
  /** The request's fingerprint (see fingerprintOf); absent in answers stored before it was kept. */
  request?: string;
}

/** What makes two pushes under one idempotency key the same request. */
function fingerprintOf(input: PushInput): string {
  const request = [input.userIds, input.event, input.data ?? null, input.persist, input.ttlSeconds ?? null, input.priority ?? null];
  return createHash('sha256').update(JSON.stringify(request)).digest('base64url');
}

/** Where an idempotency key is remembered: per tenant, so tenants cannot collide. */
const scopedKey = (input: PushInput) => (input.idempotencyKey === undefined ? undefined : JSON.stringify([input.tenantId ?? null, input.idempotencyKey]));

function isStoredPushAnswer(value: unknown): value is StoredPushAnswer {
  if (typeof value !== 'object' || value === null) return false;
  const answer = value as Record<string, unknown>;
  return (
    typeof answer.recipients === 'number' &&
    typeof answer.messageId === 'string' &&
    typeof answer.timestamp === 'string' &&
    (answer.notificationIds === undefined || (Array.isArray(answer.notificationIds) && answer.notificationIds.every((id) => typeof id === 'string'))) &&
    (answer.request === undefined || typeof answer.request === 'string')
  );
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

type RecordFields = Pick<NewNotification, 'type' | 'priority' | 'title' | 'message' | 'data'>;

/**
 * The record's fields from a push's `data`, so that seed 004's `{ type, title, message, data }`
 * is stored without reshaping. A field is taken only when it is valid for the record (a type
 * of 1 to 32 characters, a known priority, a string title or message). The record's `data`
 * is the payload's own `data` when it has one (its other fields then reach only the live
 * event); otherwise the fields not taken, if any. A payload that is not an object is the
 * record's `data` as a whole.
 */
function recordFieldsOf(payload: unknown, priority: NotificationPriority | undefined): RecordFields {
  if (!isPlainObject(payload)) return { type: 'info', priority, data: payload };
  const rest: Record<string, unknown> = { ...payload };
  function take<T>(key: string, valid: (value: unknown) => value is T): T | undefined {
    const value = rest[key];
    if (!Object.hasOwn(rest, key) || !valid(value)) return undefined;
    delete rest[key];
    return value;
  }
  const type = take('type', (value): value is string => typeof value === 'string' && value.length >= 1 && value.length <= MAX_TYPE_LENGTH);
  const given = take('priority', (value): value is NotificationPriority => typeof value === 'string' && PRIORITIES.has(value));
  const title = take('title', (value): value is string => typeof value === 'string');
  const message = take('message', (value): value is string => typeof value === 'string');
  const data = Object.hasOwn(rest, 'data') ? rest.data : Object.keys(rest).length > 0 ? rest : undefined;
  return { type: type ?? 'info', priority: priority ?? given, title, message, data };
}

/**
 * The push's own event as the user receives it: the record's id added, so that a client
 * listening to this event and to `notification:new` can tell they are one notification.
 * `notificationId` is always there; `id` too unless the publisher's payload has its own.
 * A payload that is not an object cannot carry fields and arrives as `{ data, id, notificationId }`.
 */
function withNotificationId(payload: unknown, id: string): Record<string, unknown> {
  if (!isPlainObject(payload)) return { data: payload, id, notificationId: id };
  return Object.hasOwn(payload, 'id') ? { ...payload, notificationId: id } : { ...payload, id, notificationId: id };
}

/** The inbox's rules on top of a durable InboxStore and the realtime gateway (see InboxService). */
export function createInboxService(options: InboxServiceOptions): InboxService {
  const { store, gateway, clock } = options;
  const maxTtlSeconds = options.retentionDays * 24 * 3600;
  const isoNow = () => new Date(clock.now()).toISOString();

  /**
   * Sends the owner's sockets the events of a change followed by the exact unread count,
   * each socket in one write. The change is already durable, so a failing count must not
   * fail it (a retry would store or mark again): it is reported and left out, and the
   * next change or connect sends the count again. The count is read once the change is
   * durable and sent in the same step, so it can already include changes committed just
   * after (their own events and count follow): the last count a socket gets is current.
   */
  async function announce(owner: InboxOwner, events: [string, unknown][]): Promise<void> {
    const [count] = await countsOf([owner]);
    try {
      await emitWithCount(owner, events, count);
    } catch (err) {
      // Only a cluster node cut off from Redis fails here (SERVICE_UNAVAILABLE); the change
      // is durable all the same; the owner's sockets get the count with the next change or connect.
      options.onBackgroundError?.(err, { what: 'inbox change announcement' });
    }
  }

  /** The owners' unread counts in one read, or none when it fails (reported: see `announce`). */
  async function countsOf(owners: readonly InboxOwner[]): Promise<(number | undefined)[]> {
    try {
      return await store.unreadCounts(owners);
    } catch (err) {
      options.onBackgroundError?.(err, { what: 'unread count', users: owners.length });
      return owners.map(() => undefined);
    }
  }

  function emitWithCount(owner: InboxOwner, events: [string, unknown][], count: number | undefined): Promise<number> {
    if (count !== undefined) events.push([INBOX_EVENTS.unreadCount, { count }]);
    return gateway.emitSequenceToUser(owner, events);
  }

  /** Sockets of these users connected now, counted once each. */
  async function socketsOf(userIds: readonly string[], tenantId: string | undefined): Promise<number[]> {
    return Promise.all(userIds.map((userId) => gateway.connectionsOf(userId, tenantId)));
  }

  /**
   * Hands each stored record to its user's sockets: the push's own event, `notification:new`,
   * then the count. Users with no socket get nothing now: the notification waits in their
   * inbox and the count comes when they connect. Every emit is a packet of its own (each
   * carries its user's id), so sending them to absent users would only fill the recovery
   * buffer. The counts of all online users are read at once (see `announce` for why
   * they are in order).
   */
  async function deliverStored(input: PushInput, records: readonly NotificationRecord[], online: readonly number[]): Promise<void> {
    const present = records.filter((_, index) => online[index] !== 0);
    const counts = await countsOf(present);
    await Promise.all(
      present.map((record, index) =>
        emitWithCount(
          record,
          [
            [input.event, withNotificationId(input.data, record.id)],
            [INBOX_EVENTS.created, record],
          ],
          counts[index],
        ),
      ),
    );
  }

  return {
    async push(input) {
      if (input.persist && INBOX_EVENT_NAMES.has(input.event)) {
        throw new AppError('INVALID_REQUEST', `event ${input.event} is sent by the notification inbox itself; push under another name`);
      }
      const messageId = randomUUID();
      const timestamp = isoNow();
      if (!input.persist && input.idempotencyKey === undefined) {
        const recipients = await gateway.emitToUsers({ userIds: input.userIds, tenantId: input.tenantId }, input.event, input.data);
        return { recipients, replayed: false, messageId, timestamp };
      }

      // One record per user, even when a user is named twice; both places get its id.
      const users = [...new Set(input.userIds)];
      const fields = recordFieldsOf(input.data, input.priority);
      const ttlSeconds = input.ttlSeconds === undefined ? undefined : Math.min(input.ttlSeconds, maxTtlSeconds);
      const expiresAt = ttlSeconds === undefined ? undefined : new Date(clock.now() + ttlSeconds * 1000).toISOString();
      const items: NewNotification[] = input.persist
        ? users.map((userId) => ({ userId, tenantId: input.tenantId, event: input.event, expiresAt, ...fields }))
        : [];
      // Counted before the write, because a retry's answer is stored in that same write; the
      // same counts (online[i] is users[i]'s, as records[i] is) then decide who is sent what.
      const online = await socketsOf(users, input.tenantId);
      const recipients = online.reduce((sum, count) => sum + count, 0);
      // The store answers in the order given: records[i] is users[i]'s.
      const idsInOrder = (records: readonly NotificationRecord[]) => {
        const idOf = new Map(users.map((userId, index) => [userId, records[index]!.id]));
        return input.userIds.map((userId) => idOf.get(userId)!);
      };
      const answerOf = (records: readonly NotificationRecord[]) => ({
        recipients,
        ...(input.persist ? { notificationIds: idsInOrder(records) } : {}),
        messageId,
        timestamp,
      });
      const request = input.idempotencyKey === undefined ? undefined : fingerprintOf(input);

      const appended = await store.append(items, {
        idempotencyKey: scopedKey(input),
        answer: (records): StoredPushAnswer => ({ ...answerOf(records), request }),
      });
      if (appended.replayed) {
        const first = appended.result.answer;
        if (!isStoredPushAnswer(first)) throw new AppError('INTERNAL_SERVER_ERROR', 'The stored answer of an idempotent push is unreadable');
        const { request: firstRequest, ...answer } = first;
        if (firstRequest !== undefined && firstRequest !== request) {
          throw new AppError('IDEMPOTENCY_KEY_REUSED', `idempotencyKey ${input.idempotencyKey} was already used for a different push; use a new key for a new push`);
        }
        return { ...answer, replayed: true };
      }
      if (input.persist) {
        const { records } = appended;
        setImmediate(() => {
          deliverStored(input, records, online).catch((err: unknown) =>
            options.onBackgroundError?.(err, { what: 'live delivery of stored notifications', users: records.length }),
          );
        });
      }
      else await gateway.emitToUsers({ userIds: input.userIds, tenantId: input.tenantId }, input.event, input.data);
      return { ...answerOf(appended.records), records: appended.records, replayed: false };
    },

    async list(owner, listOptions) {
      const [page, unreadCount] = await Promise.all([store.list(owner, listOptions), store.unreadCount(owner)]);
      return { notifications: page.notifications, ...(page.nextBefore !== undefined ? { nextBefore: page.nextBefore } : {}), unreadCount };
    },

    unreadCount(owner) {
      return store.unreadCount(owner);
    },

    async markRead(owner, ids) {
      const readAt = isoNow();
      const wanted = ids === 'all' ? 'all' : [...new Set(ids)];
      const notificationIds = await store.markRead(owner, wanted, readAt);
      // Already read is fine; not the owner's is NOT_FOUND. Only asked when nothing changed.
      if (wanted !== 'all' && wanted.length === 1 && notificationIds.length === 0 && (await store.get(owner, wanted[0]!)) === undefined) {
        throw new AppError('NOT_FOUND', `No notification ${wanted[0]}`);
      }
      const changed = notificationIds.length;
      // read-all is announced even when nothing changed, so every device settles on a count of 0.
      if (wanted === 'all' || changed > 0) {
        const payload: MarkedReadPayload = wanted === 'all' ? { all: true, readAt, changed } : { notificationIds, readAt };
        await announce(owner, [[INBOX_EVENTS.markedRead, payload]]);
      }
      return { changed, notificationIds, readAt };
    },

    async remove(owner, id) {
      if (!(await store.remove(owner, id))) throw new AppError('NOT_FOUND', `No notification ${id}`);
      const payload: NotificationDeletedPayload = { notificationId: id };
      await announce(owner, [[INBOX_EVENTS.deleted, payload]]);
    },
  };
}
