/**
 * Runs tasks so that two sharing a key run one after the other, in the order they were
 * asked for, while tasks with no key in common run at once. The PostgreSQL inbox runs the
 * writes of one inbox through it: row locks alone order concurrent transactions by
 * whichever reaches the lock first, so without it two appends this process was asked for
 * in order could be stored (and numbered) the other way round.
 */
export interface KeyedSequencer {
  run<T>(keys: readonly string[], task: () => Promise<T>): Promise<T>;
}

export function createKeyedSequencer(): KeyedSequencer {
  /** The last task asked for per key, settled or not; removed once it settles and nothing followed. */
  const tails = new Map<string, Promise<void>>();

  return {
    run(keys, task) {
      const unique = [...new Set(keys)];
      const before: Promise<void>[] = [];
      for (const key of unique) {
        const tail = tails.get(key);
        if (tail !== undefined) before.push(tail);
      }
      const result = (before.length === 0 ? Promise.resolve() : Promise.all(before)).then(task);
      const done = result.then(
        () => undefined,
        () => undefined,
      );
      for (const key of unique) tails.set(key, done);
      void done.then(() => {
        for (const key of unique) if (tails.get(key) === done) tails.delete(key);
      });
      return result;
    },
  };
}
