// Turns a scenario and its seed into the exact plan of a run: node slots, the event sequence and every call, all from a seeded generator.

import { createPrng } from './prng.ts'
import type { Prng } from './prng.ts'
import { providerInterface } from './scenario.ts'
import type { EventSpec, NodePick, Scenario } from './scenario.ts'

/** A node position: a fixed identity, region and role that it keeps across restarts. */
export interface SlotPlan {
  readonly slot: number
  readonly region: string
  /** Started before the timeline (false: a joiner). */
  readonly initial: boolean
  /** Slots it bootstraps to. */
  readonly bootstrap: readonly number[]
  /** Indexes into scenario.services it serves from the start. */
  readonly services: readonly number[]
}

export type PlannedEvent =
  | { readonly atMs: number, readonly kind: 'crash' | 'leave' | 'restart' | 'join', readonly slot: number }
  | { readonly atMs: number, readonly kind: 'partition', readonly groups: readonly (readonly number[])[] }
  | { readonly atMs: number, readonly kind: 'heal' }
  | { readonly atMs: number, readonly kind: 'export' | 'unexport', readonly slot: number, readonly iface: string }
  /** A planned event that found no node to act on (e.g. a restart when none is down). */
  | { readonly atMs: number, readonly kind: 'skipped', readonly reason: string }

export interface PlannedCall {
  readonly atMs: number
  readonly from: number
  /** Index into scenario.workload. */
  readonly workload: number
}

export interface Plan {
  readonly seed: number
  readonly slots: readonly SlotPlan[]
  readonly events: readonly PlannedEvent[]
  readonly calls: readonly PlannedCall[]
}

type State = 'up' | 'down' | 'unborn'

/** The same scenario (including its seed) always gives the same plan. */
export function planTimeline (scenario: Scenario): Plan {
  const root = createPrng(scenario.seed)
  const slotsRng = root.fork('slots')
  const eventsRng = root.fork('events')
  const callsRng = root.fork('calls')

  const joiners = scenario.events.reduce((n, e) => n + (e.kind === 'join' ? e.count : 0), 0)
  const total = scenario.nodes + joiners
  const slots = planSlots(scenario, total, slotsRng)
  const events = planEvents(scenario, slots, eventsRng)
  const calls = planCalls(scenario, slots, events, callsRng)
  return { seed: scenario.seed, slots, events, calls }
}

function planSlots (scenario: Scenario, total: number, rng: Prng): SlotPlan[] {
  const initial = scenario.nodes
  const regions = scenario.network.regions
  const serving: number[][] = Array.from({ length: total }, () => [])
  scenario.services.forEach((s, i) => {
    let on: number[]
    if (s.on === 'all') on = Array.from({ length: total }, (_, k) => k)
    else if (typeof s.on === 'number') on = rng.sample(Array.from({ length: initial }, (_, k) => k), s.on)
    else on = [...s.on]
    for (const slot of on) serving[slot].push(i)
  })
  const t = scenario.topology
  const seeds = t.kind === 'seed' ? [0] : t.kind === 'seeds' ? Array.from({ length: t.count }, (_, k) => k) : []
  return Array.from({ length: total }, (_, slot) => {
    let bootstrap: number[]
    if (t.kind === 'random') {
      const earlier = Array.from({ length: Math.min(slot, initial) }, (_, k) => k)
      bootstrap = rng.sample(earlier, t.degree)
    } else {
      bootstrap = seeds.filter(s => s !== slot)
    }
    return { slot, region: regions[slot % regions.length].name, initial: slot < initial, bootstrap, services: serving[slot] }
  })
}

interface Pending { readonly atMs: number, readonly order: number, readonly spec: EventSpec | { kind: 'restart-of', slot: number } | { kind: 'churn-crash', downS: number } }

