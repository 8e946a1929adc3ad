import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { io } from 'socket.io-client';
import { afterAll, describe, expect, it } from 'vitest';
import type { MessageSent } from '../../src/contracts/events.js';
import { connectClient, emitWithAck, type TestSocket } from '../support/client.js';
import { runServerProcessToExit, startServerProcess } from '../support/server-process.js';
import { startServer } from '../support/server.js';
import { TEST_SECRET, signToken } from '../support/tokens.js';

const KEY = 'durability-key-0123456789';

/** Every line of every messages.jsonl and session.json under `dir` parses. */
async function assertAllFilesParse(dir: string): Promise<number> {
  let lines = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    JSON.parse(await readFile(path.join(dir, entry.name, 'session.json'), 'utf8'));
    const log = await readFile(path.join(dir, entry.name, 'messages.jsonl'), 'utf8').catch(() => '');
    for (const line of log.split('\n').filter(Boolean)) {
      JSON.parse(line);
      lines += 1;
    }
  }
  return lines;
}

describe('chat durability through the real server', () => {
  const dirs: string[] = [];
  const tempDir = async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'chat-durability-'));
    dirs.push(dir);
    return dir;
  };
  afterAll(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it('stores 200 concurrent sends to one session with strictly increasing seq and no duplicates', async () => {
    const t = await startServer({ JWT_SECRET: TEST_SECRET });
    try {
      const senders: TestSocket[] = [];
      for (let i = 0; i < 10; i++) senders.push(await connectClient(t.url, { auth: { token: signToken({ userId: i % 2 ? 'alice' : 'bob' }) } }));
      const { sessionId } = await emitWithAck<{ sessionId: string }>(senders[0]!, 'create_chat_session', { machineId: 'm', receiverUserId: 'alice' });
      const acks = await Promise.all(
        Array.from({ length: 200 }, (_, i) => emitWithAck<MessageSent>(senders[i % 10]!, 'send_message', { sessionId, message: `msg ${i}` })),
      );
      expect(acks.every((ack) => typeof ack.seq === 'number')).toBe(true);
      expect(new Set(acks.map((ack) => ack.seq)).size).toBe(200);
      const stored = await request(t.url).get(`/api/sessions/${sessionId}/messages?limit=500`).expect(200);
      const seqs = stored.body.messages.map((m: { seq: number }) => m.seq);
      expect(seqs).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
      expect(new Set(stored.body.messages.map((m: { message: string }) => m.message)).size).toBe(200);
      for (const socket of senders) socket.close();
    } finally {
      await t.close();
    }
  });

  it('keeps every acknowledged message when the server is SIGKILLed mid-burst, and restarts at once on the same directory', async () => {
    const dir = await tempDir();
    const env = { CHAT_SESSIONS_DIR: dir, JWT_SECRET: TEST_SECRET, API_KEYS: KEY, RATE_LIMIT_WS_MESSAGES_PER_MINUTE: '100000', CHAT_MESSAGES_PER_USER_PER_MINUTE: '100000' };
    const first = await startServerProcess(env);
    const alice: TestSocket = io(first.url, { auth: { token: signToken({ userId: 'alice' }) }, transports: ['websocket'], reconnection: false });
    const { sessionId } = await emitWithAck<{ sessionId: string }>(alice, 'create_chat_session', { machineId: 'm', receiverUserId: 'bob' });

    // A second server on the same directory is refused while the first owns it.
    const second = await runServerProcessToExit({ ...env });
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(/CHAT_SESSIONS_DIR|another server/i);

    const acknowledged = new Set<string>();
    let sending = true;
    const sender = async () => {
      let i = 0;
      while (sending) {
        try {
          const ack = await emitWithAck<MessageSent>(alice, 'send_message', { sessionId, message: `burst ${i++}`, clientMessageId: `c-${Math.random()}` });
          if (ack.messageId) acknowledged.add(ack.messageId);
        } catch {
          return; // the server died mid-request: that send was never acknowledged
        }
      }
    };
    const workers = Array.from({ length: 8 }, () => sender());
    while (acknowledged.size < 300) await new Promise((resolve) => setTimeout(resolve, 5));
    // Listened for before the kill: the exit may be reported while the senders wind down.
    const exited = new Promise((resolve) => first.child.once('exit', resolve));
    first.child.kill('SIGKILL');
    sending = false;
    await Promise.all(workers);
    alice.close();
    await exited;

    const restarted = await startServerProcess(env);
    try {
      const res = await request(restarted.url).get(`/api/sessions/${sessionId}/messages?limit=500`).set('X-API-Key', KEY).expect(200);
      const all = [...res.body.messages];
      let after = res.body.nextAfter as number | undefined;
      while (after !== undefined) {
        const page = await request(restarted.url).get(`/api/sessions/${sessionId}/messages?limit=500&after=${after}`).set('X-API-Key', KEY).expect(200);
        all.push(...page.body.messages);
        after = page.body.nextAfter;
      }
      const storedIds = new Set(all.map((m: { id: string }) => m.id));
      const lost = [...acknowledged].filter((id) => !storedIds.has(id));
      expect(lost).toEqual([]);
      expect(all.map((m: { seq: number }) => m.seq)).toEqual(Array.from({ length: all.length }, (_, i) => i + 1));
      expect(await assertAllFilesParse(dir)).toBe(all.length);
    } finally {
      restarted.child.kill('SIGTERM');
      await new Promise((resolve) => restarted.child.once('exit', resolve));
    }
  }, 60_000);

  const isRoot = process.getuid?.() === 0 && process.platform === 'linux';
  it.skipIf(!isRoot)('answers a full disk with STORAGE_UNAVAILABLE, loses no acknowledged message, and recovers when space returns (needs root for tmpfs)', async () => {
    const mount = await tempDir();
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', mount]);
    try {
      const dataDir = path.join(mount, 'chat');
      // The inbox database would sit in CHAT_SESSIONS_DIR and take much of this small disk.
      const inboxDb = path.join(await tempDir(), 'inbox.sqlite');
      const t = await startServer({ JWT_SECRET: TEST_SECRET, CHAT_SESSIONS_DIR: dataDir, CHAT_MESSAGES_PER_USER_PER_MINUTE: '100000', INBOX_DB_PATH: inboxDb });
      const filler = path.join(mount, 'filler');
      try {
        const alice = await connectClient(t.url, { auth: { token: signToken({ userId: 'alice' }) } });
        const { sessionId } = await emitWithAck<{ sessionId: string }>(alice, 'create_chat_session', { machineId: 'm', receiverUserId: 'bob' });
        // Leave a little room, then fill it with messages until the store says it is full
        // (each message takes room twice until a checkpoint: messages.jsonl and the journal).
        await writeFile(filler, Buffer.alloc(140 * 1024));
        const acknowledged: string[] = [];
        let failure: { code?: string } | undefined;
        for (let i = 0; i < 2000 && !failure; i++) {
          const reply = await emitWithAck<MessageSent & { code?: string }>(alice, 'send_message', { sessionId, message: `${i} ${'x'.repeat(900)}` });
          if (reply.messageId) acknowledged.push(reply.messageId);
          else failure = reply;
        }
        expect(failure).toMatchObject({ success: false, code: 'STORAGE_UNAVAILABLE' });
        expect(acknowledged.length).toBeGreaterThan(0);
        const rest = await request(t.url).post(`/api/sessions/${sessionId}/messages`).send({ senderUserId: 'alice', message: 'y'.repeat(4000) });
        expect(rest.status).toBe(503);
        expect(rest.body.code).toBe('STORAGE_UNAVAILABLE');
        const ready = await request(t.url).get('/ready').expect(503);
        expect(ready.body.checks.chatStore).toBe(false);

        const stored = await request(t.url).get(`/api/sessions/${sessionId}/messages?limit=500`).expect(200);
        const ids = new Set(stored.body.messages.map((m: { id: string }) => m.id));
        expect(acknowledged.filter((id) => !ids.has(id))).toEqual([]);

        await rm(filler);
        expect(await emitWithAck(alice, 'send_message', { sessionId, message: 'space is back' })).toMatchObject({ messageId: expect.any(String) });
        await request(t.url).get('/ready').expect(200);
        alice.close();
      } finally {
        await t.close();
      }
      expect(await assertAllFilesParse(dataDir)).toBeGreaterThan(0);
    } finally {
      execFileSync('umount', [mount]);
    }
  });
});
