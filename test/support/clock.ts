import type { Clock } from '../../src/domain/clock.js';

/** A clock that stands still until the test moves it. */
export interface TestClock extends Clock {
  /**
   * Moves time forward by `ms` and runs, synchronously and in time order, every callback
   * that became due, each at its own due time. Callbacks never run otherwise, not even
   * those scheduled with no delay.
   */
  advance(ms: number): void;
}

/** Starts at the wall-clock time, so tokens signed with real time line up with it. */
export function createTestClock(start = Date.now()): TestClock {
  let now = start;
  let nextId = 0;
  const pending = new Map<number, { due: number; callback: () => void }>();

  const nextDue = (until: number) => {
    let found: [number, { due: number; callback: () => void }] | undefined;
    for (const entry of pending) {
      if (entry[1].due <= until && (found === undefined || entry[1].due < found[1].due)) found = entry;
    }
    return found;
  };

  return {
    now: () => now,
    schedule(callback, delayMs) {
      const id = nextId++;
      pending.set(id, { due: now + Math.max(0, delayMs), callback });
      return () => {
        pending.delete(id);
      };
    },
    advance(ms) {
      const target = now + ms;
      // Callbacks may schedule again (a timer that re-arms): look again after each one.
      for (let due = nextDue(target); due !== undefined; due = nextDue(target)) {
        pending.delete(due[0]);
        now = due[1].due;
        due[1].callback();
      }
      now = target;
    },
  };
}
