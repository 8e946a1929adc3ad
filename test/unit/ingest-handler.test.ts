import { beforeEach, describe, expect, it } from 'vitest';
import type { IngestTopic } from '../../src/contracts/ingest.js';
import type { EventMirror } from '../../src/domain/event-mirror.js';
import { createInboxService, type InboxService } from '../../src/domain/inbox-service.js';
import type { InboxStore } from '../../src/domain/inbox-store.js';
import { createIngestHandler, type IngestEntry, type IngestHandler } from '../../src/domain/ingest.js';
import type { RealtimeGateway } from '../../src/domain/realtime-gateway.js';
import { AppError } from '../../src/errors.js';
import { createMemoryInboxStore } from '../../src/storage/memory/memory-inbox-store.js';
import { createTestClock } from '../support/clock.js';

/**
 * The ingest's handler on the real inbox service and the in-memory store (no Redis): the
 * same entry handled twice (a redelivery after a crash before XACK) is stored and delivered
 * once; what is malformed is rejected with its reason; a storage failure is passed back so
 * the entry stays pending.
 */

interface Emit {
  userId: string;
  tenantId: string | undefined;
  event: string;
  payload: unknown;
}

/** A stored push is delivered live on the next turn of the event loop, after its answer. */
const deliveredLive = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Every user is online with one socket; emits are recorded. */
function recordingGateway(emits: Emit[]): RealtimeGateway {
  return {
    async broadcast() {
      return 0;
    },
    async emitToUsers({ userIds, tenantId }, event, payload) {
      for (const userId of userIds) emits.push({ userId, tenantId, event, payload });
      return userIds.length;
    },
    async emitSequenceToUser({ userId, tenantId }, events) {
      for (const [event, payload] of events) emits.push({ userId, tenantId, event, payload });
      return 1;
    },
    async emitToRoom() {
      return 0;
    },
    async stats() {
      return { connections: 1, users: 1, rooms: 0 };
    },
    async connectionsOf() {
      return 1;
    },
    async listConnections() {
      return [];
    },
  };
}

const PRODUCED_AT = Date.parse('2025-12-08T10:30:00.000Z');
let sequence = 0;
const entry = (topic: IngestTopic, value: unknown, id = `${PRODUCED_AT}-${sequence++}`): IngestEntry => ({
  topic,
  stream: topic,
  id,
  producedAt: PRODUCED_AT,
  value: typeof value === 'string' ? value : value === undefined ? undefined : JSON.stringify(value),
  key: undefined,
});

