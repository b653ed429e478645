// The node's table of who serves which interface: its own exports and peers' adverts, expired by TTL, with health and in-flight counts.

import type { Advert, AdvertExport, RelayedAdvert } from '../protocol/advert.ts'
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
  /**
   * Worth trying before the rest: this node itself, a peer connected now, one that has answered a
   * call, or one whose advert came first-hand (gossip, or a sync with the peer itself). The others
   * were only passed on by some relaying peer and never contacted: anyone can sign such adverts
   * with fresh keys and point them at closed ports.
   */
  readonly plausible: boolean
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
  /** The peer whose sync reply passed the latest advert on, when it was not the advertiser itself. */
  readonly relayedBy?: string
  /** A libp2p connection to it is open. */
  readonly connected: boolean
  /** Its last dial failed: not tried again until `retryAt`, a first-hand advert or a connection. */
  readonly unreachable: boolean
  /** See `Server.plausible`. */
  readonly plausible: boolean
  /** Time since its latest advert was received. */
  readonly ageMs?: number
  /** Time until it is forgotten unless refreshed. */
  readonly expiresInMs?: number
  /** Its advert says it is a short-lived client (`wasmesh call`, `wasmesh mesh`), not a node. */
  readonly client?: boolean
  /** The app replicas it runs, as its advert carries them (node/apps/status.ts). */
  readonly apps?: string
  readonly healthy: boolean
  /** Consecutive failed calls. */
  readonly failures: number
  readonly retryAt?: number
  readonly latencyMs: number | undefined
  readonly inflight: number
}

export type AdvertSource = 'gossip' | 'sync'

/**
 * What `apply` did: `stale` = seq not above the one held; `ignored` = another lattice, or this node's own;
 * `expired` = a relayed advert already older than its (capped) TTL; `refused` = the table is full of peers
 * that are connected or have answered, which a new unknown one does not displace.
 */
export type ApplyResult = 'new' | 'updated' | 'stale' | 'withdrawn' | 'ignored' | 'expired' | 'refused'

/** How an advert reached this node. */
export interface ApplyMeta {
  readonly source: AdvertSource
  /** Its envelope (encoded signed-advert), kept for sync replies; without it the peer is routable but not passed on. */
  readonly signed?: Uint8Array
  /** How long ago the relaying peer received it (sync replies say; 0 for gossip): its TTL runs from then. */
  readonly ageMs?: number
  /** The peer whose sync reply carried it; the advertiser itself (or none) means first-hand. */
  readonly relayer?: string
}

/** What changed in the table, for the node (republish) and tests (convergence). */
export type RegistryChange =
  | { readonly kind: 'local' }
  | { readonly kind: 'peer', readonly peer: string, readonly change: 'new' | 'updated' | 'withdrawn' | 'expired' | 'evicted' }

export interface RegistryFilter {
  /** Only this peer. */
  readonly peer?: string
  /** Only servers carrying every one of these labels with these values. */
  readonly labels?: Readonly<Record<string, string>>
  /** Only exports of this component, by its name or digest (an HTTP route naming a component). */
  readonly component?: string
}

