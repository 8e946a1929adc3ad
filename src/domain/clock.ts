/**
 * The time the server decides by where time is the subject (token expiry, rate and quota
 * windows). One clock, chosen by the composition root, so a test can move it forward
 * instead of waiting.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /**
   * Calls `callback` once `delayMs` have passed on this clock; the returned function
   * cancels it. Like setTimeout, never earlier, possibly later.
   */
  schedule(callback: () => void, delayMs: number): () => void;
}

/** Wall-clock time and real timers. */
export const systemClock: Clock = {
  now: () => Date.now(),
  schedule(callback, delayMs) {
    const timer = setTimeout(callback, delayMs);
    return () => clearTimeout(timer);
  },
};
