/**
 * Child process of the inbox SIGKILL test: opens the SQLite inbox store on the file in
 * argv[2] and, as fast as it can, appends notifications 20 calls at a time (each to one to
 * three of ten users), marks some read and deletes some. It prints one line per change,
 * only after the store has resolved it:
 *   `stored <id> <userId> <title>`, `read <id> <userId>`, `deleted <id> <userId>`;
 * and `deleting <id>` just before it asks for a delete, since a delete the kill cut short
 * of its acknowledgement may or may not have been stored.
 * It never stops by itself.
 */
import { pino } from 'pino';
import { systemClock } from '../../src/domain/clock.js';
import { createSqliteInboxStore } from '../../src/storage/sqlite/sqlite-inbox-store.js';

const file = process.argv[2];
if (file === undefined) throw new Error('usage: inbox-store-writer.ts <database file>');

const store = createSqliteInboxStore({
  file,
  maxPerUser: 1_000_000,
  retentionMs: 365 * 24 * 3600 * 1000,
  clock: systemClock,
  logger: pino({ level: 'silent' }),
});
await store.open();

const USERS = Array.from({ length: 10 }, (_, i) => `user-${i}`);
let next = 0;
for (let round = 0; ; round += 1) {
  const calls = Array.from({ length: 20 }, async (_, call) => {
    const userIds = USERS.slice((round + call) % USERS.length).slice(0, 1 + (call % 3));
    const items = userIds.map((userId) => ({ userId, type: 'info', event: 'notification', title: `t-${next++}`, data: { pad: 'x'.repeat(200) } }));
    const result = await store.append(items);
    if (result.replayed) throw new Error('unexpected replay');
    for (const record of result.records) process.stdout.write(`stored ${record.id} ${record.userId} ${record.title ?? ''}\n`);
    return result.records;
  });
  const records = (await Promise.all(calls)).flat();
  // Changes in flight when the kill comes, alongside the next appends.
  const toRead = records.filter((_, i) => i % 3 === 0);
  const toDelete = records.filter((_, i) => i % 7 === 1);
  void Promise.all([
    ...toRead.map(async (record) => {
      const changed = await store.markRead(record, [record.id], new Date().toISOString());
      for (const id of changed) process.stdout.write(`read ${id} ${record.userId}\n`);
    }),
    ...toDelete.map(async (record) => {
      process.stdout.write(`deleting ${record.id}\n`);
      if (await store.remove(record, record.id)) process.stdout.write(`deleted ${record.id} ${record.userId}\n`);
    }),
  ]);
}
