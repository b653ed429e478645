// Runs a scenario: real wasmesh nodes (createNode) over the simulated network, the planned events and calls, and every measurement of the report.

import { mkdtemp, rm } from 'node:fs/promises'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import { unversioned } from '../protocol/versions.ts'
import { createNode } from '../node/index.ts'
import type { CallEvent, LocalService, MeshNode } from '../node/index.ts'
import { silentLogger } from '../node/logger.ts'
import { emptyCounters, gossipMetrics } from './gossip-metrics.ts'
import type { GossipCounters } from './gossip-metrics.ts'
import { createSimNetwork } from './network.ts'
import type { SimNetwork } from './network.ts'
import { createPrng } from './prng.ts'
import { providerInterface } from './scenario.ts'
import type { Scenario } from './scenario.ts'
import { echoService } from './service.ts'
import { planTimeline } from './timeline.ts'
import type { PlannedEvent } from './timeline.ts'
import { installVerifyCache } from './verify-cache.ts'
import { createVirtualTime, wallNow } from './virtual-time.ts'
import type { VirtualTime } from './virtual-time.ts'
import { buildReport } from './report.ts'
import type { Report } from './report.ts'
import type { AppRecord, CallRecord, ConvergenceKind, ConvergenceRecord, EventRecord, Measurements, Sample } from './records.ts'


export interface Progress {
  readonly phase: 'starting' | 'settling' | 'running' | 'stopping'
  /** `virtual`: the nodes' clocks are the simulation's; `real`: the host's. */
  readonly mode: TimeMode
  /** Scenario time since the timeline began. */
  readonly simulatedMs: number
  readonly durationMs: number
  /** Real time since the run began. */
  readonly wallMs: number
  /** The nodes' time since the run began (setup included): simulated in virtual time, the host's in real time. */
  readonly clockMs: number
  readonly nodesUp: number
  /** Nodes that should be running now: started and not crashed, left or stopped since (`nodesUp` of them are up). */
  readonly nodesExpected: number
  /** Nodes started so far, restarts not counted twice. */
  readonly nodesStarted: number
  readonly eventsDone: number
  readonly eventsTotal: number
  readonly callsMade: number
  readonly callsFailed: number
}

/** `virtual` (the default): simulated clocks and timers; `real`: the host's (figures include the host's load). */
export type TimeMode = 'virtual' | 'real'

export interface RunOptions {
  /** Default `virtual`: every clock and timer of the nodes runs on simulated time (simulations/virtual-time.ts). */
  readonly time?: TimeMode
  /** Stops the run early; what was measured is still reported (`interrupted: true`). */
  readonly signal?: AbortSignal
  /** Called about four times a second (of wall time). */
  readonly onProgress?: (progress: Progress) => void
  /** How often progress is reported. Default 250 ms. */
  readonly progressIntervalMs?: number
  /**
   * Default true: the nodes share one cache of Ed25519 verifications (simulations/verify-cache.ts), so a
   * signature every node checks is verified once in the process. Changes no figure but the host's CPU.
   */
  readonly verifyCache?: boolean
}

type SlotState = 'unborn' | 'starting' | 'up' | 'stopping' | 'down'

interface Slot {
  readonly index: number
  readonly key: PrivateKey
  readonly peerId: string
  readonly counters: GossipCounters
  readonly services: Map<string, LocalService>
  node: MeshNode | undefined
  state: SlotState
  /** Resolves when the node's last stop finished. */
  stopped: Promise<void>
  unsubscribe: (() => void) | undefined
  /** Last time its registry changed (convergence sweeps stamp with it). */
  changedAt: number
  dirty: boolean
  /** The same for the settle loop: the sweep clears `dirty`, and a change it took must still count there. */
  settleDirty: boolean
}

interface OpenItem {
  readonly record: Omit<ConvergenceRecord, 'convergedMs' | 'reflected' | 'nodes'>
  readonly pending: Set<number>
  readonly check: (slot: Slot) => boolean
  /** Cheap checks run on every registry change; the others in a sweep every 50 ms. */
  readonly cheap: boolean
  nodes: number
  reflected: number
  lastMs: number
}

