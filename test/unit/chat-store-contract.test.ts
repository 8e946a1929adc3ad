import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ChatStore } from '../../src/domain/chat-store.js';
import { createFileChatStore } from '../../src/storage/file/file-chat-store.js';
import { createMemoryChatStore } from '../../src/storage/memory/memory-chat-store.js';
import { createPostgresChatStore } from '../../src/storage/postgres/postgres-chat-store.js';
import { messageFrom, rejectionCode, silentLogger, steppingClock, storeInTempDir } from '../support/chat-store-harness.js';
import { addPostgresDriver, memoryDriver, type StoreDriver } from '../support/store-drivers.js';

const drivers: StoreDriver<ChatStore, () => Date>[] = [
  {
    name: 'file store',
    create: (now) => storeInTempDir('chat-store-', (dir) => createFileChatStore({ dir, logger: silentLogger(), now })),
  },
  memoryDriver((now) => createMemoryChatStore({ now })),
];
await addPostgresDriver(drivers, 'ChatStore contract', 'chat_contract', (database, now) => createPostgresChatStore({ database, now }));

const UNKNOWN_ID = '1b4e28ba-2fa1-41d2-883f-0016d3cca427';
const MALFORMED_IDS = ['', 'abc', '../x', '..%2F..%2Fetc', '%2e%2e', '/etc/passwd', `${UNKNOWN_ID}/..`, `${UNKNOWN_ID}x`];

