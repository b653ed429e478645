// Replicates app records to every node with no leader: gossip on the lattice's apps topic, a direct push from a deployer, and a sync with each new peer.

import type { Libp2p, PeerId } from '@libp2p/interface'
import type { GossipSub } from '@libp2p/gossipsub'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import { handleRequests, request } from '../request.ts'
import type { Logger } from '../logger.ts'
import { AppError } from './errors.ts'

export function appsTopic (lattice: string): string {
  return `/wasmesh/${lattice}/apps/1`
}
/** A request of no body answered with every record the peer holds (a JSON list of tokens). */
export function appsSyncProtocol (lattice: string): string {
  return `/wasmesh/${lattice}/apps-sync/1.0.0`
}
/** A request of one token answered with `{result, code?, message?}`: how a deployer learns a node took its record. */
export function appsPushProtocol (lattice: string): string {
  return `/wasmesh/${lattice}/apps-push/1.0.0`
}

/** What taking one record did: `new` (held now), `stale` (a replay or older), or refused with the error's code. */
export type IngestResult = { readonly result: 'new' | 'stale' } | { readonly result: 'refused', readonly code: string, readonly message: string }

export interface ReplicatorInit {
  readonly libp2p: Libp2p<{ pubsub: GossipSub }>
  readonly lattice: string
  readonly log: Logger
  /** The largest record taken (`maxAppRecordBytes`); a sync reply may hold `maxAppSyncRecords` of them. */
  readonly maxRecordBytes: number
  readonly maxSyncRecords: number
  readonly syncTimeoutMs: number
  readonly tokens: () => string[]
  readonly ingest: (token: string, from: string) => Promise<IngestResult>
}

export interface ReplicatorStats {
  received: number
  published: number
  synced: number
  /** Records refused, by code (`bad-signature`, `invalid-record`, `not-allowed`, ...). */
  readonly refused: Record<string, number>
}

export interface Replicator {
  start (): Promise<void>
  stop (): Promise<void>
  /** Gossips a record this node just took. */
  publish (token: string): Promise<void>
  /** Syncs with every connected peer that speaks the apps sync, now; resolves when all answered or failed. */
  syncAll (): Promise<void>
  /** Sends a record straight to one peer and returns what it did with it. */
  push (peer: PeerId, token: string): Promise<IngestResult>
  readonly stats: ReplicatorStats
}

export function createReplicator (init: ReplicatorInit): Replicator {
  const { libp2p, lattice, log } = init
  const pubsub = libp2p.services.pubsub
  const topic = appsTopic(lattice)
  const sync = appsSyncProtocol(lattice)
  const pushProtocol = appsPushProtocol(lattice)
  const stats: ReplicatorStats = { received: 0, published: 0, synced: 0, refused: {} }
  const maxSyncBytes = init.maxRecordBytes * init.maxSyncRecords
  let running = false

  async function take (token: string, from: string): Promise<IngestResult> {
    const r = await init.ingest(token, from)
    if (r.result === 'new') stats.received++
    if (r.result === 'refused') stats.refused[r.code] = (stats.refused[r.code] ?? 0) + 1
    return r
  }

  async function syncWith (peer: PeerId): Promise<void> {
    let reply: Uint8Array
    try {
      reply = await request(libp2p, peer, sync, new Uint8Array(0), { maxRequestBytes: 0, maxResponseBytes: maxSyncBytes, timeoutMs: init.syncTimeoutMs })
    } catch (err) {
      log.debug(`apps sync with ${peer.toString()} failed: ${(err as Error).message}`)
      return
    }
    let tokens: unknown
    try { tokens = JSON.parse(new TextDecoder().decode(reply)) } catch { tokens = undefined }
    if (!Array.isArray(tokens) || tokens.length > init.maxSyncRecords) {
      stats.refused['sync-reply'] = (stats.refused['sync-reply'] ?? 0) + 1
      return
    }
    stats.synced++
    // Oldest first is not known here: a record older than one held is simply stale.
    for (const t of tokens) if (typeof t === 'string') await take(t, peer.toString())
  }

  const onIdentify = (evt: CustomEvent<{ peerId: PeerId, protocols: string[] }>): void => {
    if (running && evt.detail.protocols.includes(sync)) void syncWith(evt.detail.peerId)
  }

  const api: Replicator = {
    stats,
    async start () {
      if (running) return
      running = true
      pubsub.topicValidators.set(topic, async (_peer, msg) => {
        if (msg.type !== 'signed' || msg.data.byteLength > init.maxRecordBytes) return TopicValidatorResult.Reject
        const r = await take(new TextDecoder().decode(msg.data), msg.from.toString())
        if (r.result === 'new') return TopicValidatorResult.Accept
        // a forgery is the forwarder's fault only if it signed it; gossipsub scores the forwarder, so a stale or refused-by-policy record is just not passed on
        return r.result === 'refused' && (r.code === 'bad-signature' || r.code === 'invalid-record') ? TopicValidatorResult.Reject : TopicValidatorResult.Ignore
      })
      pubsub.subscribe(topic)
      const limits = { maxRequestBytes: 0, maxResponseBytes: maxSyncBytes, timeoutMs: init.syncTimeoutMs }
      await handleRequests(libp2p, sync, async () => new TextEncoder().encode(JSON.stringify(init.tokens().slice(-init.maxSyncRecords))), limits)
      await handleRequests(libp2p, pushProtocol, async (peer, body) => {
        const r = await take(new TextDecoder().decode(body), peer.toString())
        if (r.result === 'new') void api.publish(new TextDecoder().decode(body))
        return new TextEncoder().encode(JSON.stringify(r))
      }, { maxRequestBytes: init.maxRecordBytes, maxResponseBytes: 4096, timeoutMs: init.syncTimeoutMs })
      libp2p.addEventListener('peer:identify', onIdentify)
      for (const c of libp2p.getConnections()) {
        void libp2p.peerStore.get(c.remotePeer).then(p => { if (running && p.protocols.includes(sync)) void syncWith(c.remotePeer) }, () => {})
      }
    },
    async stop () {
      if (!running) return
      running = false
      libp2p.removeEventListener('peer:identify', onIdentify)
      pubsub.topicValidators.delete(topic)
      pubsub.unsubscribe(topic)
      await libp2p.unhandle([sync, pushProtocol])
    },
    async publish (token) {
      if (!running) return
      try {
        await pubsub.publish(topic, new TextEncoder().encode(token))
        stats.published++
      } catch (err) {
        // no gossip peer yet: pushes and syncs deliver it
        log.debug(`app record not gossiped: ${(err as Error).message}`)
      }
    },
    async syncAll () {
      await Promise.all(libp2p.getConnections().map(async c => {
        const p = await libp2p.peerStore.get(c.remotePeer).catch(() => undefined)
        if (p?.protocols.includes(sync) === true) await syncWith(c.remotePeer)
      }))
    },
    async push (peer, token) {
      const reply = await request(libp2p, peer, pushProtocol, new TextEncoder().encode(token), { maxRequestBytes: init.maxRecordBytes, maxResponseBytes: 4096, timeoutMs: init.syncTimeoutMs })
      try {
        const r = JSON.parse(new TextDecoder().decode(reply)) as IngestResult
        if (r.result === 'new' || r.result === 'stale' || r.result === 'refused') return r
      } catch {}
      throw new AppError('not-delivered', `${peer.toString()} answered the push with something that is not an answer`)
    }
  }
  return api
}
