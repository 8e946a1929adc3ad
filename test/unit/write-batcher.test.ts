import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { eventually } from '../support/eventually.js';
import { openDurableDatabase, type DurableDatabase } from '../../src/storage/sqlite/open-database.js';
import { createWriteBatcher, type WriteBatcher } from '../../src/storage/sqlite/write-batcher.js';

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('the SQLite write batcher', () => {
  let dir: string;
  let durable: DurableDatabase;
  let db: Database.Database;
  /** A second connection: it sees only what the first has committed. */
  let observer: Database.Database;
  let batcher: WriteBatcher;
  const insert = (name: string) => () => db.prepare('INSERT INTO items (name) VALUES (?)').run(name).changes;
  const committed = () => observer.prepare('SELECT name FROM items ORDER BY rowid').pluck().all() as string[];

  beforeEach(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'write-batcher-'));
    const file = path.join(dir, 'test.sqlite');
    durable = await openDurableDatabase(file, { cacheKiB: 1024, migrate: (opening) => opening.exec('CREATE TABLE items (name TEXT NOT NULL)') });
    db = durable.db;
    observer = new Database(file, { readonly: true });
    batcher = createWriteBatcher(durable, { maxWeight: 100, onStorageFailure: () => undefined, onSettled: () => undefined });
  });

  afterEach(async () => {
    await batcher.drain();
    observer.close();
    durable.close();
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
    // Committed, that is: visible to the other connection (acknowledged after its fdatasync).
    const writes = [batcher.write('first', insert('first'))];
    let queuedBeforeFirstCommitted = 0;
    for (let turn = 0; turn < 20 && !committed().includes('first'); turn += 1) {
      writes.push(batcher.write(`w${turn}`, insert(`w${turn}`)));
      queuedBeforeFirstCommitted += 1;
      await nextTurn();
    }
    expect(committed()).toContain('first');
    expect(queuedBeforeFirstCommitted).toBeLessThanOrEqual(5);
    await Promise.all(writes);
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

  /** Waits until the other connection sees exactly `names` committed. */
  const seen = (...names: string[]) => eventually(async () => committed().join() === names.join(), `${names.join(', ')} committed`);

  /** A batcher whose fdatasyncs wait for the test to let each one run (the real one). */
  function gatedBatcher(failFirst?: Error) {
    /** The gate of each fdatasync, in the order they started; opened ones are left out of `openGate`. */
    const gates: (() => void)[] = [];
    const opened = new Set<number>();
    let calls = 0;
    const failures: unknown[] = [];
    const gated = createWriteBatcher(
      {
        db,
        sync: async () => {
          calls += 1;
          const call = calls;
          await new Promise<void>((resolve) => gates.push(resolve));
          if (call === 1 && failFirst) throw failFirst;
          await durable.sync();
        },
      },
      { maxWeight: 100, onStorageFailure: (err) => failures.push(err), onSettled: () => undefined },
    );
    /** Lets the fdatasync started `n`-th (from 1) run, leaving the others waiting. */
    const openGateOf = async (n: number) => {
      await eventually(async () => gates.length >= n, `fdatasync ${n} started`);
      opened.add(n);
      gates[n - 1]!();
    };
    /** Lets the oldest fdatasync not yet let run, run. */
    const openGate = async () => {
      let n = 1;
      while (opened.has(n)) n += 1;
      await openGateOf(n);
    };
    return { gated, openGate, openGateOf, failures, syncs: () => calls };
  }

  it('settles a write only after an fdatasync that began after its commit, and commits the next batches meanwhile', async () => {
    const { gated, openGate, syncs } = gatedBatcher();
    const settled: string[] = [];
    const write = (name: string) => gated.write(name, insert(name)).then(() => settled.push(name));
    const a = write('a');
    await seen('a');
    expect(syncs()).toBe(1);
    // Committed while a's sync runs: visible to readers, not yet acknowledged.
    const b = write('b');
    const c = write('c');
    await seen('a', 'b', 'c');
    expect(settled).toEqual([]);
    await openGate();
    await a;
    expect(settled).toEqual(['a']);
    // One more fdatasync covers b and c together.
    await openGate();
    await Promise.all([b, c]);
    expect(settled).toEqual(['a', 'b', 'c']);
    expect(syncs()).toBe(2);
    await gated.drain();
  });

  it('fails every write committed before a failed fdatasync was seen, with STORAGE_UNAVAILABLE, and is writable again once a write is durable', async () => {
    const eio = Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO', errno: -5, syscall: 'fdatasync' });
    const { gated, openGate, failures } = gatedBatcher(eio);
    const a = gated.write('store a', insert('a'));
    await seen('a');
    const b = gated.write('store b', insert('b'));
    await seen('a', 'b');
    // a's fdatasync fails; b's (started before that was seen) succeeds, and b fails all the same.
    await openGate();
    await openGate();
    const outcomes = await Promise.allSettled([a, b]);
    expect(outcomes.map((o) => (o.status === 'rejected' ? (o.reason as { code?: string }).code : o.status))).toEqual([
      'STORAGE_UNAVAILABLE',
      'STORAGE_UNAVAILABLE',
    ]);
    expect(failures).toEqual([eio]);
    expect(gated.writable).toBe(false);
    const c = gated.write('store c', insert('c'));
    await openGate();
    await c;
    expect(gated.writable).toBe(true);
  });

  it('drains only once every committed write is durable', async () => {
    const { gated, openGate } = gatedBatcher();
    let drained = false;
    const write = gated.write('a', insert('a'));
    const drain = gated.drain().then(() => (drained = true));
    await seen('a');
    // The sentinel: a's own promise cannot settle before its sync, which the gate holds.
    await nextTurn();
    expect(drained).toBe(false);
    await openGate();
    await Promise.all([write, drain]);
    expect(drained).toBe(true);
  });

  it('runs the fdatasyncs of later batches meanwhile, and settles the batches in commit order', async () => {
    const { gated, openGateOf, syncs } = gatedBatcher();
    const settled: string[] = [];
    const a = gated.write('a', insert('a')).then(() => settled.push('a'));
    await seen('a');
    const b = gated.write('b', insert('b')).then(() => settled.push('b'));
    await seen('a', 'b');
    // b's fdatasync started without waiting for a's, and ends first.
    expect(syncs()).toBe(2);
    await openGateOf(2);
    // c commits turns of the event loop after b's fdatasync ended: had b not waited for a,
    // it would have settled by then.
    const c = gated.write('c', insert('c')).then(() => settled.push('c'));
    await seen('a', 'b', 'c');
    expect(settled).toEqual([]);
    await openGateOf(1);
    await Promise.all([a, b]);
    await openGateOf(3);
    await c;
    expect(settled).toEqual(['a', 'b', 'c']);
  });

  it('stays unwritable when a write committed before a storage failure becomes durable after it', async () => {
    const { gated, openGate } = gatedBatcher();
    const a = gated.write('store a', insert('a'));
    await seen('a');
    // The next transaction fails on storage (as a full disk makes COMMIT fail) while a's sync waits.
    const full = gated.write('store full', () => {
      throw new Database.SqliteError('database or disk is full', 'SQLITE_FULL');
    });
    await expect(full).rejects.toMatchObject({ code: 'STORAGE_UNAVAILABLE' });
    expect(gated.writable).toBe(false);
    await openGate();
    await a;
    expect(gated.writable).toBe(false);
    const c = gated.write('store c', insert('c'));
    await openGate();
    await c;
    expect(gated.writable).toBe(true);
  });
});