describe.each(drivers)('ChatStore contract: $name', (driver) => {
  let store: ChatStore;
  let cleanup: () => Promise<void>;

  beforeEach(async () => {
    ({ store, cleanup } = await driver.create(steppingClock()));
    await store.open();
  });

  afterEach(async () => {
    await cleanup();
  });

  const aliceToBob = () => store.createSession({ machineId: 'machine-1', senderUserId: 'alice', receiverUserId: 'bob' });

  it('creates a session with the seed fields and zero cursors, and gets it back', async () => {
    const created = await store.createSession({ machineId: 'machine-1', senderUserId: 'alice', receiverUserId: 'bob', tenantId: 'acme' });
    expect(created).toEqual({
      sessionId: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/),
      machineId: 'machine-1',
      senderUserId: 'alice',
      receiverUserId: 'bob',
      createdAt: '2025-01-01T00:00:00.000Z',
      participants: ['alice', 'bob'],
      tenantId: 'acme',
      cursors: { alice: { delivered: 0, read: 0 }, bob: { delivered: 0, read: 0 } },
    });
    expect(await store.getSession(created.sessionId)).toEqual(created);
    expect(await store.getSession(created.sessionId.toUpperCase())).toEqual(created);
    expect(store.isWritable()).toBe(true);
  });

  it('lists a session for both participants only, and forgets it once deleted', async () => {
    const { sessionId } = await aliceToBob();
    expect((await store.listSessionsOf('alice')).map((s) => s.sessionId)).toEqual([sessionId]);
    expect((await store.listSessionsOf('bob')).map((s) => s.sessionId)).toEqual([sessionId]);
    expect(await store.listSessionsOf('carol')).toEqual([]);

    expect(await store.deleteSession(sessionId)).toBe(true);
    expect(await store.deleteSession(sessionId)).toBe(false);
    expect(await store.getSession(sessionId)).toBeUndefined();
    expect(await store.listSessionsOf('alice')).toEqual([]);
    expect(await rejectionCode(store.appendMessage(sessionId, messageFrom('alice', 'bob', 'late')))).toBe('NOT_FOUND');
  });

  it('numbers messages from 1 up by one and stores them as sent', async () => {
    const { sessionId } = await aliceToBob();
    const first = await store.appendMessage(sessionId, messageFrom('alice', 'bob', 'hello', 'c-1'));
    const second = await store.appendMessage(sessionId, messageFrom('bob', 'alice', 'hi "there"\nsecond line'));
    expect(first).toEqual({
      duplicate: false,
      message: {
        id: expect.any(String),
        seq: 1,
        senderUserId: 'alice',
        receiverUserId: 'bob',
        message: 'hello',
        timestamp: expect.any(String),
        machineId: 'machine-1',
        clientMessageId: 'c-1',
      },
    });
    expect(second.message.seq).toBe(2);
    expect(second.message).not.toHaveProperty('clientMessageId');
    expect(second.message.id).not.toBe(first.message.id);
    expect((await store.readMessages(sessionId, { after: 0, limit: 10 })).messages).toEqual([first.message, second.message]);
  });

  it('stores a retried clientMessageId once and answers the retry with the first message', async () => {
    const { sessionId } = await aliceToBob();
    const first = await store.appendMessage(sessionId, messageFrom('alice', 'bob', 'once', 'retry-me'));
    const retry = await store.appendMessage(sessionId, messageFrom('alice', 'bob', 'once', 'retry-me'));
    expect(retry).toEqual({ message: first.message, duplicate: true });

    const racing = await Promise.all([1, 2, 3].map(() => store.appendMessage(sessionId, messageFrom('alice', 'bob', 'race', 'racing'))));
    expect(racing.filter((r) => !r.duplicate)).toHaveLength(1);
    expect(new Set(racing.map((r) => r.message.id)).size).toBe(1);
    expect((await store.readMessages(sessionId, { after: 0, limit: 10 })).messages.map((m) => m.seq)).toEqual([1, 2]);
  });

  it('pages oldest first with nextAfter while more remain', async () => {
    const { sessionId } = await aliceToBob();
    for (let i = 1; i <= 7; i += 1) await store.appendMessage(sessionId, messageFrom('alice', 'bob', `m${i}`));

    const seen: number[] = [];
    let after = 0;
    const pages: (number | undefined)[] = [];
    for (;;) {
      const page = await store.readMessages(sessionId, { after, limit: 3 });
      seen.push(...page.messages.map((m) => m.seq));
      pages.push(page.nextAfter);
      if (page.nextAfter === undefined) break;
      after = page.nextAfter;
    }
    expect(seen).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(pages).toEqual([3, 6, undefined]);
    expect(await store.readMessages(sessionId, { after: 6, limit: 1 })).toEqual({ messages: [expect.objectContaining({ seq: 7 })] });
    expect(await store.readMessages(sessionId, { after: 7, limit: 5 })).toEqual({ messages: [] });
    expect(await store.readMessages(sessionId, { after: 100, limit: 5 })).toEqual({ messages: [] });
  });

  it('moves cursors forward only, read implying delivered, never past the last message', async () => {
    const { sessionId } = await aliceToBob();
    for (let i = 1; i <= 5; i += 1) await store.appendMessage(sessionId, messageFrom('alice', 'bob', `m${i}`));

    expect((await store.advanceCursor(sessionId, 'bob', { delivered: 3 })).cursors.bob).toEqual({ delivered: 3, read: 0 });
    expect((await store.advanceCursor(sessionId, 'bob', { delivered: 1 })).cursors.bob).toEqual({ delivered: 3, read: 0 });
    expect((await store.advanceCursor(sessionId, 'bob', { read: 4 })).cursors.bob).toEqual({ delivered: 4, read: 4 });
    expect((await store.advanceCursor(sessionId, 'bob', { read: 2, delivered: 2 })).cursors.bob).toEqual({ delivered: 4, read: 4 });
    expect((await store.advanceCursor(sessionId, 'bob', { read: 99 })).cursors.bob).toEqual({ delivered: 5, read: 5 });
    const session = await store.getSession(sessionId);
    expect(session?.cursors).toEqual({ alice: { delivered: 0, read: 0 }, bob: { delivered: 5, read: 5 } });
  });

  it('counts unread messages per participant from their read cursor', async () => {
    const { sessionId } = await aliceToBob();
    for (let i = 1; i <= 4; i += 1) await store.appendMessage(sessionId, messageFrom('alice', 'bob', `to bob ${i}`));
    await store.appendMessage(sessionId, messageFrom('bob', 'alice', 'to alice'));
    await store.appendMessage(sessionId, messageFrom('alice', 'bob', 'to bob 5'));

    const unread = async (userId: string) => (await store.listSessionsOf(userId))[0]?.unreadCount;
    expect(await unread('bob')).toBe(5);
    expect(await unread('alice')).toBe(1);
    await store.advanceCursor(sessionId, 'bob', { read: 3 });
    expect(await unread('bob')).toBe(2);
    // Delivered is not read.
    await store.advanceCursor(sessionId, 'alice', { delivered: 6 });
    expect(await unread('alice')).toBe(1);
    await store.advanceCursor(sessionId, 'alice', { read: 5 });
    expect(await unread('alice')).toBe(0);
  });

  it('lists sessions newest activity first, with the last message and counts', async () => {
    const quiet = await aliceToBob();
    const busy = await store.createSession({ machineId: 'machine-1', senderUserId: 'carol', receiverUserId: 'alice' });
    const fresh = await aliceToBob();
    await store.appendMessage(busy.sessionId, messageFrom('carol', 'alice', 'one'));
    const last = await store.appendMessage(busy.sessionId, messageFrom('alice', 'carol', 'two'));

    const listed = await store.listSessionsOf('alice');
    expect(listed.map((s) => s.sessionId)).toEqual([busy.sessionId, fresh.sessionId, quiet.sessionId]);
    expect(listed[0]).toEqual({ ...busy, lastMessage: last.message, messageCount: 2, unreadCount: 1, undeliveredCount: 1 });
    expect(listed[1]).toEqual({ ...fresh, lastMessage: null, messageCount: 0, unreadCount: 0, undeliveredCount: 0 });
  });

  it('counts undelivered messages per participant from their delivered cursor', async () => {
    const { sessionId } = await aliceToBob();
    for (let i = 1; i <= 3; i += 1) await store.appendMessage(sessionId, messageFrom('alice', 'bob', `to bob ${i}`));
    await store.appendMessage(sessionId, messageFrom('bob', 'alice', 'to alice'));

    const counts = async (userId: string) => {
      const [summary] = await store.listSessionsOf(userId);
      return { unread: summary?.unreadCount, undelivered: summary?.undeliveredCount };
    };
    expect(await counts('bob')).toEqual({ unread: 3, undelivered: 3 });
    expect(await counts('alice')).toEqual({ unread: 1, undelivered: 1 });
    // Delivered is not read; read implies delivered.
    await store.advanceCursor(sessionId, 'bob', { delivered: 2 });
    expect(await counts('bob')).toEqual({ unread: 3, undelivered: 1 });
    await store.advanceCursor(sessionId, 'alice', { read: 4 });
    expect(await counts('alice')).toEqual({ unread: 0, undelivered: 0 });
  });

  it('counts the sessions a user created, per tenant, from what is stored', async () => {
    const { sessionId } = await aliceToBob();
    await aliceToBob();
    await store.createSession({ machineId: 'machine-1', senderUserId: 'bob', receiverUserId: 'alice' });
    await store.createSession({ machineId: 'machine-1', senderUserId: 'alice', receiverUserId: 'bob', tenantId: 'acme' });

    expect(await store.countSessionsCreatedBy('alice', undefined)).toBe(2);
    expect(await store.countSessionsCreatedBy('alice', 'acme')).toBe(1);
    expect(await store.countSessionsCreatedBy('bob', undefined)).toBe(1);
    expect(await store.countSessionsCreatedBy('bob', 'acme')).toBe(0);
    expect(await store.countSessionsCreatedBy('carol', undefined)).toBe(0);
    await store.deleteSession(sessionId);
    expect(await store.countSessionsCreatedBy('alice', undefined)).toBe(1);
  });

  it('keeps the cursors of users named like Object.prototype members as their own', async () => {
    for (const [sender, receiver] of [
      ['__proto__', 'constructor'],
      ['hasOwnProperty', 'toString'],
    ] as const) {
      const { sessionId } = await store.createSession({ machineId: 'machine-1', senderUserId: sender, receiverUserId: receiver });
      for (let i = 1; i <= 3; i += 1) await store.appendMessage(sessionId, messageFrom(sender, receiver, `m${i}`));
      await store.appendMessage(sessionId, messageFrom(receiver, sender, 'back'));
      await store.advanceCursor(sessionId, receiver, { delivered: 3, read: 2 });
      await store.advanceCursor(sessionId, sender, { delivered: 4 });

      const session = await store.getSession(sessionId);
      expect(Object.keys(session!.cursors).sort()).toEqual([sender, receiver].sort());
      expect(Object.hasOwn(session!.cursors, sender) && session!.cursors[sender]).toEqual({ delivered: 4, read: 0 });
      expect(Object.hasOwn(session!.cursors, receiver) && session!.cursors[receiver]).toEqual({ delivered: 3, read: 2 });
      expect(JSON.parse(JSON.stringify(session!.cursors))).toEqual({ [sender]: { delivered: 4, read: 0 }, [receiver]: { delivered: 3, read: 2 } });
      const [ofReceiver] = await store.listSessionsOf(receiver);
      expect(ofReceiver).toMatchObject({ unreadCount: 1, undeliveredCount: 0 });
      const [ofSender] = await store.listSessionsOf(sender);
      expect(ofSender).toMatchObject({ unreadCount: 1, undeliveredCount: 0 });
    }
  });

  it('refuses malformed session ids with INVALID_REQUEST before touching storage', async () => {
    for (const id of MALFORMED_IDS) {
      expect(await rejectionCode(store.getSession(id))).toBe('INVALID_REQUEST');
      expect(await rejectionCode(store.deleteSession(id))).toBe('INVALID_REQUEST');
      expect(await rejectionCode(store.appendMessage(id, messageFrom('alice', 'bob', 'x')))).toBe('INVALID_REQUEST');
      expect(await rejectionCode(store.readMessages(id, { after: 0, limit: 1 }))).toBe('INVALID_REQUEST');
      expect(await rejectionCode(store.advanceCursor(id, 'alice', { read: 1 }))).toBe('INVALID_REQUEST');
    }
  });

  it('answers well-formed unknown ids with undefined, false or NOT_FOUND', async () => {
    expect(await store.getSession(UNKNOWN_ID)).toBeUndefined();
    expect(await store.deleteSession(UNKNOWN_ID)).toBe(false);
    expect(await rejectionCode(store.appendMessage(UNKNOWN_ID, messageFrom('alice', 'bob', 'x')))).toBe('NOT_FOUND');
    expect(await rejectionCode(store.readMessages(UNKNOWN_ID, { after: 0, limit: 1 }))).toBe('NOT_FOUND');
    expect(await rejectionCode(store.advanceCursor(UNKNOWN_ID, 'alice', { read: 1 }))).toBe('NOT_FOUND');
  });

  it('refuses cursors of non-participants, bad cursor positions and bad pages', async () => {
    const { sessionId } = await aliceToBob();
    expect(await rejectionCode(store.advanceCursor(sessionId, 'mallory', { read: 1 }))).toBe('FORBIDDEN');
    for (const bad of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(await rejectionCode(store.advanceCursor(sessionId, 'bob', { read: bad }))).toBe('INVALID_REQUEST');
      expect(await rejectionCode(store.advanceCursor(sessionId, 'bob', { delivered: bad }))).toBe('INVALID_REQUEST');
      expect(await rejectionCode(store.readMessages(sessionId, { after: bad, limit: 1 }))).toBe('INVALID_REQUEST');
      expect(await rejectionCode(store.readMessages(sessionId, { after: 0, limit: bad }))).toBe('INVALID_REQUEST');
    }
    expect(await rejectionCode(store.readMessages(sessionId, { after: 0, limit: 0 }))).toBe('INVALID_REQUEST');
  });

  it('stores 200 concurrent appends to one session as seqs 1..200 without duplicates', async () => {
    const { sessionId } = await aliceToBob();
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) => store.appendMessage(sessionId, messageFrom('alice', 'bob', `m${i}`, `c-${i}`))),
    );
    expect(results.every((r) => !r.duplicate)).toBe(true);
    expect(results.map((r) => r.message.seq).sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));

    const stored = await store.readMessages(sessionId, { after: 0, limit: 1000 });
    expect(stored.messages.map((m) => m.seq)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    expect(new Set(stored.messages.map((m) => m.clientMessageId)).size).toBe(200);
    expect(new Set(stored.messages.map((m) => m.id)).size).toBe(200);
    expect((await store.listSessionsOf('bob'))[0]).toMatchObject({ messageCount: 200, unreadCount: 200 });
  });

  it('refuses every operation once closed', async () => {
    const { sessionId } = await aliceToBob();
    await store.close();
    await store.close();
    expect(await rejectionCode(store.getSession(sessionId))).toBe('STORAGE_UNAVAILABLE');
    expect(await rejectionCode(store.appendMessage(sessionId, messageFrom('alice', 'bob', 'x')))).toBe('STORAGE_UNAVAILABLE');
  });
});
