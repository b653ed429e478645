// Tells the lattice what this node serves and learns what the others serve: signed adverts over gossipsub, heartbeats, withdrawal, and a direct sync with each new peer.

import { peerIdFromString } from '@libp2p/peer-id'
import type { Libp2p, PeerId, PrivateKey } from '@libp2p/interface'
import type { GossipSub } from '@libp2p/gossipsub'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import {
  advertTopic, decodeAdvert, decodeAdvertList, decodeRelayedList, decodeSignedAdvert, defaultAdvertLimits,
  encodeAdvert, encodeAdvertList, encodeRelayedList, encodeSignedAdvert, isComponentName, AdvertError
} from '../protocol/advert.ts'
import type { Advert, AdvertExport, AdvertLimits, RelayedAdvert } from '../protocol/advert.ts'
import type { ApplyResult, Registry } from './registry.ts'
import { defaultRegistryLimits } from './registry.ts'
import { handleRequests, request } from './request.ts'
import { createRateLimiter } from './rate-limit.ts'
import { recoverUnreadableRpcs } from './libp2p/gossip-recovery.ts'
import type { Logger } from './logger.ts'

/**
 * The direct request a node makes to each peer it connects to: "what do you know?". 1.0.0 answers
 * `list<signed-advert>`; it is still answered (for nodes before 1.1.0, and it marks a node's
 * lattice for the wRPC gate).
 */
export function syncProtocol (lattice: string): string {
  return `/wasmesh/${lattice}/sync/1.0.0`
}

/** The sync request whose answer is `list<relayed-advert>`: each envelope with how long ago the relaying node received it. */
export function agedSyncProtocol (lattice: string): string {
  return `/wasmesh/${lattice}/sync/1.1.0`
}

/** Limits on what peers can make this node take in, on top of the codec's `AdvertLimits`. */
export interface AdvertIntakeLimits extends AdvertLimits {
  /**
   * The longest TTL taken from an advert: its life is min(ttlMs, this). Default 3 x this node's
   * own `advertTtlMs` (105 s): a peer that advertises for 2^32-1 ms (49.7 days) and vanishes is
   * forgotten like any other.
   */
  readonly maxAdvertTtlMs: number
  /**
   * New adverts (a seq above the one held) taken from one advertiser per minute, a burst of as
   * many first; the rest are dropped (`rate-limited`). Heartbeats are 6 a minute and load
   * changes at most 60 (`loadAdvertIntervalMs`), so 120 never throttles an honest peer.
   */
  readonly maxAdvertsPerPeerPerMinute: number
  /**
   * Peers one sync reply may add to the registry (updates of known peers do not count); the
   * rest are dropped (`sync-new-peers`). A joiner learns what is left from gossip within a
   * heartbeat; a relay cannot fill the registry with adverts of made-up keys in one reply.
   */
  readonly maxNewPeersPerSync: number
  /**
   * Peers not yet known whose adverts one forwarding peer may bring by gossip per minute (a burst of as many);
   * the rest are dropped (`forwarder-new-peers`) before any signature check. Each sybil key has a fresh
   * per-advertiser budget, so this is what bounds a flood of made-up keys through one connection; honest
   * forwarders bring each new peer once, and sync replies have their own budget (`maxNewPeersPerSync`).
   */
  readonly maxNewPeersPerForwarderPerMinute: number
}

export const defaultAdvertIntakeLimits: AdvertIntakeLimits = Object.freeze({
  ...defaultAdvertLimits,
  maxAdvertTtlMs: defaultRegistryLimits.maxTtlMs,
  maxAdvertsPerPeerPerMinute: 120,
  maxNewPeersPerSync: 256,
  maxNewPeersPerForwarderPerMinute: 1000
})

/** maxAdvertTtlMs, when not given: this many of the node's own advertTtlMs. */
const ttlCapMultiple = 3

/** The intake limits in effect: the defaults, the TTL cap following `advertTtlMs` unless it is given. */
export function advertIntakeLimits (timings: Partial<AdvertTimings> = {}, limits: Partial<AdvertIntakeLimits> = {}): AdvertIntakeLimits {
  const ttl = timings.advertTtlMs ?? defaultAdvertTimings.advertTtlMs
  return { ...defaultAdvertIntakeLimits, maxAdvertTtlMs: ttlCapMultiple * ttl, ...limits }
}

