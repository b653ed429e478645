// Latency percentiles of async calls made one at a time, the cases sampled in rounds so that machine noise falls on all of them alike.

export interface LatencyCase {
  readonly name: string
  readonly fn: () => Promise<unknown>
}

export interface LatencySample {
  readonly name: string
  readonly p50Ms: number
  readonly p99Ms: number
  /** Calls timed (warm-up excluded). */
  readonly calls: number
}

export interface LatencyOptions {
  /** Each case runs this long, untimed, before the rounds. */
  readonly warmupMs?: number
  readonly rounds?: number
  /** Each case's share of a round, in ms of calls one after another. */
  readonly roundMs?: number
  /** A round of a case ends after this many calls even within `roundMs` (bounds what very fast cases store). */
  readonly maxCallsPerRound?: number
}

/** The nearest-rank percentile `p` (0..1) of ascending `sorted`. */
export function percentile (sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]
}

async function timeCalls (c: LatencyCase, ms: number, maxCalls: number, into?: number[]): Promise<void> {
  const until = performance.now() + ms
  for (let n = 0; n < maxCalls; n++) {
    const start = performance.now()
    await c.fn()
    const end = performance.now()
    into?.push(end - start)
    if (end >= until) return
  }
}

/** Times each call of each case (a b c a b c ... for `rounds` rounds, after a warm-up each) and reports p50 and p99. */
export async function measureLatency (cases: readonly LatencyCase[], opts: LatencyOptions = {}): Promise<LatencySample[]> {
  const { warmupMs = 300, rounds = 10, roundMs = 200, maxCallsPerRound = 2_000 } = opts
  for (const c of cases) await timeCalls(c, warmupMs, Number.POSITIVE_INFINITY)
  const times = cases.map((): number[] => [])
  for (let r = 0; r < rounds; r++) {
    for (const [i, c] of cases.entries()) await timeCalls(c, roundMs, maxCallsPerRound, times[i])
  }
  return cases.map((c, i) => {
    const sorted = times[i].sort((a, b) => a - b)
    return { name: c.name, p50Ms: percentile(sorted, 0.5), p99Ms: percentile(sorted, 0.99), calls: sorted.length }
  })
}
