// The node's table of who serves which interface: its own exports and peers' adverts, expired by TTL, with health and in-flight counts.

import type { Advert, AdvertExport } from '../protocol/advert.ts'
import { interfaceCompatible, unversioned } from '../protocol/versions.ts'

/** One interface this node serves (a loaded component's export, or a provider's). */
export type LocalExport = AdvertExport

/** A server of an interface as the router sees it. */
export interface Server {
  readonly peer: string
  /** This node itself. */
  readonly local: boolean
  /** The exact exported id (`ns:pkg/iface@version`), which may be a later compatible version than asked for. */
  readonly iface: string
  readonly digest: string
  readonly addresses: readonly string[]
  readonly labels: Readonly<Record<string, string>>
  readonly capacity: number
  /** Calls in flight when it advertised. */
  readonly load: number
  /** Calls this node has in flight to it now. */
  readonly inflight: number
  /** Moving average of call latency, undefined before the first success. */
  readonly latencyMs: number | undefined
  /** False while it is backing off after failures. */
  readonly healthy: boolean
  /** When unhealthy: the clock time from which it is tried again. */
  readonly retryAt?: number
}

/** A peer as `wasmesh mesh` shows it. */
export interface PeerView {
  readonly peer: string
  readonly local: boolean
  /** The sequence number of its latest advert (undefined for this node). */
  readonly seq?: bigint
  readonly addresses: readonly string[]
  readonly labels: Readonly<Record<string, string>>
  readonly exports: readonly AdvertExport[]
  /** How the latest advert arrived. */
  readonly source?: AdvertSource
  /** Time since its latest advert was received. */
  readonly ageMs?: number
  /** Time until it is forgotten unless refreshed. */
  readonly expiresInMs?: number
  readonly healthy: boolean
  /** Consecutive failed calls. */
  readonly failures: number
  readonly retryAt?: number
  readonly latencyMs: number | undefined
  readonly inflight: number
}

export type AdvertSource = 'gossip' | 'sync'

/** What `apply` did: `stale` = seq not above the one held; `ignored` = another lattice, or this node's own. */
export type ApplyResult = 'new' | 'updated' | 'stale' | 'withdrawn' | 'ignored'

/** What changed in the table, for the node (republish) and tests (convergence). */
export type RegistryChange =
  | { readonly kind: 'local' }
  | { readonly kind: 'peer', readonly peer: string, readonly change: 'new' | 'updated' | 'withdrawn' | 'expired' | 'evicted' }

export interface RegistryFilter {
  /** Only this peer. */
  readonly peer?: string
  /** Only servers carrying every one of these labels with these values. */
  readonly labels?: Readonly<Record<string, string>>
}

export interface RegistryInit {
  /** This node's peer id: its own adverts are ignored, its exports are the local ones. */
  readonly self: string
  /** Adverts of other lattices are ignored. Default 'default'. */
  readonly lattice?: string
  /** Milliseconds, monotonic. Default performance.now. */
  readonly clock?: () => number
  /** The most remote peers kept; past it the oldest-received are evicted. Default 10,000. */
  readonly maxPeers?: number
  /** Backoff after the first failure; doubles with each further one. Default 1,000 ms. */
  readonly unhealthyBaseMs?: number
  /** The longest backoff. Default 60,000 ms. */
  readonly unhealthyMaxMs?: number
  /** Weight of a new latency sample in the moving average, in (0, 1]. Default 0.2. */
  readonly latencyEwmaWeight?: number
  /** This node's labels and addresses, as its local servers carry them. */
  readonly labels?: Readonly<Record<string, string>>
  readonly addresses?: readonly string[]
}

