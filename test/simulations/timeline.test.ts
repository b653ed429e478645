import { describe, expect, it } from 'vitest'
import { loadScenario, validateScenario } from '../../simulations/scenario.ts'
import { planTimeline } from '../../simulations/timeline.ts'

const churn = validateScenario({
  name: 'churn',
  durationS: 60,
  nodes: 20,
  seed: 3,
  topology: { kind: 'random', degree: 2 },
  services: [{ provider: 'echo', on: 5 }],
  workload: [{ callsPerS: 10, from: 'random' }],
  events: [
    { kind: 'churn', fromS: 5, toS: 50, ratePerS: 1, downS: 4 },
    { kind: 'partition', at: 20, groups: 3, healAt: 30 },
    { kind: 'join', at: 10, count: 2 },
    { kind: 'export', at: 12, iface: 'extra' },
    { kind: 'unexport', at: 40, iface: 'extra' }
  ]
})

describe('the plan of a run', () => {
  it('is the same for the same seed: nodes, events and every call', () => {
    expect(planTimeline(churn)).toEqual(planTimeline(churn))
  })

  it('differs with another seed', () => {
    const other = planTimeline({ ...churn, seed: 4 })
    expect(other.events).not.toEqual(planTimeline(churn).events)
  })

  it('only crashes running nodes and restarts crashed ones, downS later', () => {
    const up = new Set(Array.from({ length: 20 }, (_, i) => i))
    const crashedAt = new Map<number, number>()
    for (const e of planTimeline(churn).events) {
      if (e.kind === 'crash') { expect(up.has(e.slot)).toBe(true); up.delete(e.slot); crashedAt.set(e.slot, e.atMs) }
      if (e.kind === 'restart') { expect(up.has(e.slot)).toBe(false); expect(e.atMs - crashedAt.get(e.slot)!).toBe(4000); up.add(e.slot) }
      if (e.kind === 'join') { expect(e.slot).toBeGreaterThanOrEqual(20); up.add(e.slot) }
    }
  })

  it('splits every node into the partition groups and heals at healAt', () => {
    const events = planTimeline(churn).events
    const split = events.find(e => e.kind === 'partition')
    expect(split?.kind === 'partition' && split.groups.length).toBe(3)
    if (split?.kind === 'partition') expect(split.groups.flat().sort((a, b) => a - b)).toEqual(Array.from({ length: 22 }, (_, i) => i))
    expect(events.find(e => e.kind === 'heal')?.atMs).toBe(30_000)
  })

  it('unexports from the node that exported', () => {
    const events = planTimeline(churn).events
    const exp = events.find(e => e.kind === 'export')
    const unexp = events.find(e => e.kind === 'unexport' || (e.kind === 'skipped' && e.reason.startsWith('unexport')))
    expect(exp?.kind).toBe('export')
    // the exporter may have crashed by then: the unexport is skipped rather than sent to another node
    if (exp?.kind === 'export' && unexp?.kind === 'unexport') expect(unexp.slot).toBe(exp.slot)
    else expect(unexp?.kind).toBe('skipped')
  })

  it('calls come from nodes the plan has running, at about the asked rate', () => {
    const plan = planTimeline(churn)
    expect(plan.calls.length).toBeGreaterThan(450)
    expect(plan.calls.length).toBeLessThan(750)
    const times = plan.calls.map(c => c.atMs)
    expect([...times].sort((a, b) => a - b)).toEqual(times)
  })

  it('the shipped smoke scenario plans the same sequence every time', async () => {
    const a = planTimeline(await loadScenario('smoke'))
    const b = planTimeline(await loadScenario('smoke'))
    expect(a).toEqual(b)
    expect(a.events.map(e => e.kind)).toEqual(['export', 'crash', 'join', 'restart', 'unexport', 'leave'])
  })
})
