// Runs this node's share of every app: starts what placement gives it, and stops what it no longer has once the new owners run it (make before break).

import type { Logger } from '../logger.ts'
import type { AppComponent, AppManifest } from './manifest.ts'
import { placeApp } from './placement.ts'
import type { Host } from './placement.ts'
import type { SignedAppRecord } from './record.ts'
import type { ReplicaEntry, ReplicaProblem } from './status.ts'

/** One replica set this node was given: an app's component at one version, with how many replicas. */
export interface Assignment {
  readonly record: SignedAppRecord
  readonly manifest: AppManifest
  readonly component: AppComponent
  readonly count: number
  /** What makes a running copy reusable: the same fingerprint needs no restart when only the version or count changed. */
  readonly fingerprint: string
}

/** A started replica set: how to stop it. */
export interface Started {
  stop (): Promise<void>
}

/** Starting failed with a problem `app status` can name. */
export class StartProblem extends Error {
  readonly problem: ReplicaProblem
  constructor (problem: ReplicaProblem, message: string) {
    super(message)
    this.problem = problem
  }
}

export interface ReconcilerTimings {
  /** A replica this node no longer has keeps running until its new owners advertise it, at most this long. */
  readonly appHandoverTimeoutMs: number
  /** A replica that failed to start is tried again after this long (sooner if its manifest changes). */
  readonly appRetryFailedMs: number
}

export interface ReconcilerInit {
  readonly self: string
  readonly log: Logger
  readonly timings: ReconcilerTimings
  /** The records of the apps deployed now (no tombstones), with their parsed manifests. */
  readonly apps: () => ReadonlyArray<{ readonly record: SignedAppRecord, readonly manifest: AppManifest }>
  /** The hosts placement counts now (this node among them when it hosts at all). */
  readonly hosts: () => readonly Host[]
  /** Replicas the other peers advertise running, by `app/component@id`. */
  readonly advertised: () => ReadonlyMap<string, number>
  readonly start: (a: Assignment) => Promise<Started>
  /** This node's replicas changed: advertise them. */
  readonly changed: () => void
}

interface Local {
  readonly key: string
  a: Assignment
  state: 'starting' | 'running' | 'failed' | 'stopping'
  problem?: ReplicaProblem
  failedAt?: number
  started?: Started
  /** When it stopped being this node's (draining only). */
  undesiredSince?: number
  /** Draining because a changed copy replaces it here. */
  replacedBy?: Local
}

export interface Reconciler {
  /** Runs one pass (passes never overlap; one asked for during a pass runs after it). */
  run (): Promise<void>
  /** What this node runs, for its advert. */
  entries (): ReplicaEntry[]
  /** Stops every replica; passes stop until `open`. */
  stopAll (): Promise<void>
  /** Lets passes run again (a node started again after a stop). */
  open (): void
  /** Counters: replica sets started and stopped since creation (settling tests read them). */
  readonly counts: { started: number, stopped: number }
}

