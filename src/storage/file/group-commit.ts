/**
 * Serializes the writes to one file and batches them (group commit): items submitted while
 * a commit runs wait, and the next commit takes all of them at once. `submit` resolves with
 * the item's result only after the commit that carried it has finished, or rejects with
 * that commit's error.
 */
export interface GroupCommitter<TItem, TResult> {
  submit(item: TItem): Promise<TResult>;
  /** Resolves once nothing is queued or being committed. */
  idle(): Promise<void>;
  /** True while something is queued or being committed. */
  readonly busy: boolean;
}

interface Waiting<TItem, TResult> {
  item: TItem;
  resolve(result: TResult): void;
  reject(error: unknown): void;
}

/**
 * `commit` receives the waiting items in submission order and returns one result per item;
 * if it throws, every item of that batch is rejected with the error.
 */
export function createGroupCommitter<TItem, TResult>(
  commit: (items: TItem[]) => Promise<TResult[]>,
  options: {
    maxBatch?: number;
    /**
     * What the first batch waits for before it is taken. Default: one microtask, so the
     * submissions of the current tick join it. `setImmediate` waits for the rest of this
     * turn of the event loop (every socket read of its poll phase) instead.
     */
    gather?: () => Promise<void>;
  } = {},
): GroupCommitter<TItem, TResult> {
  const maxBatch = options.maxBatch ?? Number.POSITIVE_INFINITY;
  const gather = options.gather ?? (() => Promise.resolve());
  const queue: Waiting<TItem, TResult>[] = [];
  let running: Promise<void> | undefined;

  const drain = async () => {
    // Let the submissions of the current tick (or turn) join the first batch.
    await gather();
    while (queue.length > 0) {
      const batch = queue.splice(0, maxBatch);
      try {
        const results = await commit(batch.map((waiting) => waiting.item));
        batch.forEach((waiting, i) => waiting.resolve(results[i] as TResult));
      } catch (error) {
        for (const waiting of batch) waiting.reject(error);
      }
    }
    // Cleared in the same synchronous step as the empty-queue check above, so a submit
    // can never land in a queue that no drain will look at.
    running = undefined;
  };

  return {
    submit(item) {
      const result = new Promise<TResult>((resolve, reject) => queue.push({ item, resolve, reject }));
      running ??= drain();
      return result;
    },
    idle() {
      return running ?? Promise.resolve();
    },
    get busy() {
      return running !== undefined;
    },
  };
}
