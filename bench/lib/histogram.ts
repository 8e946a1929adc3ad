/**
 * A mergeable latency histogram in milliseconds. Buckets are logarithmic, 1 % wide, from
 * 1 µs up; so any percentile read back is within 1 % of the true value. Workers record
 * into one each and send the compact form over IPC; the orchestrator merges them.
 */
export interface HistogramData {
  /** [bucket index, count] pairs, only non-empty buckets. */
  buckets: [number, number][];
  count: number;
  min: number;
  max: number;
  sum: number;
}

const FLOOR_MS = 0.001;
const GROWTH = Math.log(1.01);

export class Histogram {
  private readonly counts = new Map<number, number>();
  count = 0;
  min = Number.POSITIVE_INFINITY;
  max = 0;
  sum = 0;

  record(ms: number): void {
    const value = ms > FLOOR_MS ? ms : FLOOR_MS;
    const index = Math.floor(Math.log(value / FLOOR_MS) / GROWTH);
    this.counts.set(index, (this.counts.get(index) ?? 0) + 1);
    this.count += 1;
    this.sum += ms;
    if (ms < this.min) this.min = ms;
    if (ms > this.max) this.max = ms;
  }

  merge(data: HistogramData): this {
    for (const [index, count] of data.buckets) this.counts.set(index, (this.counts.get(index) ?? 0) + count);
    this.count += data.count;
    this.sum += data.sum;
    if (data.count > 0) {
      this.min = Math.min(this.min, data.min);
      this.max = Math.max(this.max, data.max);
    }
    return this;
  }

  /** The value at percentile `p` (0–100); NaN when empty. */
  percentile(p: number): number {
    if (this.count === 0) return Number.NaN;
    const rank = Math.max(1, Math.ceil((p / 100) * this.count));
    let seen = 0;
    for (const index of [...this.counts.keys()].sort((a, b) => a - b)) {
      seen += this.counts.get(index) ?? 0;
      if (seen >= rank) {
        // The bucket's geometric middle, clamped to what was actually seen.
        const middle = FLOOR_MS * Math.exp((index + 0.5) * GROWTH);
        return Math.min(this.max, Math.max(this.min, middle));
      }
    }
    return this.max;
  }

  mean(): number {
    return this.count === 0 ? Number.NaN : this.sum / this.count;
  }

  toJSON(): HistogramData {
    return {
      buckets: [...this.counts.entries()],
      count: this.count,
      min: this.count === 0 ? 0 : this.min,
      max: this.max,
      sum: this.sum,
    };
  }

  static from(parts: readonly HistogramData[]): Histogram {
    const histogram = new Histogram();
    for (const part of parts) histogram.merge(part);
    return histogram;
  }
}