export interface AdvertTimings {
  /** Heartbeat: an advert is republished this often even when nothing changed. */
  readonly advertIntervalMs: number
  /** How long peers keep an advert that is not refreshed; a few heartbeats, so that one lost message is harmless. */
  readonly advertTtlMs: number
  /** Changes within this window are published as one advert. */
  readonly advertDebounceMs: number
  /** Load changes alone are published at most this often, so that a load hovering at a threshold cannot flood the lattice. */
  readonly loadAdvertIntervalMs: number
  /** How long a sync exchange may take. */
  readonly syncTimeoutMs: number
  /**
   * Syncs a node asks for, one per new connection, until this many have succeeded since it started (or
   * since it was last left with no connection at all); after that it asks no more and keeps up through
   * gossip. Every sync reply lists every live advert the peer holds, so a node that asked every
   * connection pays (connections x lattice size) advert decodes, almost all of them stale once it knows
   * the lattice. A node still answers every sync it is asked for; when this is above 0 it also republishes
   * its advert for the first peer that joins the advert topic (warm peers no longer sync with it). Default
   * 0: every connection syncs both ways. Measured in simulations/README.md: 3 brings `mesh-100`'s initial
   * mesh from 10.1 s to 1.3 s, but made a 300-node start slower (gossip instead of sync carries the
   * first adverts), so it is not the default yet.
   */
  readonly syncsUntilWarm: number
}

export const defaultAdvertTimings: AdvertTimings = Object.freeze({
  advertIntervalMs: 10_000,
  advertTtlMs: 35_000,
  advertDebounceMs: 25,
  loadAdvertIntervalMs: 1_000,
  syncTimeoutMs: 5_000,
  syncsUntilWarm: 0
})

export interface LocalView {
  readonly addresses: string[]
  readonly labels: Record<string, string>
  /** With the names of their components; a name an advert cannot carry (isComponentName) is left out. */
  readonly exports: AdvertExport[]
  readonly client?: boolean
  /** The app replicas this node runs (node/apps/status.ts), when any. */
  readonly apps?: string
}

export interface AdvertAgentInit {
  readonly libp2p: Libp2p<{ pubsub: GossipSub }>
  readonly registry: Registry
  readonly privateKey: PrivateKey
  readonly lattice: string
  readonly timings?: Partial<AdvertTimings>
  readonly limits?: Partial<AdvertIntakeLimits>
  /** What this node serves and how to reach it, read at each publish. */
  readonly local: () => LocalView
  readonly log: Logger
}

/** Counters for metrics and simulations. */
export interface AdvertStats {
  published: number
  /** Peers' adverts of this lattice applied to the registry (new, updated or withdrawn), by gossip or sync. */
  received: number
  synced: number
  /**
   * Adverts dropped, by reason: `spoofed`, `bad-signature`, `unsigned`, `other-lattice` (an advert of
   * another lattice on this one's topic or sync), `rate-limited`, `sync-new-peers`, `expired` (relayed
   * older than its TTL), `registry-full`, `sync-reply`, `gossip-unreadable` (an RPC gossipsub could not
   * read, e.g. over its 1 MiB limit), or the decoder's problem.
   */
  readonly dropped: Record<string, number>
}

export interface AdvertAgent {
  start (): Promise<void>
  /** Withdraws this node's adverts (a last message telling peers to forget it), then stops. */
  stop (): Promise<void>
  /** What this node serves changed (`exports`: publish soon) or only its load did (`load`: at most every `loadAdvertIntervalMs`). */
  changed (what?: 'exports' | 'load'): void
  /** Publishes now and resolves once sent. */
  publish (): Promise<void>
  readonly stats: AdvertStats
}

