import type { Clock } from '../../domain/clock.js';
import type { IdempotentResult, InboxOwner, InboxStore, NewNotification, NotificationRecord } from '../../domain/inbox-store.js';
import { AppError } from '../../errors.js';
import { parseId, parseTime } from '../inbox-input.js';

export interface MemoryInboxStoreOptions {
  /** Notifications kept per inbox. */
  maxPerUser: number;
  /** How long a notification, and an idempotency key, is kept at most. */
  retentionMs: number;
  clock: Clock;
}

interface Stored {
  record: NotificationRecord;
  /** Its expiresAt, or the end of the retention period, whichever comes first (ms). */
  retainedUntil: number;
}

/** What storing as JSON and reading back gives, so both stores hand back the same values. */
function asStored<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/**
 * The InboxStore in process memory, for tests, and the reference of the port's semantics:
 * written to be obviously right rather than fast (lists and counts scan the inbox), and
 * the SQLite store must pass the same contract tests. Nothing survives the process and a
 * write cannot fail, so `isWritable()` is true while it is open. Expired notifications are
 * left out of every answer at once and dropped from an inbox when it is next appended to.
 */
export function createMemoryInboxStore(options: MemoryInboxStoreOptions): InboxStore {
  const { clock, maxPerUser, retentionMs } = options;
  /** Per owner, oldest first. A Map, so user ids such as `__proto__` are ordinary keys. */
  const inboxes = new Map<string, Stored[]>();
  const idempotencyKeys = new Map<string, { result: IdempotentResult; expiresAt: number }>();
  let lastId = 0;
  /** createdAt never goes back as ids increase, even if the clock does (as in the SQLite store). */
  let lastCreatedAt = 0;
  let state: 'new' | 'open' | 'closed' = 'new';

  const ready = () => {
    if (state !== 'open') throw new AppError('STORAGE_UNAVAILABLE', 'Storage unavailable: the notification inbox is not open');
  };

  const keyOf = (owner: InboxOwner) => JSON.stringify([owner.tenantId ?? '', owner.userId]);

  /** The owner's notifications that have not expired, oldest first. */
  const liveOf = (owner: InboxOwner, now: number) => (inboxes.get(keyOf(owner)) ?? []).filter((stored) => stored.retainedUntil > now);

  const copy = (stored: Stored): NotificationRecord => structuredClone(stored.record);

  /** Drops the owner's expired notifications, then the oldest read and the oldest unread ones beyond the cap. */
  function enforceRetention(key: string, now: number): void {
    const kept = (inboxes.get(key) ?? []).filter((stored) => stored.retainedUntil > now);
    let over = kept.length - maxPerUser;
    for (const unread of [false, true]) {
      for (let index = 0; index < kept.length && over > 0; ) {
        if ((kept[index]?.record.readAt === null) === unread) {
          kept.splice(index, 1);
          over -= 1;
        } else {
          index += 1;
        }
      }
    }
    if (kept.length === 0) inboxes.delete(key);
    else inboxes.set(key, kept);
  }

  return {
    async open() {
      if (state !== 'new') throw new Error('An inbox store can be opened once');
      state = 'open';
    },

    async close() {
      state = 'closed';
    },

    isWritable() {
      return state === 'open';
    },

    async append(items, appendOptions = {}) {
      ready();
      const { idempotencyKey, answer } = appendOptions;
      const expiries = items.map((item) => (item.expiresAt === undefined ? undefined : parseTime(item.expiresAt, 'expiresAt')));
      const now = clock.now();
      if (idempotencyKey !== undefined) {
        const first = idempotencyKeys.get(idempotencyKey);
        if (first !== undefined && first.expiresAt > now) return { replayed: true, result: structuredClone(first.result) };
      }
      const createdAt = Math.max(now, lastCreatedAt);
      lastCreatedAt = createdAt;
      const retentionEnd = createdAt + retentionMs;
      const stored = items.map((item: NewNotification, index): Stored => {
        const expiresAt = expiries[index];
        lastId += 1;
        const record: NotificationRecord = {
          id: String(lastId),
          userId: item.userId,
          ...(item.tenantId !== undefined && item.tenantId !== '' ? { tenantId: item.tenantId } : {}),
          type: item.type,
          ...(item.priority !== undefined ? { priority: item.priority } : {}),
          ...(item.title !== undefined ? { title: item.title } : {}),
          ...(item.message !== undefined ? { message: item.message } : {}),
          ...(item.data !== undefined ? { data: asStored(item.data) } : {}),
          event: item.event,
          createdAt: new Date(createdAt).toISOString(),
          readAt: null,
          ...(expiresAt !== undefined ? { expiresAt: new Date(expiresAt).toISOString() } : {}),
        };
        return { record, retainedUntil: expiresAt === undefined ? retentionEnd : Math.min(expiresAt, retentionEnd) };
      });
      const records = stored.map(copy);
      const result: IdempotentResult | undefined =
        idempotencyKey === undefined ? undefined : asStored({ notificationIds: records.map((record) => record.id), answer: answer?.(records) });

      const touched = new Set<string>();
      stored.forEach((entry, index) => {
        const key = keyOf(items[index] as NewNotification);
        inboxes.set(key, [...(inboxes.get(key) ?? []), entry]);
        touched.add(key);
      });
      for (const key of touched) enforceRetention(key, now);
      if (idempotencyKey !== undefined && result !== undefined) idempotencyKeys.set(idempotencyKey, { result, expiresAt: now + retentionMs });
      return { records, replayed: false };
    },

    async list(owner, { limit, before, unreadOnly }) {
      ready();
      if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw new AppError('INVALID_REQUEST', 'limit must be an integer from 1 to 100');
      const beforeId = before === undefined ? Number.MAX_SAFE_INTEGER : parseId(before);
      if (beforeId === undefined) throw new AppError('INVALID_REQUEST', 'before must be a notification id');
      const matching = liveOf(owner, clock.now())
        .filter((stored) => Number(stored.record.id) < beforeId && (unreadOnly !== true || stored.record.readAt === null))
        .reverse();
      const page = matching.slice(0, limit).map(copy);
      const last = page.at(-1);
      return matching.length > limit && last !== undefined ? { notifications: page, nextBefore: last.id } : { notifications: page };
    },

    async get(owner, id) {
      ready();
      const found = liveOf(owner, clock.now()).find((stored) => stored.record.id === id);
      return found === undefined ? undefined : copy(found);
    },

    async unreadCount(owner) {
      ready();
      return liveOf(owner, clock.now()).filter((stored) => stored.record.readAt === null).length;
    },

    async unreadCounts(owners) {
      ready();
      const now = clock.now();
      return owners.map((owner) => liveOf(owner, now).filter((stored) => stored.record.readAt === null).length);
    },

    async markRead(owner, ids, readAt) {
      ready();
      const at = new Date(parseTime(readAt, 'readAt')).toISOString();
      const unread = liveOf(owner, clock.now()).filter((stored) => stored.record.readAt === null);
      const changed = ids === 'all' ? unread : [...new Set(ids)].flatMap((id) => unread.filter((stored) => stored.record.id === id));
      for (const stored of changed) stored.record.readAt = at;
      return changed.map((stored) => stored.record.id);
    },

    async remove(owner, id) {
      ready();
      const key = keyOf(owner);
      const inbox = inboxes.get(key) ?? [];
      const index = inbox.findIndex((stored) => stored.record.id === id && stored.retainedUntil > clock.now());
      if (index === -1) return false;
      inbox.splice(index, 1);
      if (inbox.length === 0) inboxes.delete(key);
      return true;
    },
  };
}