const SWEEP_MS = 50
const CALL_TICK_MS = 5
/** How often apps' running replicas are counted (the resolution of their times). */
const APP_TICK_MS = 100
const END_GRACE_MS = 3_000

let runCounter = 0

/** Runs the scenario and returns the report (also when interrupted through `opts.signal`). */
export async function runSimulation (scenario: Scenario, opts: RunOptions = {}): Promise<Report> {
  return buildReport(await measure(scenario, opts))
}

/**
 * Runs the scenario and returns the raw measurements. In virtual time (the default) the whole run, from the
 * first node's creation to the last one's stop, happens inside the virtual clock; `Math.random` and
 * `crypto.getRandomValues` draw from the scenario's seed meanwhile, so the same seed gives the same run.
 */
export async function measure (scenario: Scenario, opts: RunOptions = {}): Promise<Measurements> {
  const cache = opts.verifyCache === false ? undefined : await installVerifyCache()
  try {
    return await measureTimed(scenario, opts)
  } finally {
    cache?.uninstall()
  }
}

async function measureTimed (scenario: Scenario, opts: RunOptions): Promise<Measurements> {
  const mode = opts.time ?? 'virtual'
  if (mode === 'real') return await measureIn(scenario, opts, undefined)
  const root = createPrng(scenario.seed)
  let report: (() => void) | undefined
  const vt = createVirtualTime({
    random: root.fork('math-random').next,
    randomBytes: root.fork('random-bytes').bytes,
    onWall: () => { report?.() },
    wallIntervalMs: opts.progressIntervalMs ?? 250
  })
  return await vt.run(async () => await measureIn(scenario, opts, vt, p => { report = p }))
}