export function createReconciler (init: ReconcilerInit): Reconciler {
  const current = new Map<string, Local>()
  const draining = new Set<Local>()
  const counts = { started: 0, stopped: 0 }
  let running: Promise<void> | undefined
  let again = false
  let closed = false

  function startLocal (l: Local): void {
    l.state = 'starting'
    counts.started++
    init.start(l.a).then(started => {
      l.started = started
      if (closed || l.state === 'stopping') { void stopLocal(l); return }
      l.state = 'running'
      l.problem = undefined
      init.changed()
      void api.run()
    }, (err: unknown) => {
      l.state = 'failed'
      l.problem = err instanceof StartProblem ? err.problem : 'load-failed'
      l.failedAt = performance.now()
      init.log.warn(`app ${l.a.record.record.app}: ${l.a.component.name} did not start here: ${(err as Error).message}`)
      init.changed()
      void api.run()
    })
  }

  async function stopLocal (l: Local): Promise<void> {
    const wasStarting = l.state === 'starting'
    l.state = 'stopping'
    draining.delete(l)
    if (current.get(l.key) === l) current.delete(l.key)
    // A start still under way is stopped when it ends (startLocal sees 'stopping').
    if (wasStarting && l.started === undefined) return
    const s = l.started
    l.started = undefined
    if (s === undefined) return
    counts.stopped++
    try {
      await s.stop()
    } catch (err) {
      init.log.warn(`app ${l.a.record.record.app}: stopping ${l.a.component.name} failed: ${(err as Error).message}`)
    }
    init.changed()
  }

  // Placement is a pure function of the record and the hosts: a pass whose hosts did not change reuses it.
  const placements = new Map<string, ReturnType<typeof placeApp>>()
  let placementsOf = ''
  function placementOf (record: SignedAppRecord, manifest: AppManifest, hosts: readonly Host[], hostsKey: string): ReturnType<typeof placeApp> {
    if (hostsKey !== placementsOf) { placements.clear(); placementsOf = hostsKey }
    let p = placements.get(record.id)
    if (p === undefined) { p = placeApp(manifest, hosts); placements.set(record.id, p) }
    return p
  }

  function pass (): void {
    const now = performance.now()
    const hosts = init.hosts()
    const hostsKey = JSON.stringify(hosts.map(h => [h.peer, h.labels]))
    const place = (record: SignedAppRecord, manifest: AppManifest): ReturnType<typeof placeApp> => placementOf(record, manifest, hosts, hostsKey)
    const desired = new Map<string, Assignment>()
    const liveApps = new Set<string>()
    for (const { record, manifest } of init.apps()) {
      liveApps.add(record.record.app)
      const placement = place(record, manifest)
      for (const c of manifest.components) {
        const n = placement.get(c.name)?.hosts.get(init.self) ?? 0
        if (n === 0) continue
        desired.set(`${record.record.app}/${c.name}`, { record, manifest, component: c, count: n, fingerprint: fingerprintOf(c) })
      }
    }
    for (const [key, l] of current) {
      const d = desired.get(key)
      if (d === undefined) {
        current.delete(key)
        l.undesiredSince = now
        draining.add(l)
      } else if (d.fingerprint !== l.a.fingerprint) {
        // Changed in place (a new image or config): the new copy starts, the old one goes once it runs. Same
        // image, other config: the old goes first, since both would be the same digest.
        current.delete(key)
        const next: Local = { key, a: d, state: 'starting' }
        current.set(key, next)
        if (d.component.source === l.a.component.source) void stopLocal(l)
        else { l.undesiredSince = now; l.replacedBy = next; draining.add(l) }
        startLocal(next)
      } else {
        if (l.a.record.id !== d.record.id || l.a.count !== d.count) { l.a = d; init.changed() }
        if (l.state === 'failed' && now - (l.failedAt ?? 0) >= init.timings.appRetryFailedMs) startLocal(l)
      }
    }
    for (const [key, d] of desired) {
      if (current.has(key)) continue
      const l: Local = { key, a: d, state: 'starting' }
      current.set(key, l)
      startLocal(l)
    }
    const advertised = init.advertised()
    for (const l of [...draining]) {
      const app = l.a.record.record.app
      if (!liveApps.has(app)) { void stopLocal(l); continue }
      if (l.replacedBy !== undefined) {
        if (l.replacedBy.state !== 'starting' || now - (l.undesiredSince ?? now) >= init.timings.appHandoverTimeoutMs) void stopLocal(l)
        continue
      }
      // Make before break: the component's replicas of the app's current version, run elsewhere, cover what it asks for.
      const latest = init.apps().find(x => x.record.record.app === app)
      const want = latest === undefined ? 0 : (place(latest.record, latest.manifest).get(l.a.component.name)?.desired ?? 0)
      const have = latest === undefined ? 0 : (advertised.get(`${app}/${l.a.component.name}@${latest.record.id}`) ?? 0) + (current.get(l.key)?.state === 'running' ? (current.get(l.key)?.a.count ?? 0) : 0)
      if (have >= want || now - (l.undesiredSince ?? now) >= init.timings.appHandoverTimeoutMs) void stopLocal(l)
    }
  }

  const api: Reconciler = {
    counts,
    async run () {
      if (closed) return
      if (running !== undefined) { again = true; return await running }
      running = (async () => {
        do {
          again = false
          try {
            pass()
          } catch (err) {
            init.log.warn(`apps: reconcile failed: ${(err as Error).message}`)
          }
        } while (again && !closed)
      })()
      try { await running } finally { running = undefined }
    },
    entries () {
      const out: ReplicaEntry[] = []
      for (const l of [...current.values(), ...draining]) {
        if (l.state === 'stopping') continue
        const base = { app: l.a.record.record.app, component: l.a.component.name, id: l.a.record.id }
        if (l.state === 'running') out.push({ ...base, running: l.a.count })
        else out.push({ ...base, running: 0, problem: l.state === 'starting' ? 'starting' : (l.problem ?? 'load-failed') })
      }
      // One entry per app/component/version: a draining copy and its replacement of the same version are one.
      const seen = new Map<string, ReplicaEntry>()
      for (const e of out) {
        const k = `${e.app}/${e.component}@${e.id}`
        const prev = seen.get(k)
        if (prev === undefined || (prev.problem !== undefined && e.problem === undefined)) seen.set(k, e)
      }
      return [...seen.values()]
    },
    open () { closed = false },
    async stopAll () {
      closed = true
      await running
      await Promise.all([...current.values(), ...draining].map(stopLocal))
    }
  }
  return api
}

/** What about a component makes a running copy of it different: its source, config and links. */
export function fingerprintOf (c: AppComponent): string {
  return JSON.stringify([c.type, c.source, c.config, c.links])
}
