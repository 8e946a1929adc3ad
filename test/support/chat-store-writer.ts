/**
 * Child process of the SIGKILL durability test: opens the file store on the directory in
 * argv[2], creates a session and appends to it as fast as it can, 20 appends at a time,
 * while moving a cursor. It prints `session <id>` first, then `ack <seq> <clientMessageId>`
 * for each message, only after its append has resolved. It never stops by itself.
 */
import { pino } from 'pino';
import { createFileChatStore } from '../../src/storage/file/file-chat-store.js';

const dir = process.argv[2];
if (dir === undefined) throw new Error('usage: chat-store-writer.ts <dir>');

const store = createFileChatStore({ dir, logger: pino({ level: 'silent' }) });
await store.open();
const { sessionId } = await store.createSession({ machineId: 'writer', senderUserId: 'alice', receiverUserId: 'bob' });
process.stdout.write(`session ${sessionId}\n`);

let next = 0;
for (;;) {
  const batch = Array.from({ length: 20 }, async () => {
    const clientMessageId = `c-${next++}`;
    const { message } = await store.appendMessage(sessionId, {
      senderUserId: 'alice',
      receiverUserId: 'bob',
      message: `message ${clientMessageId} ${'x'.repeat(100)}`,
      machineId: 'writer',
      clientMessageId,
    });
    process.stdout.write(`ack ${message.seq} ${clientMessageId}\n`);
    return message.seq;
  });
  const seqs = await Promise.all(batch);
  // Keeps session.json being rewritten while messages are appended.
  void store.advanceCursor(sessionId, 'bob', { delivered: Math.max(...seqs) });
}