function planEvents (scenario: Scenario, slots: readonly SlotPlan[], rng: Prng): PlannedEvent[] {
  const state: State[] = slots.map(s => (s.initial ? 'up' : 'unborn'))
  let nextJoiner = scenario.nodes
  let order = 0
  const queue: Pending[] = []
  const push = (p: Omit<Pending, 'order'>): void => { queue.push({ ...p, order: order++ }) }

  for (const e of scenario.events) {
    if (e.kind === 'churn') {
      if (e.ratePerS <= 0) continue
      let t = e.fromS * 1000
      for (;;) {
        t += rng.exponential(1000 / e.ratePerS)
        if (t >= e.toS * 1000) break
        push({ atMs: Math.round(t), spec: { kind: 'churn-crash', downS: e.downS } })
      }
    } else {
      push({ atMs: Math.round(e.at * 1000), spec: e })
      if (e.kind === 'partition' && e.healAt !== undefined) push({ atMs: Math.round(e.healAt * 1000), spec: { kind: 'heal', at: e.healAt } })
    }
  }

  const out: PlannedEvent[] = []
  // who serves which provider interface, so that a random unexport picks a node that has it
  const exporting = new Map<string, Set<number>>()
  slots.forEach(sl => {
    for (const i of sl.services) {
      const spec = scenario.services[i]
      if (spec.component !== undefined) continue
      const id = providerInterface(spec.iface)
      if (!exporting.has(id)) exporting.set(id, new Set())
      exporting.get(id)!.add(sl.slot)
    }
  })
  const upSlots = (): number[] => state.flatMap((s, i) => (s === 'up' ? [i] : []))
  const downSlots = (): number[] => state.flatMap((s, i) => (s === 'down' ? [i] : []))
  const choose = (pick: NodePick, candidates: number[]): number | undefined => {
    if (pick === 'random') return candidates.length === 0 ? undefined : rng.pick(candidates)
    return candidates.includes(pick) ? pick : undefined
  }
  const durationMs = scenario.durationS * 1000

  while (queue.length > 0) {
    // earliest first; ties keep file order
    queue.sort((a, b) => a.atMs - b.atMs || a.order - b.order)
    const { atMs, spec } = queue.shift()!
    // a shortened run (--duration) leaves later events out
    if (atMs >= durationMs) continue
    switch (spec.kind) {
      case 'churn-crash': {
        const up = upSlots()
        // never take the last node down: there would be nobody left to measure
        if (up.length <= 1) { out.push({ atMs, kind: 'skipped', reason: 'churn: no node to crash' }); break }
        const slot = rng.pick(up)
        state[slot] = 'down'
        out.push({ atMs, kind: 'crash', slot })
        const back = atMs + Math.round(spec.downS * 1000)
        if (back < durationMs) push({ atMs: back, spec: { kind: 'restart-of', slot } })
        break
      }
      case 'restart-of':
        if (state[spec.slot] === 'down') { state[spec.slot] = 'up'; out.push({ atMs, kind: 'restart', slot: spec.slot }) }
        break
      case 'crash': case 'leave': case 'restart':
        for (let i = 0; i < spec.count; i++) {
          const slot = choose(spec.node, spec.kind === 'restart' ? downSlots() : upSlots())
          if (slot === undefined) { out.push({ atMs, kind: 'skipped', reason: `${spec.kind}: no ${spec.kind === 'restart' ? 'stopped' : 'running'} node${spec.node === 'random' ? '' : ` ${spec.node}`}` }); continue }
          state[slot] = spec.kind === 'restart' ? 'up' : 'down'
          out.push({ atMs, kind: spec.kind, slot })
        }
        break
      case 'join':
        for (let i = 0; i < spec.count; i++) {
          const slot = nextJoiner++
          state[slot] = 'up'
          out.push({ atMs, kind: 'join', slot })
        }
        break
      case 'partition': {
        let groups: number[][]
        if (typeof spec.groups === 'number') {
          const k = spec.groups
          const shuffled = rng.sample(slots.map(s => s.slot), slots.length)
          groups = Array.from({ length: k }, (_, g) => shuffled.filter((_, i) => i % k === g).sort((a, b) => a - b))
        } else {
          groups = spec.groups.map(g => [...g])
          // nodes not listed (joiners, forgotten ones) form a group of their own
          const listed = new Set(groups.flat())
          const rest = slots.map(s => s.slot).filter(s => !listed.has(s))
          if (rest.length > 0) groups.push(rest)
        }
        out.push({ atMs, kind: 'partition', groups })
        break
      }
      case 'heal':
        out.push({ atMs, kind: 'heal' })
        break
      case 'export': case 'unexport': {
        const iface = providerInterface(spec.iface)
        const have = exporting.get(iface) ?? new Set<number>()
        const candidates = spec.kind === 'export' ? upSlots() : upSlots().filter(s => have.has(s))
        const slot = choose(spec.node, candidates)
        if (slot === undefined) { out.push({ atMs, kind: 'skipped', reason: `${spec.kind}: no running node${spec.node === 'random' ? '' : ` ${spec.node}`} ${spec.kind === 'export' ? '' : `serving ${iface}`}`.trimEnd() }); break }
        if (spec.kind === 'export') have.add(slot)
        else have.delete(slot)
        exporting.set(iface, have)
        out.push({ atMs, kind: spec.kind, slot, iface })
        break
      }
      case 'churn':
        break
    }
  }
  return out
}

/** Poisson arrivals per workload; a `random` caller is a node the plan has running at that moment. */
function planCalls (scenario: Scenario, slots: readonly SlotPlan[], events: readonly PlannedEvent[], rng: Prng): PlannedCall[] {
  const arrivals: { atMs: number, workload: number }[] = []
  scenario.workload.forEach((w, i) => {
    if (w.callsPerS <= 0) return
    const end = Math.min(w.endS ?? scenario.durationS, scenario.durationS) * 1000
    let t = w.startS * 1000
    for (;;) {
      t += rng.exponential(1000 / w.callsPerS)
      if (t >= end) break
      arrivals.push({ atMs: Math.round(t), workload: i })
    }
  })
  arrivals.sort((a, b) => a.atMs - b.atMs || a.workload - b.workload)
  const up = new Set(slots.filter(s => s.initial).map(s => s.slot))
  let e = 0
  const calls: PlannedCall[] = []
  for (const a of arrivals) {
    while (e < events.length && events[e].atMs <= a.atMs) {
      const ev = events[e++]
      if (ev.kind === 'crash' || ev.kind === 'leave') up.delete(ev.slot)
      if (ev.kind === 'restart' || ev.kind === 'join') up.add(ev.slot)
    }
    const w = scenario.workload[a.workload]
    const candidates = w.from === 'random' ? [...up] : w.from.filter(s => up.has(s))
    if (candidates.length === 0) continue
    calls.push({ atMs: a.atMs, from: rng.pick(candidates), workload: a.workload })
  }
  return calls
}
