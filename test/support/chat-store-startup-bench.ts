/**
 * Measures FileChatStore.open() over many sessions (default 10,000), each a directory with
 * a session.json and a messages.jsonl of a few messages. Not a test: it asserts nothing.
 *
 *   node --import tsx test/support/chat-store-startup-bench.ts [sessions] [--cold]
 *
 * --cold (root on Linux) drops the page cache before each open, as after a reboot.
 */
import { writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { v4 as uuidv4 } from 'uuid';
import { pino } from 'pino';
import { createFileChatStore } from '../../src/storage/file/file-chat-store.js';
import { forEachBounded } from '../../src/storage/file/run-bounded.js';

const count = Number(process.argv.find((arg) => /^\d+$/.test(arg)) ?? 10_000);
const cold = process.argv.includes('--cold');
const dir = await mkdtemp(path.join(tmpdir(), 'chat-store-startup-'));

try {
  const started = performance.now();
  await forEachBounded(Array.from({ length: count }, (_, i) => i), 64, async (i) => {
    const sessionId = uuidv4();
    const sender = `user-${i % 500}`;
    const receiver = `user-${(i * 7 + 1) % 500}`;
    await mkdir(path.join(dir, sessionId));
    const session = {
      sessionId,
      machineId: 'bench',
      senderUserId: sender,
      receiverUserId: receiver,
      createdAt: new Date().toISOString(),
      participants: [sender, receiver],
      cursors: { [sender]: { delivered: 0, read: 0 }, [receiver]: { delivered: 2, read: 1 } },
    };
    await writeFile(path.join(dir, sessionId, 'session.json'), JSON.stringify(session, null, 2));
    const lines = [1, 2, 3].map((seq) =>
      JSON.stringify({ id: uuidv4(), seq, senderUserId: sender, receiverUserId: receiver, message: `hello ${seq}`, timestamp: new Date().toISOString(), machineId: 'bench' }),
    );
    await writeFile(path.join(dir, sessionId, 'messages.jsonl'), `${lines.join('\n')}\n`);
  });
  console.log(`created ${count} sessions in ${Math.round(performance.now() - started)} ms under ${dir}`);

  for (let run = 1; run <= 3; run += 1) {
    if (cold) writeFileSync('/proc/sys/vm/drop_caches', '3');
    const store = createFileChatStore({ dir, logger: pino({ level: 'silent' }) });
    const t0 = performance.now();
    await store.open();
    const openMs = performance.now() - t0;
    const t1 = performance.now();
    const listed = await store.listSessionsOf('user-1');
    const listMs = performance.now() - t1;
    await store.close();
    console.log(
      `run ${run}${cold ? ' (cold cache)' : ''}: open() ${openMs.toFixed(0)} ms; ` +
        `first listSessionsOf (${listed.length} sessions, loads their messages.jsonl) ${listMs.toFixed(1)} ms; ` +
        `rss ${Math.round(process.memoryUsage().rss / 2 ** 20)} MiB`,
    );
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
