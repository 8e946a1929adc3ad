import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDurableDatabase } from '../../src/storage/sqlite/open-database.js';
import { createWriteBatcher, type WriteBatcher } from '../../src/storage/sqlite/write-batcher.js';

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('the SQLite write batcher', () => {
  let dir: string;
  let db: Database.Database;
  /** A second connection: it sees only what the first has committed. */
  let observer: Database.Database;
  let batcher: WriteBatcher;
  const insert = (name: string) => () => db.prepare('INSERT INTO items (name) VALUES (?)').run(name).changes;
  const committed = () => observer.prepare('SELECT name FROM items ORDER BY rowid').pluck().all() as string[];

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'write-batcher-'));
    const file = path.join(dir, 'test.sqlite');
    db = openDurableDatabase(file, { cacheKiB: 1024, migrate: (opening) => opening.exec('CREATE TABLE items (name TEXT NOT NULL)') });
    observer = new Database(file, { readonly: true });
    batcher = createWriteBatcher(db, { maxWeight: 100, onStorageFailure: () => undefined, onSettled: () => undefined });
  });

  afterEach(async () => {
    await batcher.drain();
    observer.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('commits a write queued a turn after another in the same transaction as it', async () => {
    const seenByB: string[][] = [];
    const a = batcher.write('a', insert('a'));
    await nextTurn();
    const b = batcher.write('b', () => {
      // Had "a" been committed in a transaction of its own, the other connection would see it.
      seenByB.push(committed());
      return insert('b')();
    });
    await Promise.all([a, b]);
    expect(seenByB).toEqual([[]]);
    expect(committed()).toEqual(['a', 'b']);
  });

  it('stops waiting for more after a few turns, however fast writes keep coming', async () => {
    const first = batcher.write('first', insert('first'));
    let firstDone = false;
    void first.then(() => (firstDone = true));
    let queuedBeforeFirstCommitted = 0;
    for (let turn = 0; turn < 20 && !firstDone; turn += 1) {
      void batcher.write(`w${turn}`, insert(`w${turn}`));
      queuedBeforeFirstCommitted += 1;
      await nextTurn();
    }
    expect(firstDone).toBe(true);
    expect(queuedBeforeFirstCommitted).toBeLessThanOrEqual(5);
  });

  it('undoes a throwing write alone, whether it is alone in its batch or not', async () => {
    const boom = () => {
      insert('undone')();
      throw new Error('a bug in the write');
    };
    await expect(batcher.write('alone', boom)).rejects.toThrow();
    const together = [batcher.write('kept 1', insert('kept 1')), batcher.write('thrown', boom), batcher.write('kept 2', insert('kept 2'))];
    const outcomes = await Promise.allSettled(together);
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(committed()).toEqual(['kept 1', 'kept 2']);
    expect(batcher.writable).toBe(true);
  });
});
