/**
 * Child process of the PostgreSQL chat concurrency test, standing in for one node: opens
 * the PostgreSQL chat store on the schema of argv[2] (a DATABASE_URL) and appends argv[4]
 * messages to session argv[3], 16 at a time, with clientMessageIds argv[5]-0, argv[5]-1…
 * Once the store is open it prints `ready` and waits for a line on stdin, so that the test
 * can start several writers at the same moment. It prints `ack <seq> <clientMessageId>
 * <duplicate>` for each message, once its append resolved, then `done` and exits.
 */
import { once } from 'node:events';
import { pino } from 'pino';
import { createPostgresChatStore } from '../../src/storage/postgres/postgres-chat-store.js';
import { createPostgresDatabase } from '../../src/storage/postgres/postgres-database.js';

const [url, sessionId, countText, idPrefix] = process.argv.slice(2);
if (url === undefined || sessionId === undefined || countText === undefined || idPrefix === undefined) {
  throw new Error('usage: postgres-chat-writer.ts <url> <sessionId> <count> <idPrefix>');
}

const database = createPostgresDatabase({ url, poolMax: 8, applicationName: `chat-writer-${process.pid}`, logger: pino({ level: 'silent' }) });
const store = createPostgresChatStore({ database });
await store.open();
process.stdout.write('ready\n');
await once(process.stdin, 'data');

const count = Number(countText);
let next = 0;
const worker = async () => {
  while (next < count) {
    const clientMessageId = `${idPrefix}-${next++}`;
    const { message, duplicate } = await store.appendMessage(sessionId, {
      senderUserId: 'alice',
      receiverUserId: 'bob',
      message: `from ${process.pid}: ${clientMessageId}`,
      machineId: `writer-${process.pid}`,
      clientMessageId,
    });
    process.stdout.write(`ack ${message.seq} ${clientMessageId} ${duplicate}\n`);
  }
};
await Promise.all(Array.from({ length: 16 }, worker));
await store.close();
await database.close();
process.stdout.write('done\n');
