import { describe, expect, it } from 'vitest';
import { LocalFixedWindow } from '../../src/domain/rate-limit.js';

describe('LocalFixedWindow', () => {
  it('allows `points` per window, counts on past the limit, and starts over when the window ends', () => {
    const window = new LocalFixedWindow(3, 1000);
    const spent = [0, 10, 20, 30, 40].map((at) => window.consume(1_000 + at));
    expect(spent.map((r) => r.allowed)).toEqual([true, true, true, false, false]);
    expect(spent.map((r) => r.consumed)).toEqual([1, 2, 3, 4, 5]);
    expect(spent.map((r) => r.remaining)).toEqual([2, 1, 0, 0, 0]);
    expect(spent[4]?.resetMs).toBe(960);

    // 999 ms after the window opened it is still the same window; at 1000 ms a new one.
    expect(window.consume(1_999)).toMatchObject({ allowed: false, consumed: 6 });
    expect(window.consume(2_000)).toEqual({ allowed: true, consumed: 1, remaining: 2, resetMs: 1000 });
  });

  it('opens its first window on first use, whatever the clock reads', () => {
    expect(new LocalFixedWindow(1, 60_000).consume(0)).toEqual({ allowed: true, consumed: 1, remaining: 0, resetMs: 60_000 });
  });
});