describe('the ingest handler', () => {
  let store: InboxStore;
  let emits: Emit[];
  let mirrored: { topic: string; event: unknown }[];
  let failing: boolean;
  let handle: IngestHandler;

  beforeEach(async () => {
    const clock = createTestClock(PRODUCED_AT + 5000);
    store = createMemoryInboxStore({ maxPerUser: 100, retentionMs: 90 * 24 * 3600 * 1000, clock });
    await store.open();
    emits = [];
    mirrored = [];
    failing = false;
    const real = createInboxService({ store, gateway: recordingGateway(emits), clock, retentionDays: 90 });
    const inbox: InboxService = { ...real, push: (input) => (failing ? Promise.reject(new AppError('STORAGE_UNAVAILABLE')) : real.push(input)) };
    const mirror: EventMirror = { publish: (topic, event) => mirrored.push({ topic, event }) };
    handle = createIngestHandler({ inbox, mirror, maxValueBytes: 1024, maxDepth: 8 });
  });

  it('stores and delivers an entry once, however often it is handled (the same id: the same push)', async () => {
    const report = entry('report.ready', { userId: 39, type: 'weekly' }, `${PRODUCED_AT}-7`);
    expect(await handle(report)).toEqual({ outcome: 'stored', recipients: 1 });
    expect(await handle(report)).toEqual({ outcome: 'duplicate' });
    expect(await handle({ ...report })).toEqual({ outcome: 'duplicate' });

    const { notifications } = await store.list({ userId: '39' }, { limit: 10 });
    expect(notifications).toEqual([
      expect.objectContaining({ userId: '39', event: 'notification', type: 'success', title: '📊 Report Ready', message: 'Your weekly report is ready!', data: { type: 'weekly' } }),
    ]);
    await deliveredLive();
    const delivered = emits.filter((emit) => emit.event === 'notification');
    expect(delivered).toEqual([
      {
        userId: '39',
        tenantId: undefined,
        event: 'notification',
        payload: {
          type: 'success',
          title: '📊 Report Ready',
          message: 'Your weekly report is ready!',
          data: { type: 'weekly' },
          timestamp: '2025-12-08T10:30:00.000Z',
          id: notifications[0]!.id,
          notificationId: notifications[0]!.id,
        },
      },
    ]);
    expect(mirrored).toEqual([{ topic: 'report.ready', event: { userId: 39, type: 'weekly' } }]);

    // Another entry with the same content is another notification.
    expect(await handle(entry('report.ready', { userId: 39, type: 'weekly' }))).toMatchObject({ outcome: 'stored' });
    expect((await store.list({ userId: '39' }, { limit: 10 })).notifications).toHaveLength(2);
  });

  it("keeps a tenant's user in their tenant", async () => {
    expect(await handle(entry('notification.send', { userId: 'u1', tenantId: 7, title: 'hi' }))).toMatchObject({ outcome: 'stored' });
    expect((await store.list({ userId: 'u1', tenantId: '7' }, { limit: 10 })).notifications).toHaveLength(1);
    expect((await store.list({ userId: 'u1' }, { limit: 10 })).notifications).toHaveLength(0);
    await deliveredLive();
    expect(emits.find((emit) => emit.event === 'notification')).toMatchObject({ userId: 'u1', tenantId: '7' });
  });

  it.each([
    ['no value', undefined, 'missing_value'],
    ['not JSON', '{"userId":', 'bad_json'],
    ['JSON that is not an object', '"hello"', 'invalid_value'],
    ['no userId', { title: 'x' }, 'invalid_value'],
    ['a userId with a space', { userId: 'a b', title: 'x' }, 'invalid_value'],
    ['a title that is a number', { userId: 'u', title: 5 }, 'invalid_value'],
    ['a type longer than 32', { userId: 'u', title: 'x', type: 't'.repeat(33) }, 'invalid_value'],
    ['more than maxValueBytes', { userId: 'u', title: 'x'.repeat(2000) }, 'too_large'],
    ['deeper than maxDepth', { userId: 'u', title: 'x', data: [[[[[[[[[1]]]]]]]]] }, 'too_deep'],
  ])('rejects %s (%s) for good, storing and mirroring nothing', async (_what, value, reason) => {
    expect(await handle(entry('notification.send', value))).toMatchObject({ outcome: 'rejected', reason });
    await deliveredLive();
    expect(emits).toEqual([]);
    expect(mirrored).toEqual([]);
  });

  it('rejects a document without chunks or id, and a report without a type', async () => {
    expect(await handle(entry('document.processed', { userId: 'u', id: 1, title: 'a.pdf' }))).toMatchObject({ outcome: 'rejected', reason: 'invalid_value' });
    expect(await handle(entry('document.processed', { userId: 'u', title: 'a.pdf', chunks: 1 }))).toMatchObject({ outcome: 'rejected', reason: 'invalid_value' });
    expect(await handle(entry('document.processed', { userId: 'u', documentId: 'd-9', title: 'a.pdf', chunks: 0 }))).toMatchObject({ outcome: 'stored' });
    expect(await handle(entry('report.ready', { userId: 'u' }))).toMatchObject({ outcome: 'rejected', reason: 'invalid_value' });
  });

  it('passes a storage failure back (the entry stays pending), and stores it when handled again', async () => {
    const pending = entry('notification.send', { userId: 'u', title: 'later' });
    failing = true;
    await expect(handle(pending)).rejects.toMatchObject({ code: 'STORAGE_UNAVAILABLE' });
    expect(mirrored).toEqual([]);
    failing = false;
    expect(await handle(pending)).toMatchObject({ outcome: 'stored' });
    expect((await store.list({ userId: 'u' }, { limit: 10 })).notifications.map((n) => n.title)).toEqual(['later']);
  });
});