async function measureIn (scenario: Scenario, opts: RunOptions, vt: VirtualTime | undefined, onWall?: (progress: () => void) => void): Promise<Measurements> {
  const wallStart = wallNow()
  const runStart = performance.now()
  const plan = planTimeline(scenario)
  const root = createPrng(scenario.seed)
  const idRng = root.fork('identities')
  // in virtual time the addresses are the same from run to run (their length is in every byte count); one
  // virtual run at a time per process, so they cannot collide
  const runId = vt !== undefined ? `vsim${String(++runCounter).padStart(6, '0')}` : `sim${process.pid}x${++runCounter}`
  const net: SimNetwork = createSimNetwork({
    model: scenario.network,
    rng: root.fork('network'),
    regionOf: slot => plan.slots[slot]?.region ?? '',
    runId
  })
  const needsRuntime = scenario.services.some(s => s.component !== undefined)
  const cacheDir = needsRuntime ? await mkdtemp(join(tmpdir(), 'wasmesh-sim-')) : undefined

  const slots: Slot[] = []
  for (const p of plan.slots) {
    const key = await generateKeyPairFromSeed('Ed25519', idRng.bytes(32))
    const peerId = peerIdFromPrivateKey(key).toString()
    net.register(p.slot, peerId)
    slots.push({ index: p.slot, key, peerId, counters: emptyCounters(), services: new Map(), node: undefined, state: 'unborn', stopped: Promise.resolve(), unsubscribe: undefined, changedAt: 0, dirty: false, settleDirty: false })
  }

  const signal = opts.signal
  const aborted = (): boolean => signal?.aborted === true
  let phase: Progress['phase'] = 'starting'
  let t0 = Number.POSITIVE_INFINITY
  const now = (): number => performance.now()
  const rel = (): number => Math.max(0, now() - t0)
  const durationMs = scenario.durationS * 1000

  const calls: CallRecord[] = []
  const attempts: number[] = []
  const events: EventRecord[] = []
  const convergence: ConvergenceRecord[] = []
  const open = new Set<OpenItem>()
  const samples: Sample[] = []
  const partitions: { fromMs: number, toMs: number | null, groups: readonly (readonly number[])[] }[] = []
  let callsSkipped = 0
  let callsCut = 0
  let callsFailed = 0
  let itemIds = 0
  const inflight = new Set<{ controller: AbortController, done: Promise<void> }>()
  const background = new Set<Promise<void>>()

  const upSlots = (): Slot[] => slots.filter(s => s.state === 'up')

  // ---- apps ----
  type Recovery = { fromMs: number, ms: number | null, low: number }
  type AppTrack = { -readonly [K in Exclude<keyof AppRecord, 'recoveries' | 'error'>]: AppRecord[K] } & { recoveries: Recovery[], lastMs?: number, error?: string }
  const appTracks: AppTrack[] = []
  /** Replicas of `app` (every app when undefined) running now on the nodes up, of whatever version. */
  const appReplicas = (app?: string): number => upSlots().reduce((n, s) => n + (s.node?.apps.local() ?? []).filter(e => e.problem === undefined && (app === undefined || e.app === app)).reduce((a, e) => a + e.running, 0), 0)
  const checkApps = (): void => {
    const t = rel()
    for (const a of appTracks) {
      if (a.desired === null) continue
      const running = appReplicas(a.app)
      const dt = a.lastMs === undefined ? 0 : t - a.lastMs
      a.lastMs = t
      if (a.fullMs === null) {
        if (running >= a.desired) a.fullMs = Math.round(t - a.atMs)
        continue
      }
      const open = a.recoveries.at(-1)
      if (running < a.desired) {
        a.belowFullMs += dt
        a.minAfterFull = Math.min(a.minAfterFull ?? running, running)
        if (open === undefined || open.ms !== null) a.recoveries.push({ fromMs: Math.round(t), ms: null, low: running })
        else open.low = Math.min(open.low, running)
      } else if (open !== undefined && open.ms === null) {
        open.ms = Math.round(t - open.fromMs)
      }
      if (a.minAfterFull === null) a.minAfterFull = running
    }
  }
  const serving = (iface: string): Slot[] => upSlots().filter(s => [...s.services.values()].some(svc => svc.interfaces.some(i => i.id === iface)))

  // ---- convergence ----
  const finish = (item: OpenItem, superseded = false): void => {
    open.delete(item)
    convergence.push({
      ...item.record,
      convergedMs: item.pending.size === 0 && !superseded ? Math.round(Math.max(0, item.lastMs - item.record.atMs) * 100) / 100 : null,
      nodes: item.nodes,
      reflected: item.reflected,
      ...(superseded ? { superseded } : {})
    })
  }
  const reflect = (item: OpenItem, slot: Slot, at: number): void => {
    if (!item.pending.has(slot.index)) return
    if (!item.check(slot)) return
    item.pending.delete(slot.index)
    item.reflected++
    item.lastMs = Math.max(item.lastMs, at)
    if (item.pending.size === 0) finish(item)
  }
  const track = (kind: ConvergenceKind, who: Slot[], check: (s: Slot) => boolean, extra: { slot?: number, iface?: string, cheap?: boolean, atMs?: number } = {}): void => {
    const atMs = extra.atMs ?? rel()
    const item: OpenItem = {
      record: { id: itemIds++, kind, atMs, ...(extra.slot !== undefined ? { slot: extra.slot } : {}), ...(extra.iface !== undefined ? { iface: extra.iface } : {}) },
      pending: new Set(who.map(s => s.index)),
      check,
      cheap: extra.cheap ?? true,
      nodes: who.length,
      reflected: 0,
      lastMs: atMs
    }
    open.add(item)
    const at = rel()
    for (const s of who) reflect(item, s, at)
    if (item.pending.size === 0 && open.has(item)) finish(item)
  }
  /** A node went away: it no longer has to reflect anything. */
  const release = (slot: Slot): void => {
    for (const item of [...open]) {
      if (item.pending.delete(slot.index)) {
        item.nodes--
        if (item.pending.size === 0) finish(item)
      }
    }
  }
  const onChange = (slot: Slot): void => {
    const at = rel()
    slot.changedAt = at
    slot.dirty = true
    slot.settleDirty = true
    for (const item of [...open]) if (item.cheap) reflect(item, slot, at)
  }
  const sweep = (): void => {
    for (const slot of slots) {
      if (!slot.dirty || slot.state !== 'up') continue
      slot.dirty = false
      for (const item of [...open]) if (!item.cheap) reflect(item, slot, slot.changedAt)
    }
  }

  const knowsPeer = (s: Slot, other: Slot): boolean => s === other || s.node?.peer(other.peerId) !== undefined
  const servesHere = (s: Slot, exporter: Slot, iface: string): boolean =>
    (s.node?.servers(iface, { peer: exporter.peerId }) ?? []).some(v => v.iface === iface)

  // ---- nodes ----
  const observer = (slot: Slot) => ({
    call (e: CallEvent) {
      if (e.direction === 'outbound' && e.attempts !== undefined && slot.state !== 'unborn') attempts.push(e.attempts)
    }
  })

  const addressOf = (i: number): string => `${net.address(i)}/p2p/${slots[i].peerId}`

  async function startSlot (slot: Slot): Promise<void> {
    await slot.stopped
    const p = plan.slots[slot.index]
    slot.state = 'starting'
    net.up(slot.index)
    const hb = scenario.gossipsub.heartbeatIntervalMs
    const node = await createNode({
      privateKey: slot.key,
      customTransport: net.transport(slot.index),
      listen: [net.address(slot.index)],
      bootstrap: p.bootstrap.map(addressOf),
      encryption: scenario.encryption,
      labels: { region: p.region, slot: String(slot.index) },
      timings: scenario.timings,
      gossipsub: {
        ...(scenario.gossipsub.D !== undefined ? { D: scenario.gossipsub.D } : {}),
        ...(scenario.gossipsub.Dlo !== undefined ? { Dlo: scenario.gossipsub.Dlo } : {}),
        ...(scenario.gossipsub.Dhi !== undefined ? { Dhi: scenario.gossipsub.Dhi } : {}),
        ...(hb !== undefined ? { heartbeatInterval: hb } : {}),
        ...gossipMetrics(slot.counters)
      },
      cacheDir,
      logger: silentLogger,
      observer: observer(slot)
    })
    slot.node = node
    // a restarted node serves what it served before it went down
    if (slot.services.size === 0) {
      for (const i of p.services) {
        const spec = scenario.services[i]
        if (spec.component === undefined) slot.services.set(providerInterface(spec.iface), echoService(spec.iface, spec.capacity))
      }
    }
    for (const svc of slot.services.values()) node.serve(svc)
    slot.unsubscribe = node.on('change', () => { onChange(slot) })
    await node.start()
    for (const i of p.services) {
      const spec = scenario.services[i]
      if (spec.component !== undefined) await node.load({ source: spec.component, limits: { maxInstances: spec.capacity } })
    }
    slot.state = 'up'
  }

  function stopSlot (slot: Slot, how: 'crash' | 'leave' | 'end'): Promise<void> {
    const node = slot.node
    if (how === 'crash') net.down(slot.index)
    slot.state = how === 'leave' ? 'stopping' : 'down'
    slot.unsubscribe?.()
    slot.unsubscribe = undefined
    release(slot)
    const done = (async () => {
      try {
        await node?.stop(how === 'leave' ? { drainTimeoutMs: 1_000 } : {})
      } catch {}
      slot.state = 'down'
      slot.node = undefined
      net.down(slot.index)
    })()
    slot.stopped = done
    return done
  }

  async function inBatches (items: Slot[], n: number, fn: (s: Slot) => Promise<void>): Promise<void> {
    let next = 0
    const workers = Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length && !aborted()) await fn(items[next++])
    })
    await Promise.all(workers)
  }

  // ---- progress ----
  let eventsDone = 0
  const progress = (): void => {
    opts.onProgress?.({
      phase,
      mode: vt !== undefined ? 'virtual' : 'real',
      simulatedMs: Math.min(durationMs, rel()),
      durationMs,
      wallMs: wallNow() - wallStart,
      clockMs: now() - runStart,
      nodesUp: upSlots().length,
      nodesExpected: slots.filter(s => s.state === 'up' || s.state === 'starting').length,
      nodesStarted: slots.filter(s => s.state !== 'unborn').length,
      eventsDone,
      eventsTotal: plan.events.length,
      callsMade: calls.length + inflight.size,
      callsFailed
    })
  }
  // in virtual time progress follows the wall clock (the virtual loop calls it), not simulated time
  const progressTimer = vt === undefined ? setInterval(progress, opts.progressIntervalMs ?? 250) : undefined
  onWall?.(progress)
  const sweepTimer = setInterval(sweep, SWEEP_MS)

  const loopDelay = monitorEventLoopDelay({ resolution: 10 })
  const baseline = memoryAfterGc()
  const cpuSetupStart = process.cpuUsage()
  let cpuSetup: NodeJS.CpuUsage = { user: 0, system: 0 }
  let startMs = 0
  let afterStart = baseline
  let setupConvergedMs: number | null = null
  let knowingAll = 0
  let cpuRun: NodeJS.CpuUsage = { user: 0, system: 0 }
  let simulatedMs = 0
  let timelineWallStart = Number.NaN
  let timelineWallMs = 0
  let setupWallMs = 0
  const timers = new Set<ReturnType<typeof setTimeout>>()

  try {
    // ---- start the initial mesh ----
    const initial = slots.filter(s => plan.slots[s.index].initial)
    const seeds = new Set(plan.slots.flatMap(p => (p.initial ? p.bootstrap : [])))
    const ordered = [...initial.filter(s => seeds.has(s.index)), ...initial.filter(s => !seeds.has(s.index))]
    const setupStart = now()
    await inBatches(ordered, scenario.startConcurrency, startSlot)
    startMs = now() - setupStart
    phase = 'settling'
    // a phase change is reported at once: in virtual time a phase can be over before the next wall-clock report
    if (vt !== undefined) progress()
    // the mesh has converged when every node knows every other node's advert; each node's list of peers
    // it does not know yet only shrinks, and is looked at again only when its registry changed
    const unknown = new Map(initial.map(s => [s, new Set(initial.filter(o => o !== s))]))
    const deadline = now() + scenario.settleS * 1000
    for (const s of initial) s.settleDirty = true
    while (!aborted() && now() < deadline) {
      for (const [s, missing] of unknown) {
        if (!s.settleDirty) continue
        s.settleDirty = false
        for (const o of missing) if (knowsPeer(s, o)) missing.delete(o)
        if (missing.size === 0) unknown.delete(s)
      }
      knowingAll = initial.length - unknown.size
      if (unknown.size === 0) { setupConvergedMs = now() - setupStart; break }
      await sleep(100)
    }
    afterStart = memoryAfterGc()

    // ---- the timeline (none when stopped before it) ----
    const timeline = !aborted()
    phase = timeline ? 'running' : 'stopping'
    if (vt !== undefined) progress()
    cpuSetup = process.cpuUsage(cpuSetupStart)
    const cpuRunStart = process.cpuUsage()
    loopDelay.enable()
    t0 = now()
    timelineWallStart = wallNow()
    setupWallMs = timelineWallStart - wallStart
    const sample = (): void => {
      const up = upSlots()
      samples.push({ t: rel(), nodesUp: up.length, ...(scenario.apps.length > 0 ? { appReplicas: appReplicas() } : {}), gossip: sumCounters(slots), sentBytes: sumTraffic(net, slots).sentBytes, connections: connectionsOf(up).reduce((a, b) => a + b, 0) })
    }
    sample()
    const sampleTimer = setInterval(sample, 1_000)
    timers.add(sampleTimer as unknown as ReturnType<typeof setTimeout>)

    const runEvent = async (e: PlannedEvent): Promise<void> => {
      const began = rel()
      let error: string | undefined
      let detail: string | undefined
      const slot = 'slot' in e ? slots[e.slot] : undefined
      try {
        switch (e.kind) {
          case 'crash': {
            const s = slot!
            if (s.state !== 'up' && s.state !== 'starting') { detail = `node ${s.index} was not running`; break }
            const p = stopSlot(s, 'crash')
            background.add(p)
            void p.finally(() => background.delete(p))
            const others = upSlots()
            track('crash-forgotten', others, o => !knowsPeer(o, s), { slot: s.index, cheap: false })
            break
          }
          case 'leave': {
            const s = slot!
            if (s.state !== 'up') { detail = `node ${s.index} was not running`; break }
            // a graceful leave withdraws: every node forgets it (and so its exports) at once
            track('leave', upSlots().filter(o => o !== s), o => !knowsPeer(o, s), { slot: s.index })
            await stopSlot(s, 'leave')
            break
          }
          case 'restart': case 'join': {
            const s = slot!
            const began2 = rel()
            for (const item of [...open]) if (item.record.kind === 'crash-forgotten' && item.record.slot === s.index) finish(item, true)
            const ifaces = s.services.size > 0
              ? [...s.services.keys()]
              : plan.slots[s.index].services.map(i => scenario.services[i]).filter(x => x.component === undefined).map(x => providerInterface(x.iface))
            // its exports appearing is an export change every running node must see; its adverts' seq starts at
            // the wall clock of its start, so an advert at or above it is the new one, not the crashed node's last
            const since = BigInt(Date.now())
            const fresh = (o: Slot): boolean => o === s || ((o.node?.peer(s.peerId)?.seq ?? -1n) >= since && ifaces.every(i => servesHere(o, s, i)))
            if (ifaces.length > 0) track(e.kind, upSlots(), fresh, { slot: s.index, atMs: began2 })
            await startSlot(s)
            const others = upSlots().filter(o => o !== s)
            // a new node knows the mesh once it has every running node's advert
            track('learn-mesh', [s], n => others.every(o => o.state !== 'up' || !net.reachable(n.index, o.index) || knowsPeer(n, o)), { slot: s.index, atMs: began2, cheap: false })
            break
          }
          case 'partition':
            net.partition(e.groups)
            partitions.push({ fromMs: began, toMs: null, groups: e.groups })
            detail = e.groups.map(g => g.length).join(' | ')
            break
          case 'heal': {
            const p = partitions.findLast(x => x.toMs === null)
            const sideOf = new Map<number, number>()
            p?.groups.forEach((g, i) => { for (const x of g) sideOf.set(x, i) })
            net.heal()
            if (p !== undefined) p.toMs = began
            // reconverged once every running node holds an advert it received after the heal from every
            // running node that was on another side (what it held from before may be stale or expired)
            const healedAt = rel()
            const fresh = (n: Slot, o: Slot): boolean => {
              const age = n.node?.peer(o.peerId)?.ageMs
              return age !== undefined && age <= rel() - healedAt
            }
            track('heal', upSlots(), n => upSlots().every(o => o === n || sideOf.get(o.index) === sideOf.get(n.index) || fresh(n, o)), { cheap: false })
            break
          }
          case 'export': {
            const s = slot!
            if (s.state !== 'up' || s.node === undefined) { detail = `node ${s.index} was not running`; break }
            const name = unversioned(e.iface).split('/')[1]
            const svc = echoService(name, 64)
            s.services.set(e.iface, svc)
            s.node.serve(svc)
            track('export', upSlots(), o => servesHere(o, s, e.iface), { slot: s.index, iface: e.iface, atMs: began })
            break
          }
          case 'unexport': {
            const s = slot!
            const svc = s.services.get(e.iface)
            if (s.state !== 'up' || s.node === undefined || svc === undefined) { detail = `node ${s.index} does not serve ${e.iface}`; break }
            s.services.delete(e.iface)
            s.node.unserve(svc.digest)
            track('unexport', upSlots(), o => !servesHere(o, s, e.iface), { slot: s.index, iface: e.iface, atMs: began })
            break
          }
          case 'skipped':
            detail = e.reason
            break
        }
      } catch (err) {
        error = (err as Error).message
      }
      eventsDone++
      events.push({ atMs: e.atMs, doneMs: rel(), kind: e.kind, ...(slot !== undefined ? { slot: slot.index } : {}), ...(detail !== undefined ? { detail } : {}), ...(error !== undefined ? { error } : {}) })
    }

    // Events of one node run in order (a restart waits for the crash before it); others run concurrently.
    const chains = new Map<string, Promise<void>>()
    for (const e of plan.events) {
      const timer = setTimeout(() => {
        timers.delete(timer)
        if (aborted()) return
        const key = 'slot' in e ? `slot${e.slot}` : 'net'
        const chained = (chains.get(key) ?? Promise.resolve()).then(async () => { await runEvent(e) })
        chains.set(key, chained)
        background.add(chained)
        void chained.finally(() => background.delete(chained))
      }, e.atMs)
      timers.add(timer)
    }

    // ---- apps: deployed from a node, their running replicas counted on every node up ----
    for (const spec of scenario.apps) {
      const timer = setTimeout(() => {
        timers.delete(timer)
        if (aborted()) return
        const p = (async () => {
          const at = rel()
          const node = slots[spec.from].node
          const track: AppTrack = { app: spec.name, atMs: at, desired: null, fullMs: null, minAfterFull: null, belowFullMs: 0, recoveries: [] }
          appTracks.push(track)
          try {
            if (node === undefined || slots[spec.from].state !== 'up') throw new Error(`node ${spec.from} is not running`)
            await node.apps.deploy(spec.manifest)
            track.desired = node.apps.status(spec.name).components.reduce((n, c) => n + c.desired, 0)
          } catch (err) {
            track.error = (err as Error).message
          }
        })()
        background.add(p)
        void p.finally(() => background.delete(p))
      }, spec.at * 1000)
      timers.add(timer)
    }
    const appTimer = setInterval(checkApps, APP_TICK_MS)
    timers.add(appTimer as unknown as ReturnType<typeof setTimeout>)

    // ---- the workload ----
    let nextCall = 0
    const issue = (): void => {
      const t = rel()
      while (nextCall < plan.calls.length && plan.calls[nextCall].atMs <= t) {
        const c = plan.calls[nextCall++]
        const from = slots[c.from]
        const w = scenario.workload[c.workload]
        const node = from.node
        if (from.state !== 'up' || node === undefined) { callsSkipped++; continue }
        const args = w.args !== undefined ? [...w.args] : [new Uint8Array(w.payloadBytes)]
        const controller = new AbortController()
        const began = now()
        const startT = rel()
        const group = net.groupOf(from.index)
        const entry = {
          controller,
          done: (async () => {
            let ok = true
            let code = 'ok'
            try {
              await node.call(w.iface, w.func, args, { signal: controller.signal })
            } catch (err) {
              ok = false
              const c2 = (err as { code?: unknown }).code
              code = typeof c2 === 'string' ? c2 : 'internal'
            }
            // cut by the end of the run, or by its own node stopping under it: not the mesh's doing
            if (controller.signal.aborted || from.node !== node || from.state !== 'up') { callsCut++; return }
            if (!ok) callsFailed++
            const liveServer = serving(w.iface).some(s => s === from || net.reachable(from.index, s.index))
            calls.push({ t: Math.round(startT * 10) / 10, from: from.index, iface: w.iface, ok, code, latencyMs: Math.round((now() - began) * 100) / 100, liveServer, group })
          })()
        }
        inflight.add(entry)
        void entry.done.finally(() => inflight.delete(entry))
      }
    }
    const callTimer = setInterval(issue, CALL_TICK_MS)
    timers.add(callTimer as unknown as ReturnType<typeof setTimeout>)

    // a stop requested while starting or settling ends the run here: an abort event that has already fired never fires again
    await new Promise<void>(resolve => {
      if (aborted()) { resolve(); return }
      const end = setTimeout(resolve, durationMs)
      signal?.addEventListener('abort', () => { clearTimeout(end); resolve() }, { once: true })
    })
    simulatedMs = timeline ? rel() : 0
    timelineWallMs = timeline ? wallNow() - timelineWallStart : 0
    loopDelay.disable()
    phase = 'stopping'
    clearInterval(callTimer)
    checkApps()
    for (const t of timers) clearTimeout(t)
    timers.clear()
    clearInterval(sampleTimer)
    sweep()
    sample()
    // calls still in flight get a grace period, then are cut (and not counted)
    await within(END_GRACE_MS, Promise.all([...inflight].map(async e => { await e.done })))
    for (const e of inflight) e.controller.abort(new Error('the simulation ended'))
    await Promise.all([...inflight].map(async e => { await e.done }))
    await within(10_000, Promise.allSettled([...background]))
    cpuRun = process.cpuUsage(cpuRunStart)
  } finally {
    loopDelay.disable()
    if (progressTimer !== undefined) clearInterval(progressTimer)
    clearInterval(sweepTimer)
    for (const t of timers) clearTimeout(t)
  }

  sweep()
  for (const item of [...open]) finish(item)
  const up = upSlots()
  const connections = connectionsOf(up)
  const atEnd = process.memoryUsage()
  phase = 'stopping'
  progress()
  // stop everything, a batch at a time, whatever state it is in
  await Promise.allSettled([...background])
  await inBatchesAll(slots.filter(s => s.node !== undefined), 32, async s => { await stopSlot(s, 'end') })
  if (cacheDir !== undefined) await rm(cacheDir, { recursive: true, force: true })

  const traffic = sumTraffic(net, slots)
  return {
    scenario,
    plan,
    interrupted: aborted(),
    mode: vt !== undefined ? 'virtual' : 'real',
    setup: {
      startMs: Math.round(startMs),
      timelineAtMs: Math.round(Number.isFinite(timelineWallStart) ? setupWallMs : wallNow() - wallStart),
      simulatedSetupMs: Math.round((Number.isFinite(t0) ? t0 : now()) - runStart),
      meshConvergedMs: setupConvergedMs === null ? null : Math.round(setupConvergedMs),
      knowingAll
    },
    simulatedMs: Math.round(simulatedMs),
    timelineWallMs: Math.round(timelineWallMs),
    wallMs: Math.round(wallNow() - wallStart),
    ...(vt !== undefined ? { virtual: { timersFired: vt.stats.timersFired, turns: vt.stats.turns, ioWaits: vt.stats.ioWaits } } : {}),
    events,
    calls,
    callsSkipped,
    callsCut,
    attempts,
    convergence: convergence.sort((a, b) => a.id - b.id),
    samples,
    connections,
    traffic,
    gossip: sumCounters(slots),
    memory: { baseline, afterStart, atEnd, nodes: plan.slots.filter(s => s.initial).length },
    cpu: { setup: cpuSetup, run: cpuRun },
    partitions,
    apps: appTracks.map(({ lastMs: _, ...a }) => ({ ...a, belowFullMs: Math.round(a.belowFullMs) })),
    eventLoopDelayMs: {
      p50: loopDelay.count > 0 ? Math.round(loopDelay.percentile(50) / 1e4) / 100 : 0,
      p99: loopDelay.count > 0 ? Math.round(loopDelay.percentile(99) / 1e4) / 100 : 0,
      max: loopDelay.count > 0 ? Math.round(loopDelay.max / 1e4) / 100 : 0
    }
  }
}