export interface Registry {
  readonly self: string
  readonly lattice: string
  /** Replaces this node's exports (emits `local` when they differ). */
  setLocal(exports: readonly LocalExport[]): void
  /** Replaces this node's labels and/or addresses (emits `local` when they differ). */
  setSelf(info: { labels?: Readonly<Record<string, string>>, addresses?: readonly string[] }): void
  /** This node's current signed advert envelope, listed first in snapshots. */
  setOwnEnvelope(envelope: Uint8Array | undefined): void
  /**
   * Takes in a verified advert. `signed` is its envelope (encoded signed-advert), kept for snapshots;
   * without it the peer is routable but not passed on in sync replies.
   */
  apply(advert: Advert, meta: { source: AdvertSource, signed?: Uint8Array }): ApplyResult
  /** Forgets peers whose TTL has passed; returns how many. Queries call it too. */
  expire(): number
  /** The earliest clock time at which some peer expires, for the node's timer. */
  nextExpiryAt(): number | undefined
  /** A failed call: unhealthy for a backoff that doubles with consecutive failures. */
  markFailure(peer: string): void
  /** A successful call: healthy again, and a latency sample (if timed). */
  markSuccess(peer: string, latencyMs?: number): void
  /** Not backing off after failures. */
  healthy(peer: string): boolean
  beginCall(peer: string): void
  endCall(peer: string): void
  /** Servers of `iface` (an unversioned id matches every version), local ones first. */
  servers(iface: string, filter?: RegistryFilter): Server[]
  /** This node first, then live peers (withdrawn ones are not listed). */
  peers(): PeerView[]
  peer(id: string): PeerView | undefined
  /** Every exported id -> the peers exporting exactly it. */
  interfaces(): Map<string, string[]>
  /** Signed envelopes for a sync reply: this node's own, then live peers', most recently received first. */
  snapshot(max?: number): Uint8Array[]
  /** Subscribes to changes; returns the unsubscribe function. */
  on(event: 'change', listener: (change: RegistryChange) => void): () => void
}

interface PeerEntry {
  readonly advert: Advert
  readonly signed: Uint8Array | undefined
  readonly source: AdvertSource
  readonly receivedAt: number
  readonly expiresAt: number
}

interface Health {
  failures: number
  retryAt: number
  latencyMs: number | undefined
  inflight: number
}

export const defaultRegistryLimits = Object.freeze({
  maxPeers: 10_000,
  unhealthyBaseMs: 1_000,
  unhealthyMaxMs: 60_000,
  latencyEwmaWeight: 0.2
})

function sameJson (a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b)
}

function hasLabels (labels: Readonly<Record<string, string>>, wanted: Readonly<Record<string, string>> | undefined): boolean {
  if (wanted === undefined) return true
  for (const [k, v] of Object.entries(wanted)) {
    if (!Object.hasOwn(labels, k) || labels[k] !== v) return false
  }
  return true
}

