// Tells the lattice what this node serves and learns what the others serve: signed adverts over gossipsub, heartbeats, withdrawal, and a direct sync with each new peer.

import { peerIdFromString } from '@libp2p/peer-id'
import type { Libp2p, PeerId, PrivateKey } from '@libp2p/interface'
import type { GossipSub } from '@libp2p/gossipsub'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import {
  advertTopic, decodeAdvert, decodeAdvertList, decodeSignedAdvert, defaultAdvertLimits,
  encodeAdvert, encodeAdvertList, encodeSignedAdvert, AdvertError
} from '../protocol/advert.ts'
import type { Advert, AdvertExport, AdvertLimits } from '../protocol/advert.ts'
import type { ApplyResult, Registry } from './registry.ts'
import { handleRequests, request } from './request.ts'
import type { Logger } from './logger.ts'

/** The direct request a node makes to each peer it connects to: "what do you know?" */
export function syncProtocol (lattice: string): string {
  return `/wasmesh/${lattice}/sync/1.0.0`
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
}

export const defaultAdvertTimings: AdvertTimings = Object.freeze({
  advertIntervalMs: 10_000,
  advertTtlMs: 35_000,
  advertDebounceMs: 25,
  loadAdvertIntervalMs: 1_000,
  syncTimeoutMs: 5_000
})

export interface LocalView {
  readonly addresses: string[]
  readonly labels: Record<string, string>
  readonly exports: AdvertExport[]
}

export interface AdvertAgentInit {
  readonly libp2p: Libp2p<{ pubsub: GossipSub }>
  readonly registry: Registry
  readonly privateKey: PrivateKey
  readonly lattice: string
  readonly timings?: Partial<AdvertTimings>
  readonly limits?: Partial<AdvertLimits>
  /** What this node serves and how to reach it, read at each publish. */
  readonly local: () => LocalView
  readonly log: Logger
}

/** Counters for metrics and simulations. */
export interface AdvertStats {
  published: number
  received: number
  synced: number
  /** Adverts dropped, by reason: `spoofed`, `bad-signature`, `stale`, or the decoder's problem. */
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
  const limits: AdvertLimits = { ...defaultAdvertLimits, ...init.limits }
  const topic = advertTopic(lattice)
  const protocol = syncProtocol(lattice)
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

  const drop = (reason: string, peer: string, detail: string): void => {
    stats.dropped[reason] = (stats.dropped[reason] ?? 0) + 1
    // Logged once per peer and reason: a hostile peer must not flood the log.
    const key = `${peer}/${reason}`
    if (!warned.has(key) && warned.size < 10_000) {
      warned.add(key)
      log.warn(`dropped an advert from ${peer} (${reason}): ${detail}`)
    }
  }

  /** Decodes, verifies and applies one signed envelope; `from` is the peer gossipsub says signed the message. */
  async function ingest (envelope: Uint8Array, source: 'gossip' | 'sync', from: string): Promise<ApplyResult | 'dropped'> {
    let advert: Advert
    try {
      const signed = decodeSignedAdvert(envelope, limits)
      advert = decodeAdvert(signed.advert, limits)
      if (source === 'gossip' && advert.peer !== from) {
        drop('spoofed', from, `the advert claims to be from ${advert.peer}`)
        return 'dropped'
      }
      // Signatures are what costs (Ed25519): an advert no newer than the one held changes nothing, so
      // it is not verified at all. Syncs with every new connection repeat mostly known adverts.
      if (advert.peer === self) return 'ignored'
      const held = registry.peer(advert.peer)?.seq
      if (held !== undefined && advert.seq <= held) return 'stale'
      const key = peerIdFromString(advert.peer).publicKey
      if (key === undefined || !(await key.verify(signed.advert, signed.signature))) {
        drop('bad-signature', from, `the signature does not match ${advert.peer}`)
        return 'dropped'
      }
    } catch (err) {
      drop(err instanceof AdvertError ? err.problem : 'malformed', from, (err as Error).message)
      return 'dropped'
    }
    stats.received++
    return registry.apply(advert, { source, signed: envelope })
  }

  async function sign (withdrawn: boolean): Promise<Uint8Array> {
    const view = init.local()
    const advert: Advert = {
      peer: self,
      seq: ++seq,
      lattice,
      addresses: view.addresses,
      labels: view.labels,
      exports: withdrawn ? [] : view.exports,
      ttlMs: timings.advertTtlMs,
      withdrawn
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

  async function sync (peer: PeerId): Promise<void> {
    let reply: Uint8Array
    try {
      reply = await request(libp2p, peer, protocol, new Uint8Array(0), {
        maxRequestBytes: 0,
        maxResponseBytes: limits.maxSyncBytes,
        timeoutMs: timings.syncTimeoutMs
      })
    } catch (err) {
      log.debug(`sync with ${peer.toString()} failed: ${(err as Error).message}`)
      return
    }
    let envelopes: Uint8Array[]
    try {
      envelopes = decodeAdvertList(reply, limits)
    } catch (err) {
      // Usually a peer that went away mid-reply (a short-lived `wasmesh call`): not worth a warning.
      stats.dropped['sync-reply'] = (stats.dropped['sync-reply'] ?? 0) + 1
      log.debug(`sync reply from ${peer.toString()} does not decode: ${(err as Error).message}`)
      return
    }
    stats.synced++
    for (const envelope of envelopes) await ingest(envelope, 'sync', peer.toString())
  }

  const onIdentify = (evt: CustomEvent<{ peerId: PeerId, protocols: string[] }>): void => {
    if (running && evt.detail.protocols.includes(protocol)) void sync(evt.detail.peerId)
  }

  return {
    stats,

    async start () {
      if (running) return
      running = true
      pubsub.topicValidators.set(topic, async (peer, msg) => {
        if (msg.type !== 'signed') {
          drop('unsigned', peer.toString(), 'adverts must be signed')
          return TopicValidatorResult.Reject
        }
        const result = await ingest(msg.data, 'gossip', msg.from.toString())
        if (result === 'dropped') return TopicValidatorResult.Reject
        // Stale and self adverts are still valid gossip for others, just not news here.
        return result === 'stale' || result === 'ignored' ? TopicValidatorResult.Ignore : TopicValidatorResult.Accept
      })
      pubsub.subscribe(topic)
      await handleRequests(libp2p, protocol, async () => encodeAdvertList(registry.snapshot(limits.maxAdvertsPerSync), limits), {
        maxRequestBytes: 0,
        maxResponseBytes: limits.maxSyncBytes,
        timeoutMs: timings.syncTimeoutMs
      })
      libp2p.addEventListener('peer:identify', onIdentify)
      // Peers identified before this agent started (while the node was loading components) are asked now.
      for (const connection of libp2p.getConnections()) {
        void libp2p.peerStore.get(connection.remotePeer)
          .then(p => { if (running && p.protocols.includes(protocol)) void sync(connection.remotePeer) }, () => {})
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
      await publishing
      await publishNow(true)
      running = false
      pubsub.topicValidators.delete(topic)
      pubsub.unsubscribe(topic)
      await libp2p.unhandle(protocol)
    },

    changed (what = 'exports') {
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
    },

    publish
  }
}
