// Virtual time against real time at a size one thread holds in real time: the same scenario agrees on what calls and convergence look like, within the tolerance simulations/README.md states.

import { describe, expect, it } from 'vitest'
import { loadScenario, runSimulation } from '../../simulations/index.ts'
import type { Report } from '../../simulations/index.ts'

/** The q-quantile of the successful calls' latency, from the report's CDF. */
function latencyQuantile (r: Report, q: number): number {
  const point = r.calls.latencyCdf.find(([, f]) => f >= q)
  if (point === undefined) throw new Error(`no latency quantile ${q}: ${r.calls.ok} successful calls`)
  return point[0]
}

/**
 * The tolerance (simulations/README.md, "Virtual against real time"): virtual time models the links exactly and
 * the nodes' CPU as free, so a real-time figure is the virtual one plus what the host adds. A real figure must
 * be at least half the virtual one less 5 ms (reality is not faster than the model), and at most twice it plus
 * twice the real run's event-loop delay p99 plus 30 ms (the host's delays are added to every figure).
 */
function agree (what: string, virtual: number, real: number, realLoopDelayP99Ms: number): void {
  const low = virtual * 0.5 - 5
  const high = virtual * 2 + 2 * realLoopDelayP99Ms + 30
  expect(real, `${what}: real ${real} ms against virtual ${virtual} ms (allowed ${low.toFixed(0)}-${high.toFixed(0)} ms)`).toBeGreaterThanOrEqual(low)
  expect(real, `${what}: real ${real} ms against virtual ${virtual} ms (allowed ${low.toFixed(0)}-${high.toFixed(0)} ms)`).toBeLessThanOrEqual(high)
}

describe('virtual and real time on the smoke scenario', () => {
  it('agree on call latency and advert convergence within the stated tolerance', async () => {
    const scenario = await loadScenario('smoke')
    const virtual = await runSimulation(scenario, { time: 'virtual' })
    const real = await runSimulation(scenario, { time: 'real' })
    expect(virtual.time.mode).toBe('virtual')
    expect(real.time.mode).toBe('real')

    // the same plan: the same calls, nearly all made and answered in both (in real time a slow host starts a
    // restarted or joining node later, so a few more of its calls find it not up yet and are skipped)
    expect(real.calls.planned).toBe(virtual.calls.planned)
    expect(Math.abs(real.calls.made - virtual.calls.made), `calls made: real ${real.calls.made}, virtual ${virtual.calls.made} of ${virtual.calls.planned}`).toBeLessThanOrEqual(virtual.calls.planned * 0.1)
    expect(virtual.calls.successRatio).toBeGreaterThanOrEqual(0.97)
    expect(real.calls.successRatio).toBeGreaterThanOrEqual(0.97)
    expect(virtual.convergence.initialKnowingAll).toBe(10)
    expect(real.convergence.initialKnowingAll).toBe(10)

    const eld = real.simulator.eventLoopDelayMs.p99
    for (const q of [0.1, 0.5, 0.9]) agree(`call latency p${q * 100}`, latencyQuantile(virtual, q), latencyQuantile(real, q), eld)
    const v = virtual.convergence.exportChange
    const r = real.convergence.exportChange
    expect(v.count).toBeGreaterThanOrEqual(3)
    expect(r.count).toBeGreaterThanOrEqual(3)
    agree('export change convergence p50', v.p50!, r.p50!, eld)
  }, 240_000)
})