export function createAdvertAgent (init: AdvertAgentInit): AdvertAgent {
  const { libp2p, registry, lattice, log } = init
  const timings: AdvertTimings = { ...defaultAdvertTimings, ...init.timings }
  const limits = advertIntakeLimits(init.timings, init.limits)
  const topic = advertTopic(lattice)
  const protocol = syncProtocol(lattice)
  const agedProtocol = agedSyncProtocol(lattice)
  const self = libp2p.peerId.toString()
  const pubsub = libp2p.services.pubsub
  const stats: AdvertStats = { published: 0, received: 0, synced: 0, dropped: {} }
  const warned = new Set<string>()
  // A restarted node must supersede its old adverts: start from the wall clock.
  let seq = BigInt(Date.now())
  let heartbeat: ReturnType<typeof setInterval> | undefined
  let debounce: ReturnType<typeof setTimeout> | undefined
  let running = false
  let publishing: Promise<void> = Promise.resolve()
  let lastPublished = Number.NEGATIVE_INFINITY
  let debounceDue = 0
  // syncs that succeeded since start (or since the node was last cut off from everyone)
  let syncsDone = 0
  let syncsPending = 0
  // whether this start has republished for the first peer that joined the advert topic (see onSubscription)
  let announced = false

  const limiter = createRateLimiter({ perMinute: limits.maxAdvertsPerPeerPerMinute, maxKeys: defaultRegistryLimits.maxPeers })
  const newPeersByForwarder = createRateLimiter({ perMinute: limits.maxNewPeersPerForwarderPerMinute, maxKeys: defaultRegistryLimits.maxPeers })

  const drop = (reason: string, peer: string, detail: string): void => {
    stats.dropped[reason] = (stats.dropped[reason] ?? 0) + 1
    // Logged once per peer and reason: a hostile peer must not flood the log.
    const key = `${peer}/${reason}`
    if (!warned.has(key) && warned.size < 10_000) {
      warned.add(key)
      log.warn(`dropped an advert from ${peer} (${reason}): ${detail}`)
    }
  }

  /** One sync reply's budget of peers it may add (`maxNewPeersPerSync`). */
  interface SyncBudget { newPeers: number }

  /**
   * Decodes, verifies and applies one signed envelope. `from` is the peer gossipsub says signed the
   * message (and `forwarder` the peer it came from), or the peer whose sync reply carried it (with
   * `ageMs`, how long ago it received it, and the reply's budget).
   */
  async function ingest (envelope: Uint8Array, source: 'gossip' | 'sync', from: string, ageMs = 0, budget?: SyncBudget, forwarder?: string): Promise<ApplyResult | 'dropped' | 'throttled'> {
    let advert: Advert
    try {
      const signed = decodeSignedAdvert(envelope, limits)
      advert = decodeAdvert(signed.advert, limits)
      if (source === 'gossip' && advert.peer !== from) {
        drop('spoofed', from, `the advert claims to be from ${advert.peer}`)
        return 'dropped'
      }
      if (advert.peer === self) return 'ignored'
      // Not this lattice's: no node of it publishes such a thing here, so it is not "received".
      if (advert.lattice !== lattice) {
        drop('other-lattice', from, `the advert is of lattice ${advert.lattice}`)
        return 'dropped'
      }
      // Signatures are what costs (Ed25519): an advert no newer than the one held changes nothing, so
      // it is not verified at all. Syncs with every new connection repeat mostly known adverts.
      const held = registry.peer(advert.peer)?.seq
      if (held !== undefined && advert.seq <= held) return 'stale'
      if (held === undefined && budget !== undefined && budget.newPeers >= limits.maxNewPeersPerSync) {
        drop('sync-new-peers', from, `the sync reply adds more than maxNewPeersPerSync (${limits.maxNewPeersPerSync}) peers`)
        return 'throttled'
      }
      if (held === undefined && forwarder !== undefined && !newPeersByForwarder.take(forwarder)) {
        drop('forwarder-new-peers', forwarder, `more than maxNewPeersPerForwarderPerMinute (${limits.maxNewPeersPerForwarderPerMinute}) new peers a minute forwarded`)
        return 'throttled'
      }
      const key = peerIdFromString(advert.peer).publicKey
      if (key === undefined || !(await key.verify(signed.advert, signed.signature))) {
        drop('bad-signature', from, `the signature does not match ${advert.peer}`)
        return 'dropped'
      }
    } catch (err) {
      drop(err instanceof AdvertError ? err.problem : 'malformed', from, (err as Error).message)
      return 'dropped'
    }
    // Charged only once the signature holds, so that nobody can spend another peer's budget.
    if (!limiter.take(advert.peer)) {
      drop('rate-limited', advert.peer, `more than maxAdvertsPerPeerPerMinute (${limits.maxAdvertsPerPeerPerMinute}) new adverts a minute`)
      return 'throttled'
    }
    const result = registry.apply(advert, { source, signed: envelope, ageMs, ...(source === 'sync' ? { relayer: from } : {}) })
    if (result === 'new' && budget !== undefined) budget.newPeers++
    if (result === 'new' || result === 'updated' || result === 'withdrawn') stats.received++
    else if (result === 'expired') drop('expired', from, `the relayed advert of ${advert.peer} is older than its TTL`)
    else if (result === 'refused') drop('registry-full', from, `the registry holds maxPeers peers that are connected or have answered; ${advert.peer} is not taken`)
    return result
  }

  /**
   * A file name is a component's name unless it was given one, so a name that is not a plain word
   * (isComponentName) is left out; one digest loaded under two names is advertised under the first.
   */
  function advertisedNames (exports: readonly AdvertExport[]): AdvertExport[] {
    const names = new Map<string, string>()
    for (const e of exports) if (e.name !== undefined && isComponentName(e.name, limits) && !names.has(e.digest)) names.set(e.digest, e.name)
    return exports.map(({ name: _, ...e }) => {
      const name = names.get(e.digest)
      return name === undefined ? e : { ...e, name }
    })
  }

  async function sign (withdrawn: boolean): Promise<Uint8Array> {
    const view = init.local()
    const advert: Advert = {
      peer: self,
      seq: ++seq,
      lattice,
      addresses: view.addresses,
      labels: view.labels,
      exports: withdrawn ? [] : advertisedNames(view.exports),
      ttlMs: timings.advertTtlMs,
      withdrawn,
      ...(view.client === true ? { client: true } : {}),
      ...(view.apps !== undefined && view.apps !== '' && !withdrawn ? { apps: view.apps } : {})
    }
    const bytes = encodeAdvert(advert, limits)
    const signature = await init.privateKey.sign(bytes)
    return encodeSignedAdvert({ advert: bytes, signature }, limits)
  }

  async function publishNow (withdrawn = false): Promise<void> {
    const envelope = await sign(withdrawn)
    if (!withdrawn) registry.setOwnEnvelope(envelope)
    lastPublished = performance.now()
    try {
      await pubsub.publish(topic, envelope)
      stats.published++
    } catch (err) {
      log.debug(`advert not published: ${(err as Error).message}`)
    }
  }

  function publish (): Promise<void> {
    // One publish at a time, in order, so that seq numbers reach peers ascending.
    publishing = publishing.then(async () => { if (running) await publishNow() }, () => {})
    return publishing
  }

  async function sync (peer: PeerId, aged: boolean): Promise<void> {
    let reply: Uint8Array
    try {
      reply = await request(libp2p, peer, aged ? agedProtocol : protocol, new Uint8Array(0), {
        maxRequestBytes: 0,
        maxResponseBytes: limits.maxSyncBytes,
        timeoutMs: timings.syncTimeoutMs
      })
    } catch (err) {
      log.debug(`sync with ${peer.toString()} failed: ${(err as Error).message}`)
      return
    }
    let items: RelayedAdvert[]
    try {
      // a 1.0.0 reply says nothing of ages: its adverts count from now, within maxAdvertTtlMs
      items = aged ? decodeRelayedList(reply, limits) : decodeAdvertList(reply, limits).map(envelope => ({ ageMs: 0, envelope }))
    } catch (err) {
      // Usually a peer that went away mid-reply (a short-lived `wasmesh call`): not worth a warning.
      stats.dropped['sync-reply'] = (stats.dropped['sync-reply'] ?? 0) + 1
      log.debug(`sync reply from ${peer.toString()} does not decode: ${(err as Error).message}`)
      return
    }
    stats.synced++
    syncsDone++
    const budget: SyncBudget = { newPeers: 0 }
    for (const item of items) await ingest(item.envelope, 'sync', peer.toString(), item.ageMs, budget)
  }

  /** Syncs with a peer that speaks either sync protocol of this lattice, preferring the one with ages. */
  function syncIfSpoken (peer: PeerId, protocols: readonly string[]): void {
    if (!running) return
    const aged = protocols.includes(agedProtocol)
    if (!aged && !protocols.includes(protocol)) return
    // warm: enough syncs done or under way (each reply is the whole lattice, mostly known by now)
    if (timings.syncsUntilWarm > 0 && syncsDone + syncsPending >= timings.syncsUntilWarm) return
    syncsPending++
    void sync(peer, aged).finally(() => { syncsPending-- })
  }

  /**
   * The first peer to join this node's advert topic gets its advert at once, and through it the mesh:
   * peers that are warm do not sync with a node that (re)joins, so without this they would hear of it
   * (or of its restart) only at its next heartbeat. Once per start; adverts published before any peer
   * listened reached nobody.
   */
  const onSubscription = (evt: CustomEvent<{ peerId: PeerId, subscriptions: Array<{ topic: string, subscribe: boolean }> }>): void => {
    // only where warm nodes skip syncs (syncsUntilWarm 0: every connection syncs both ways, as before)
    if (announced || !running || timings.syncsUntilWarm === 0) return
    if (!evt.detail.subscriptions.some(s => s.topic === topic && s.subscribe)) return
    announced = true
    changed('exports')
  }

  const onIdentify = (evt: CustomEvent<{ peerId: PeerId, protocols: string[] }>): void => {
    syncIfSpoken(evt.detail.peerId, evt.detail.protocols)
  }

  // A connection shows a peer is reachable (and plausible) whatever a relay said of it.
  const onConnect = (evt: CustomEvent<PeerId>): void => { registry.setConnected(evt.detail.toString(), true) }
  const onDisconnect = (evt: CustomEvent<PeerId>): void => {
    registry.setConnected(evt.detail.toString(), false)
    // cut off from everyone (a partition, an outage): what it knows may be stale, so it asks again
    if (libp2p.getConnections().length === 0) syncsDone = 0
  }
  let unrecover: (() => void) | undefined

  function changed (what: 'exports' | 'load' = 'exports'): void {
    if (!running) return
    // Any pending publish carries the load as it is then.
    if (what === 'load' && debounce !== undefined) return
    const wait = what === 'load'
      ? Math.max(timings.advertDebounceMs, lastPublished + timings.loadAdvertIntervalMs - performance.now())
      : timings.advertDebounceMs
    // A pending publish carries this change too; restarting its timer would starve it under steady
    // change. Only an export change may bring a slower, load-only publish forward.
    if (debounce !== undefined && debounceDue <= performance.now() + wait) return
    clearTimeout(debounce)
    debounceDue = performance.now() + wait
    debounce = setTimeout(() => {
      debounce = undefined
      void publish()
    }, wait)
  }

  return {
    stats,

    async start () {
      if (running) return
      running = true
      syncsDone = 0
      announced = false
      pubsub.topicValidators.set(topic, async (peer, msg) => {
        if (msg.type !== 'signed') {
          drop('unsigned', peer.toString(), 'adverts must be signed')
          return TopicValidatorResult.Reject
        }
        const result = await ingest(msg.data, 'gossip', msg.from.toString(), 0, undefined, peer.toString())
        if (result === 'dropped') return TopicValidatorResult.Reject
        // Stale, self and throttled adverts are not news here, and not worth passing on; but the peer
        // that forwarded them did nothing wrong, so they are not rejected (which would lower its score).
        return result === 'new' || result === 'updated' || result === 'withdrawn' ? TopicValidatorResult.Accept : TopicValidatorResult.Ignore
      })
      pubsub.subscribe(topic)
      unrecover = recoverUnreadableRpcs(libp2p, pubsub, (peer, err) => {
        drop('gossip-unreadable', peer.toString(), `gossipsub could not read an RPC (${(err as Error).message}); the peer is taken back`)
      })
      const requestLimits = { maxRequestBytes: 0, maxResponseBytes: limits.maxSyncBytes, timeoutMs: timings.syncTimeoutMs }
      await handleRequests(libp2p, agedProtocol, async () => encodeRelayedList(registry.snapshot(limits.maxAdvertsPerSync), limits), requestLimits)
      await handleRequests(libp2p, protocol, async () => encodeAdvertList(registry.snapshot(limits.maxAdvertsPerSync).map(r => r.envelope), limits), requestLimits)
      libp2p.addEventListener('peer:identify', onIdentify)
      libp2p.addEventListener('peer:connect', onConnect)
      libp2p.addEventListener('peer:disconnect', onDisconnect)
      pubsub.addEventListener('subscription-change', onSubscription)
      // Peers connected (and identified) before this agent started (while the node was loading components) are asked now.
      for (const connection of libp2p.getConnections()) {
        registry.setConnected(connection.remotePeer.toString(), true)
        void libp2p.peerStore.get(connection.remotePeer)
          .then(p => { syncIfSpoken(connection.remotePeer, p.protocols) }, () => {})
      }
      heartbeat = setInterval(() => {
        registry.expire()
        void publish()
      }, timings.advertIntervalMs)
      await publish()
    },

    async stop () {
      if (!running) return
      clearInterval(heartbeat)
      clearTimeout(debounce)
      libp2p.removeEventListener('peer:identify', onIdentify)
      libp2p.removeEventListener('peer:connect', onConnect)
      libp2p.removeEventListener('peer:disconnect', onDisconnect)
      pubsub.removeEventListener('subscription-change', onSubscription)
      unrecover?.()
      await publishing
      await publishNow(true)
      running = false
      pubsub.topicValidators.delete(topic)
      pubsub.unsubscribe(topic)
      await libp2p.unhandle([protocol, agedProtocol])
    },

    changed,

    publish
  }
}
