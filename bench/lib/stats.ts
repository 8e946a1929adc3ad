/** Small statistics over repetitions: medians, ranges, least-squares trends. */

export function median(values: readonly number[]): number {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export function range(values: readonly number[]): [number, number] {
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.length === 0) return [Number.NaN, Number.NaN];
  return [Math.min(...finite), Math.max(...finite)];
}

/** Least-squares line through (x, y); slope per unit of x. */
export function linearFit(points: readonly { x: number; y: number }[]): { slope: number; intercept: number } {
  const n = points.length;
  if (n === 0) return { slope: Number.NaN, intercept: Number.NaN };
  if (n === 1) return { slope: 0, intercept: points[0]!.y };
  const meanX = points.reduce((s, p) => s + p.x, 0) / n;
  const meanY = points.reduce((s, p) => s + p.y, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.x - meanX) * (p.y - meanY);
    den += (p.x - meanX) ** 2;
  }
  const slope = den === 0 ? 0 : num / den;
  return { slope, intercept: meanY - slope * meanX };
}

/**
 * Growth of a series over its span, in percent of the fitted start value: the trend of
 * post-GC heap samples, insensitive to one noisy sample the way last/first is not.
 */
export function trendGrowthPercent(points: readonly { x: number; y: number }[]): number {
  if (points.length < 2) return Number.NaN;
  const { slope, intercept } = linearFit(points);
  const first = points[0]!.x;
  const last = points[points.length - 1]!.x;
  const start = intercept + slope * first;
  return start > 0 ? ((slope * (last - first)) / start) * 100 : Number.NaN;
}