export interface RegistryInit {
  /** This node's peer id: its own adverts are ignored, its exports are the local ones. */
  readonly self: string
  /** Adverts of other lattices are ignored. Default 'default'. */
  readonly lattice?: string
  /** Milliseconds, monotonic. Default performance.now. */
  readonly clock?: () => number
  /**
   * The most remote peers kept. Past it, the oldest-received peer that is neither connected nor has
   * answered a call is evicted, relay-learned ones first; a new peer is refused when only such good
   * peers remain. Default 10,000.
   */
  readonly maxPeers?: number
  /** The longest TTL taken from an advert, whatever it says: an advert's life is min(ttlMs, maxTtlMs). Default 105,000 ms. */
  readonly maxTtlMs?: number
  /** How long a peer whose dial failed is left out, unless a first-hand advert or a connection shows it is back. Default 30,000 ms. */
  readonly unreachableMs?: number
  /** Backoff after the first failure; doubles with each further one. Default 1,000 ms. */
  readonly unhealthyBaseMs?: number
  /** The longest backoff. Default 60,000 ms. */
  readonly unhealthyMaxMs?: number
  /** Weight of a new latency sample in the moving average, in (0, 1]. Default 0.2. */
  readonly latencyEwmaWeight?: number
  /** This node's labels and addresses, as its local servers carry them. */
  readonly labels?: Readonly<Record<string, string>>
  readonly addresses?: readonly string[]
  /**
   * Whether a peer may serve an interface to this node (the policy's serve rules): the exports of a
   * peer it refuses are left out of `servers` and `interfaces`, so no call is routed to them. Default: anyone.
   */
  readonly mayServe?: (peer: string, iface: string) => boolean
  /**
   * The labels this node trusts for a peer (its member certificate). When given, label filters match
   * remote servers by these alone: labels a peer only claims in its advert select nothing.
   */
  readonly trustedLabels?: (peer: string) => Readonly<Record<string, string>> | undefined
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
  /** Takes in a verified advert. */
  apply(advert: Advert, meta: ApplyMeta): ApplyResult
  /** Forgets peers whose TTL has passed; returns how many. Queries call it too. */
  expire(): number
  /** The earliest clock time at which some peer expires, for the node's timer. */
  nextExpiryAt(): number | undefined
  /** A failed call: unhealthy for a backoff that doubles with consecutive failures. */
  markFailure(peer: string): void
  /** A dial that failed: left out for `unreachableMs` (or its backoff, if longer) unless it shows it is back. */
  markUnreachable(peer: string): void
  /** A successful call: healthy again, and a latency sample (if timed). */
  markSuccess(peer: string, latencyMs?: number): void
  /** A libp2p connection to `peer` opened (reachable again) or closed. */
  setConnected(peer: string, connected: boolean): void
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
  /**
   * Envelopes for a sync reply with their ages: this node's own, then live peers' most recently
   * received first, but only those heard first-hand or contacted: what a relay passed on and nobody
   * here could vouch for is not passed on again.
   */
  snapshot(max?: number): RelayedAdvert[]
  /** Subscribes to changes; returns the unsubscribe function. */
  on(event: 'change', listener: (change: RegistryChange) => void): () => void
}

interface PeerEntry {
  readonly advert: Advert
  readonly signed: Uint8Array | undefined
  readonly source: AdvertSource
  /** The relaying peer, when it was not the advertiser: not first-hand. */
  readonly relayer: string | undefined
  readonly receivedAt: number
  /** When the first node in the relay chain received it: ages count from here, and a relay never resets it. */
  readonly heardAt: number
  readonly expiresAt: number
}

interface Health {
  failures: number
  retryAt: number
  latencyMs: number | undefined
  inflight: number
  /** Answered a call since this node learned of it. */
  answered: boolean
  /** The last dial failed. */
  unreachable: boolean
}