let gc: (() => void) | undefined

/** Memory after a full collection, so that per-node figures are live objects, not garbage not yet collected. */
function memoryAfterGc (): NodeJS.MemoryUsage {
  if (gc === undefined) {
    // the harness cannot choose node's flags (npx node, vitest): expose gc for this isolate the documented way round
    setFlagsFromString('--expose-gc')
    gc = runInNewContext('gc') as () => void
  }
  gc()
  return process.memoryUsage()
}

async function inBatchesAll<T> (items: T[], n: number, fn: (t: T) => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, async () => {
    while (next < items.length) await fn(items[next++])
  }))
}

function sumCounters (slots: readonly Slot[]): GossipCounters {
  const total = emptyCounters()
  for (const s of slots) for (const k of Object.keys(total) as (keyof GossipCounters)[]) total[k] += s.counters[k]
  return total
}

function sumTraffic (net: SimNetwork, slots: readonly Slot[]): { sentBytes: number, sentChunks: number, retransmitted: number, refusedDials: number } {
  const total = { sentBytes: 0, sentChunks: 0, retransmitted: 0, refusedDials: 0 }
  for (const s of slots) {
    const t = net.traffic(s.index)
    total.sentBytes += t.sentBytes
    total.sentChunks += t.sentChunks
    total.retransmitted += t.retransmitted
    total.refusedDials += t.refusedDials
  }
  return total
}

function connectionsOf (slots: readonly Slot[]): number[] {
  return slots.map(s => s.node?.connections().length ?? 0)
}

function sleep (ms: number): Promise<void> {
  return new Promise(resolve => { setTimeout(resolve, ms) })
}

/**
 * Waits for `p` but at most `ms`, and clears its timer either way: a bare `race` with a sleep kept the
 * process alive for the rest of the sleep after the report was written (10 s after every run).
 */
async function within (ms: number, p: Promise<unknown>): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined
  try {
    await Promise.race([p, new Promise<void>(resolve => { timer = setTimeout(resolve, ms) })])
  } finally {
    clearTimeout(timer)
  }
}
