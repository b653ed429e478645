// Distributions of measured values: count, mean, percentiles and maximum.

export interface Distribution {
  readonly count: number
  /** All null when nothing was measured. */
  readonly mean: number | null
  readonly p50: number | null
  readonly p95: number | null
  readonly p99: number | null
  readonly max: number | null
}

/** The value below which `q` of the samples fall (nearest rank on sorted samples). */
export function quantile (sorted: readonly number[], q: number): number {
  if (sorted.length === 0) throw new RangeError('quantile of no samples')
  const rank = Math.ceil(q * sorted.length) - 1
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))]
}

export function distribution (values: readonly number[]): Distribution {
  if (values.length === 0) return { count: 0, mean: null, p50: null, p95: null, p99: null, max: null }
  const sorted = [...values].sort((a, b) => a - b)
  const round = (v: number): number => Math.round(v * 100) / 100
  return {
    count: sorted.length,
    mean: round(sorted.reduce((s, v) => s + v, 0) / sorted.length),
    p50: round(quantile(sorted, 0.5)),
    p95: round(quantile(sorted, 0.95)),
    p99: round(quantile(sorted, 0.99)),
    max: round(sorted[sorted.length - 1])
  }
}

/** Points of the empirical CDF, at most `maxPoints` of them: [value, fraction of samples <= value]. */
export function cdf (values: readonly number[], maxPoints = 200): [number, number][] {
  if (values.length === 0) return []
  const sorted = [...values].sort((a, b) => a - b)
  const step = Math.max(1, Math.floor(sorted.length / maxPoints))
  const points: [number, number][] = []
  for (let i = 0; i < sorted.length; i += step) points.push([sorted[i], (i + 1) / sorted.length])
  const last = sorted.length - 1
  if (points[points.length - 1][0] !== sorted[last] || points[points.length - 1][1] !== 1) points.push([sorted[last], 1])
  return points
}