export const defaultRegistryLimits = Object.freeze({
  maxPeers: 10_000,
  maxTtlMs: 105_000,
  unreachableMs: 30_000,
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
  const maxTtlMs = init.maxTtlMs ?? defaultRegistryLimits.maxTtlMs
  const unreachableMs = init.unreachableMs ?? defaultRegistryLimits.unreachableMs
  const baseMs = init.unhealthyBaseMs ?? defaultRegistryLimits.unhealthyBaseMs
  const maxMs = init.unhealthyMaxMs ?? defaultRegistryLimits.unhealthyMaxMs
  const weight = init.latencyEwmaWeight ?? defaultRegistryLimits.latencyEwmaWeight
  const mayServe = init.mayServe ?? (() => true)
  const labelsForFilter = init.trustedLabels === undefined
    ? (_peer: string, e: PeerEntry) => e.advert.labels
    : (peer: string) => init.trustedLabels?.(peer) ?? {}

  let localExports: readonly LocalExport[] = []
  let selfLabels: Readonly<Record<string, string>> = { ...init.labels }
  let selfAddresses: readonly string[] = [...(init.addresses ?? [])]
  let ownEnvelope: Uint8Array | undefined

  // Insertion order is receipt order: an update moves the peer to the end, so eviction takes the front.
  const peersById = new Map<string, PeerEntry>()
  // unversioned interface id -> peers exporting some version of it, so a query does not scan every peer
  const byName = new Map<string, Set<string>>()
  const health = new Map<string, Health>()
  // peers with an open connection (bounded by libp2p's maxConnections)
  const connected = new Set<string>()
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
    if (h === undefined) health.set(peer, h = { failures: 0, retryAt: 0, latencyMs: undefined, inflight: 0, answered: false, unreachable: false })
    return h
  }

  /** Shown to be reachable (a connection, a first-hand advert): tried again at once. */
  function reachable (peer: string): void {
    const h = health.get(peer)
    if (h === undefined || !h.unreachable) return
    h.unreachable = false
    h.retryAt = 0
  }

  function firstHand (e: PeerEntry): boolean {
    return e.relayer === undefined
  }

  /** Connected now, or has answered: what `maxPeers` eviction never gives up for an unknown peer. */
  function good (peer: string): boolean {
    return connected.has(peer) || health.get(peer)?.answered === true
  }

  function plausible (peer: string, e: PeerEntry): boolean {
    return firstHand(e) || good(peer)
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

  /**
   * Which entry goes first past maxPeers (lower first): tombstones, then relay-learned, then
   * first-hand peers; never one that is connected or has answered (undefined).
   */
  function evictionClass (peer: string, e: PeerEntry): number | undefined {
    if (!live(e)) return 0
    if (good(peer)) return undefined
    return firstHand(e) ? 2 : 1
  }

  /** Past maxPeers, evicts the oldest-received entry of the lowest class; returns whether `added` itself went. */
  function evict (added: string): boolean {
    let refused = false
    const evicted: string[] = []
    while (peersById.size > maxPeers) {
      let victim: string | undefined
      let victimClass = Number.POSITIVE_INFINITY
      // insertion order is receipt order: the first of a class is its oldest
      for (const [peer, e] of peersById) {
        const c = evictionClass(peer, e)
        if (c !== undefined && c < victimClass) {
          victim = peer
          victimClass = c
          if (c === 0) break
        }
      }
      // only good peers remain: the newcomer gives way
      if (victim === undefined) victim = added
      const e = peersById.get(victim)
      drop(victim)
      if (victim === added) {
        refused = true
        break
      }
      if (live(e)) evicted.push(victim)
    }
    for (const peer of evicted) emit({ kind: 'peer', peer, change: 'evicted' })
    return refused
  }

  function apply (advert: Advert, meta: ApplyMeta): ApplyResult {
    if (advert.lattice !== lattice || advert.peer === self) return 'ignored'
    expire()
    const peer = advert.peer
    const old = peersById.get(peer)
    if (old !== undefined && advert.seq <= old.advert.seq) return 'stale'
    const now = clock()
    const relayer = meta.relayer !== undefined && meta.relayer !== peer ? meta.relayer : undefined
    // A relay says how old the record is; it can make it older, never younger than now.
    const heardAt = now - Math.max(0, meta.ageMs ?? 0)
    const expiresAt = heardAt + Math.min(advert.ttlMs, maxTtlMs)
    if (expiresAt <= now) return 'expired'
    const entry: PeerEntry = {
      advert,
      signed: advert.withdrawn ? undefined : meta.signed,
      source: meta.source,
      relayer,
      receivedAt: now,
      heardAt,
      expiresAt
    }
    const wasLive = live(old)
    if (relayer === undefined) reachable(peer)
    // an update keeps the peer's health; a withdrawal (a graceful stop) resets it for when it returns
    drop(peer, advert.withdrawn)
    // A withdrawn advert stays as a tombstone until its TTL, so a replay of an older one is still stale.
    peersById.set(peer, entry)
    earliestExpiry = Math.min(earliestExpiry, entry.expiresAt)
    if (!advert.withdrawn) index(peer, advert.exports, true)
    if (old === undefined && evict(peer)) return 'refused'
    const result: ApplyResult = advert.withdrawn ? 'withdrawn' : wasLive ? 'updated' : 'new'
    if (result !== 'withdrawn' || wasLive) emit({ kind: 'peer', peer, change: result as 'new' | 'updated' | 'withdrawn' })
    return result
  }

  function toServer (peer: string, local: boolean, e: AdvertExport, addresses: readonly string[], labels: Readonly<Record<string, string>>, now: number, isPlausible: boolean): Server {
    const h = health.get(peer)
    const healthy = isHealthy(h, now)
    const s = {
      peer,
      local,
      plausible: isPlausible,
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
    const component = filter.component
    const ofComponent = (e: AdvertExport): boolean => component === undefined || e.name === component || e.digest === component
    if (want(self) && hasLabels(selfLabels, filter.labels)) {
      for (const e of localExports) {
        if (interfaceCompatible(iface, e.iface) && ofComponent(e)) out.push(toServer(self, true, e, selfAddresses, selfLabels, now, true))
      }
    }
    const candidates = filter.peer !== undefined ? [filter.peer] : byName.get(unversioned(iface)) ?? []
    for (const peer of candidates) {
      const entry = peersById.get(peer)
      if (!live(entry) || (filter.labels !== undefined && !hasLabels(labelsForFilter(peer, entry), filter.labels))) continue
      const isPlausible = plausible(peer, entry)
      for (const e of entry.advert.exports) {
        if (interfaceCompatible(iface, e.iface) && mayServe(peer, e.iface) && ofComponent(e)) out.push(toServer(peer, false, e, entry.advert.addresses, entry.advert.labels, now, isPlausible))
      }
    }
    return out
  }

  function view (peer: string): PeerView | undefined {
    const now = clock()
    const h = health.get(peer)
    const common = {
      healthy: isHealthy(h, now),
      connected: connected.has(peer),
      unreachable: h?.unreachable === true && !isHealthy(h, now),
      failures: h?.failures ?? 0,
      latencyMs: h?.latencyMs,
      inflight: h?.inflight ?? 0,
      ...(h !== undefined && !isHealthy(h, now) ? { retryAt: h.retryAt } : {})
    }
    if (peer === self) {
      return { peer, local: true, addresses: selfAddresses, labels: selfLabels, exports: localExports, plausible: true, ...common }
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
      ...(e.relayer !== undefined ? { relayedBy: e.relayer } : {}),
      plausible: plausible(peer, e),
      ageMs: now - e.receivedAt,
      expiresInMs: e.expiresAt - now,
      ...(e.advert.client === true ? { client: true } : {}),
      ...(e.advert.apps !== undefined ? { apps: e.advert.apps } : {}),
      ...common
    }
  }

  return {
    self,
    lattice,
    setLocal (exports) {
      const next = exports.map(e => ({ iface: e.iface, digest: e.digest, capacity: e.capacity, load: e.load, ...(e.name !== undefined ? { name: e.name } : {}) }))
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
    markUnreachable (peer) {
      if (!known(peer) || peer === self) return
      const h = healthOf(peer)
      h.failures++
      h.unreachable = true
      h.retryAt = clock() + Math.max(unreachableMs, Math.min(maxMs, baseMs * 2 ** Math.min(h.failures - 1, 52)))
    },
    setConnected (peer, isConnected) {
      if (!isConnected) {
        connected.delete(peer)
        return
      }
      connected.add(peer)
      reachable(peer)
    },
    markSuccess (peer, latencyMs) {
      if (!known(peer)) return
      const h = latencyMs === undefined ? health.get(peer) : healthOf(peer)
      if (h === undefined) return
      h.failures = 0
      h.retryAt = 0
      h.unreachable = false
      if (latencyMs !== undefined) h.answered = true
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
        if (live(entry)) for (const e of entry.advert.exports) if (mayServe(peer, e.iface)) add(e.iface, peer)
      }
      return out
    },
    snapshot (max = Number.POSITIVE_INFINITY) {
      expire()
      const now = clock()
      const out: RelayedAdvert[] = []
      if (ownEnvelope !== undefined && out.length < max) out.push({ ageMs: 0, envelope: ownEnvelope })
      const entries = [...peersById]
      for (let i = entries.length - 1; i >= 0 && out.length < max; i--) {
        const [peer, e] = entries[i]
        if (live(e) && e.signed !== undefined && plausible(peer, e)) out.push({ ageMs: now - e.heardAt, envelope: e.signed })
      }
      return out
    },
    on (_event, listener) {
      listeners.add(listener)
      return () => { listeners.delete(listener) }
    }
  }
}