export function createRegistry (init: RegistryInit): Registry {
  const self = init.self
  const lattice = init.lattice ?? 'default'
  const clock = init.clock ?? (() => performance.now())
  const maxPeers = init.maxPeers ?? defaultRegistryLimits.maxPeers
  const baseMs = init.unhealthyBaseMs ?? defaultRegistryLimits.unhealthyBaseMs
  const maxMs = init.unhealthyMaxMs ?? defaultRegistryLimits.unhealthyMaxMs
  const weight = init.latencyEwmaWeight ?? defaultRegistryLimits.latencyEwmaWeight

  let localExports: readonly LocalExport[] = []
  let selfLabels: Readonly<Record<string, string>> = { ...init.labels }
  let selfAddresses: readonly string[] = [...(init.addresses ?? [])]
  let ownEnvelope: Uint8Array | undefined

  // Insertion order is receipt order: an update moves the peer to the end, so eviction takes the front.
  const peersById = new Map<string, PeerEntry>()
  // unversioned interface id -> peers exporting some version of it, so a query does not scan every peer
  const byName = new Map<string, Set<string>>()
  const health = new Map<string, Health>()
  const listeners = new Set<(change: RegistryChange) => void>()
  // No peer expires before this; a scan is skipped until then.
  let earliestExpiry = Number.POSITIVE_INFINITY

  function emit (change: RegistryChange): void {
    for (const l of [...listeners]) l(change)
  }

  function index (peer: string, exports: readonly AdvertExport[], add: boolean): void {
    for (const e of exports) {
      const name = unversioned(e.iface)
      let set = byName.get(name)
      if (add) {
        if (set === undefined) byName.set(name, set = new Set())
        set.add(peer)
      } else if (set !== undefined) {
        set.delete(peer)
        if (set.size === 0) byName.delete(name)
      }
    }
  }

  function live (e: PeerEntry | undefined): e is PeerEntry {
    return e !== undefined && !e.advert.withdrawn
  }

  /** Drops a peer's entry and, when `forget`, its health (unless calls to it are still in flight). */
  function drop (peer: string, forget = true): void {
    const e = peersById.get(peer)
    if (e === undefined) return
    peersById.delete(peer)
    if (!e.advert.withdrawn) index(peer, e.advert.exports, false)
    if (forget) forgetHealth(peer)
  }

  function forgetHealth (peer: string): void {
    const h = health.get(peer)
    if (h !== undefined && h.inflight === 0) health.delete(peer)
  }

  function known (peer: string): boolean {
    return peer === self || live(peersById.get(peer))
  }

  function healthOf (peer: string): Health {
    let h = health.get(peer)
    if (h === undefined) health.set(peer, h = { failures: 0, retryAt: 0, latencyMs: undefined, inflight: 0 })
    return h
  }

  function isHealthy (h: Health | undefined, now: number): boolean {
    return h === undefined || now >= h.retryAt
  }

  function expire (): number {
    const now = clock()
    if (now < earliestExpiry) return 0
    const gone: Array<[string, boolean]> = []
    let next = Number.POSITIVE_INFINITY
    for (const [peer, e] of peersById) {
      if (e.expiresAt <= now) gone.push([peer, live(e)])
      else next = Math.min(next, e.expiresAt)
    }
    earliestExpiry = next
    for (const [peer] of gone) drop(peer)
    // tombstones go silently: their exports were already announced as withdrawn
    for (const [peer, wasLive] of gone) if (wasLive) emit({ kind: 'peer', peer, change: 'expired' })
    return gone.length
  }

  function evict (): void {
    const evicted: string[] = []
    for (const [peer, e] of peersById) {
      if (peersById.size <= maxPeers) break
      drop(peer)
      if (live(e)) evicted.push(peer)
    }
    for (const peer of evicted) emit({ kind: 'peer', peer, change: 'evicted' })
  }

  function apply (advert: Advert, meta: { source: AdvertSource, signed?: Uint8Array }): ApplyResult {
    if (advert.lattice !== lattice || advert.peer === self) return 'ignored'
    expire()
    const peer = advert.peer
    const old = peersById.get(peer)
    if (old !== undefined && advert.seq <= old.advert.seq) return 'stale'
    const now = clock()
    const entry: PeerEntry = {
      advert,
      signed: advert.withdrawn ? undefined : meta.signed,
      source: meta.source,
      receivedAt: now,
      expiresAt: now + advert.ttlMs
    }
    const wasLive = live(old)
    // an update keeps the peer's health; a withdrawal (a graceful stop) resets it for when it returns
    drop(peer, advert.withdrawn)
    // A withdrawn advert stays as a tombstone until its TTL, so a replay of an older one is still stale.
    peersById.set(peer, entry)
    earliestExpiry = Math.min(earliestExpiry, entry.expiresAt)
    if (!advert.withdrawn) index(peer, advert.exports, true)
    const result: ApplyResult = advert.withdrawn ? 'withdrawn' : wasLive ? 'updated' : 'new'
    if (result !== 'withdrawn' || wasLive) emit({ kind: 'peer', peer, change: result as 'new' | 'updated' | 'withdrawn' })
    evict()
    return result
  }

  function toServer (peer: string, local: boolean, e: AdvertExport, addresses: readonly string[], labels: Readonly<Record<string, string>>, now: number): Server {
    const h = health.get(peer)
    const healthy = isHealthy(h, now)
    const s = {
      peer,
      local,
      iface: e.iface,
      digest: e.digest,
      addresses,
      labels,
      capacity: e.capacity,
      load: e.load,
      inflight: h?.inflight ?? 0,
      latencyMs: h?.latencyMs,
      healthy
    }
    return healthy || h === undefined ? s : { ...s, retryAt: h.retryAt }
  }

  function servers (iface: string, filter: RegistryFilter = {}): Server[] {
    expire()
    const now = clock()
    const out: Server[] = []
    const want = (p: string): boolean => filter.peer === undefined || filter.peer === p
    if (want(self) && hasLabels(selfLabels, filter.labels)) {
      for (const e of localExports) {
        if (interfaceCompatible(iface, e.iface)) out.push(toServer(self, true, e, selfAddresses, selfLabels, now))
      }
    }
    const candidates = filter.peer !== undefined ? [filter.peer] : byName.get(unversioned(iface)) ?? []
    for (const peer of candidates) {
      const entry = peersById.get(peer)
      if (!live(entry) || !hasLabels(entry.advert.labels, filter.labels)) continue
      for (const e of entry.advert.exports) {
        if (interfaceCompatible(iface, e.iface)) out.push(toServer(peer, false, e, entry.advert.addresses, entry.advert.labels, now))
      }
    }
    return out
  }

  function view (peer: string): PeerView | undefined {
    const now = clock()
    const h = health.get(peer)
    const common = {
      healthy: isHealthy(h, now),
      failures: h?.failures ?? 0,
      latencyMs: h?.latencyMs,
      inflight: h?.inflight ?? 0,
      ...(h !== undefined && !isHealthy(h, now) ? { retryAt: h.retryAt } : {})
    }
    if (peer === self) {
      return { peer, local: true, addresses: selfAddresses, labels: selfLabels, exports: localExports, ...common }
    }
    const e = peersById.get(peer)
    if (!live(e)) return undefined
    return {
      peer,
      local: false,
      seq: e.advert.seq,
      addresses: e.advert.addresses,
      labels: e.advert.labels,
      exports: e.advert.exports,
      source: e.source,
      ageMs: now - e.receivedAt,
      expiresInMs: e.expiresAt - now,
      ...common
    }
  }

  return {
    self,
    lattice,
    setLocal (exports) {
      const next = exports.map(e => ({ iface: e.iface, digest: e.digest, capacity: e.capacity, load: e.load }))
      if (sameJson(next, localExports)) return
      localExports = next
      emit({ kind: 'local' })
    },
    setSelf (info) {
      const labels = info.labels !== undefined ? { ...info.labels } : selfLabels
      const addresses = info.addresses !== undefined ? [...info.addresses] : selfAddresses
      if (sameJson(labels, selfLabels) && sameJson(addresses, selfAddresses)) return
      selfLabels = labels
      selfAddresses = addresses
      emit({ kind: 'local' })
    },
    setOwnEnvelope (envelope) {
      ownEnvelope = envelope
    },
    apply,
    expire,
    nextExpiryAt () {
      expire()
      return Number.isFinite(earliestExpiry) ? earliestExpiry : undefined
    },
    markFailure (peer) {
      if (!known(peer)) return
      const h = healthOf(peer)
      h.failures++
      h.retryAt = clock() + Math.min(maxMs, baseMs * 2 ** Math.min(h.failures - 1, 52))
    },
    markSuccess (peer, latencyMs) {
      if (!known(peer)) return
      const h = latencyMs === undefined ? health.get(peer) : healthOf(peer)
      if (h === undefined) return
      h.failures = 0
      h.retryAt = 0
      if (latencyMs !== undefined) h.latencyMs = h.latencyMs === undefined ? latencyMs : weight * latencyMs + (1 - weight) * h.latencyMs
    },
    healthy (peer) {
      const h = health.get(peer)
      return h === undefined || h.retryAt === 0 || isHealthy(h, clock())
    },
    beginCall (peer) {
      healthOf(peer).inflight++
    },
    endCall (peer) {
      const h = health.get(peer)
      if (h === undefined) return
      h.inflight = Math.max(0, h.inflight - 1)
      if (!known(peer)) forgetHealth(peer)
    },
    servers,
    peers () {
      expire()
      const out: PeerView[] = []
      for (const peer of [self, ...peersById.keys()]) {
        const v = view(peer)
        if (v !== undefined) out.push(v)
      }
      return out
    },
    peer (id) {
      expire()
      return view(id)
    },
    interfaces () {
      expire()
      const out = new Map<string, string[]>()
      const add = (iface: string, peer: string): void => {
        const list = out.get(iface)
        if (list === undefined) out.set(iface, [peer])
        else if (!list.includes(peer)) list.push(peer)
      }
      for (const e of localExports) add(e.iface, self)
      for (const [peer, entry] of peersById) {
        if (live(entry)) for (const e of entry.advert.exports) add(e.iface, peer)
      }
      return out
    },
    snapshot (max = Number.POSITIVE_INFINITY) {
      expire()
      const out: Uint8Array[] = []
      if (ownEnvelope !== undefined && out.length < max) out.push(ownEnvelope)
      const entries = [...peersById.values()]
      for (let i = entries.length - 1; i >= 0 && out.length < max; i--) {
        const e = entries[i]
        if (live(e) && e.signed !== undefined) out.push(e.signed)
      }
      return out
    },
    on (_event, listener) {
      listeners.add(listener)
      return () => { listeners.delete(listener) }
    }
  }
}
