import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ChatStore } from '../../src/domain/chat-store.js';
import type { PostgresDatabase } from '../../src/storage/postgres/postgres-database.js';
import { createPostgresChatStore } from '../../src/storage/postgres/postgres-chat-store.js';
import { databaseInFreshSchema, postgresSkipReason, type TestSchema } from '../support/postgres.js';

/**
 * Two processes, each with its own pool, standing in for two nodes of a cluster, append
 * to one chat session at once through the PostgreSQL store.
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const WRITER = fileURLToPath(new URL('../support/postgres-chat-writer.ts', import.meta.url));

interface Ack {
  seq: number;
  clientMessageId: string;
  duplicate: boolean;
}

interface Writer {
  /** Resolves once the process has its store open. */
  ready: Promise<void>;
  go(): void;
  /** Every ack, once the process has exited after writing all; rejects when it failed. */
  acks: Promise<Ack[]>;
}

/** Starts a writer process; it appends once told to go. */
function startWriter(url: string, sessionId: string, count: number, idPrefix: string): Writer {
  const child = spawn(process.execPath, ['--import', 'tsx', WRITER, url, sessionId, String(count), idPrefix], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let announced: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (announced = resolve));
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    if (stdout.startsWith('ready\n')) announced();
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const acks = new Promise<Ack[]>((resolve, reject) => {
    child.once('close', (code) => {
      if (code !== 0 || !stdout.endsWith('done\n')) return reject(new Error(`writer exited with ${code}:\n${stderr}`));
      resolve(
        stdout
          .split('\n')
          .filter((line) => line.startsWith('ack '))
          .map((line) => {
            const [, seq, clientMessageId, duplicate] = line.split(' ');
            return { seq: Number(seq), clientMessageId: clientMessageId!, duplicate: duplicate === 'true' };
          }),
      );
    });
  });
  return { ready, acks, go: () => child.stdin.end('go\n') };
}

/** Runs writers side by side: all open their stores, then all start at once. */
async function runWriters(...writers: Writer[]): Promise<Ack[][]> {
  await Promise.race([Promise.all(writers.map((writer) => writer.ready)), Promise.all(writers.map((writer) => writer.acks))]);
  for (const writer of writers) writer.go();
  return Promise.all(writers.map((writer) => writer.acks));
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

const skipped = await postgresSkipReason();

describe.skipIf(skipped !== undefined)('PostgreSQL chat store: concurrent senders in two processes', () => {
  let database: PostgresDatabase;
  let schema: TestSchema;
  let cleanup: () => Promise<void>;
  let store: ChatStore;

  beforeEach(async () => {
    ({ database, schema, cleanup } = await databaseInFreshSchema('chat_concurrency'));
    store = createPostgresChatStore({ database });
    await store.open();
  });

  afterEach(async () => {
    await store.close();
    await cleanup();
  });

  it('numbers the messages of both processes 1..N with no gap and no duplicate', async () => {
    const { sessionId } = await store.createSession({ machineId: 'm', senderUserId: 'alice', receiverUserId: 'bob' });
    const [first, second] = await runWriters(startWriter(schema.url, sessionId, 300, 'p1'), startWriter(schema.url, sessionId, 300, 'p2'));
    const acks = [...first!, ...second!];
    expect(acks).toHaveLength(600);
    expect(acks.every((ack) => !ack.duplicate)).toBe(true);
    expect(acks.map((ack) => ack.seq).sort((a, b) => a - b)).toEqual(range(600));
    const stored = (await store.readMessages(sessionId, { after: 0, limit: 1000 })).messages;
    expect(stored.map((m) => m.seq)).toEqual(range(600));
    const seqOf = new Map(stored.map((m) => [m.clientMessageId, m.seq]));
    expect(seqOf.size).toBe(600);
    for (const ack of acks) expect(seqOf.get(ack.clientMessageId)).toBe(ack.seq);
    // Both processes interleaved rather than one running after the other.
    const writerOf = stored.map((m) => m.clientMessageId!.slice(0, 2));
    expect(writerOf.slice(0, 300)).toContain('p1');
    expect(writerOf.slice(0, 300)).toContain('p2');
    expect((await store.listSessionsOf('bob'))[0]).toMatchObject({ messageCount: 600, unreadCount: 600 });
  });

  it('stores each clientMessageId once when both processes send the same ones at once (retries on two nodes)', async () => {
    const { sessionId } = await store.createSession({ machineId: 'm', senderUserId: 'alice', receiverUserId: 'bob' });
    const [first, second] = await runWriters(startWriter(schema.url, sessionId, 200, 'same'), startWriter(schema.url, sessionId, 200, 'same'));
    const stored = (await store.readMessages(sessionId, { after: 0, limit: 1000 })).messages;
    expect(stored.map((m) => m.seq)).toEqual(range(200));
    expect(new Set(stored.map((m) => m.clientMessageId)).size).toBe(200);
    const seqOf = new Map(stored.map((m) => [m.clientMessageId, m.seq]));
    // Every ack, first or retry, names the stored message's seq; each id was stored by exactly one process.
    for (const ack of [...first!, ...second!]) expect(seqOf.get(ack.clientMessageId)).toBe(ack.seq);
    const storedBy = [...first!, ...second!].filter((ack) => !ack.duplicate).map((ack) => ack.clientMessageId);
    expect(storedBy.sort()).toEqual([...seqOf.keys()].sort());
  });
});

if (skipped !== undefined) {
  describe('PostgreSQL chat store: concurrent senders in two processes', () => {
    it.skip(`skipped: ${skipped}`, () => undefined);
  });
}
