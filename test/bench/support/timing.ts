// Timing for work the sync harness cannot drive: one-shot runs (median of N) and async calls, optionally several in flight.
import type { Sample } from '../harness.ts'

export interface OneShot {
  readonly name: string
  readonly medianMs: number
  readonly minMs: number
  readonly maxMs: number
  readonly runs: number
}

/** The summary of one-shot timings (ms), taken by the caller one run at a time, set-up and tear-down left out. */
export function oneShot (name: string, ms: readonly number[]): OneShot {
  const sorted = [...ms].sort((a, b) => a - b)
  return { name, medianMs: median(sorted), minMs: sorted[0], maxMs: sorted[sorted.length - 1], runs: sorted.length }
}

export function median (sorted: readonly number[]): number {
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

export function formatMs (ms: number): string {
  return ms >= 100 ? `${Math.round(ms)} ms` : ms >= 10 ? `${ms.toFixed(1)} ms` : `${ms.toFixed(2)} ms`
}

export interface AsyncCase {
  readonly name: string
  readonly fn: () => Promise<unknown>
  /** Calls kept in flight at once; default 1. */
  readonly concurrency?: number
}

export interface AsyncSample extends Sample {
  /** The best sample's rate: the least disturbed by the rest of the machine. */
  readonly bestOpsPerSec: number
}

/** Calls of `c` completed per second of wall time over `sampleMs`, `concurrency` loops each awaiting one call after another. */
async function rateOf (c: AsyncCase, sampleMs: number): Promise<number> {
  let ops = 0
  const start = performance.now()
  const loop = async (): Promise<void> => {
    while (performance.now() - start < sampleMs) {
      await c.fn()
      ops++
    }
  }
  await Promise.all(Array.from({ length: c.concurrency ?? 1 }, loop))
  return ops / ((performance.now() - start) / 1000)
}

/**
 * The async counterpart of harness `measure`, for cases compared with each
 * other: their samples are taken in turn (a b c a b c ...), after a warm-up
 * sample each, so that a noisy moment of the machine falls on all of them
 * alike. Each rate is the median of `samples`.
 */
export async function measureAsync (cases: readonly AsyncCase[], { samples = 9, sampleMs = 300 } = {}): Promise<AsyncSample[]> {
  for (const c of cases) await rateOf(c, sampleMs)
  const rates = cases.map((): number[] => [])
  for (let s = 0; s < samples; s++) {
    for (const [i, c] of cases.entries()) rates[i].push(await rateOf(c, sampleMs))
  }
  return cases.map((c, i) => {
    const r = rates[i].sort((a, b) => a - b)
    const mid = median(r)
    return { name: c.name, opsPerSec: mid, spread: (r[r.length - 1] - r[0]) / mid, bestOpsPerSec: r[r.length - 1] }
  })
}
