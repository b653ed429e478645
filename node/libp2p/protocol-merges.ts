// Skips js-libp2p's peer-store write of "this peer speaks protocol P" on every stream when the same fact was written moments ago.

import type { Libp2p, PeerId, PeerStore } from '@libp2p/interface'

export interface ProtocolMergeOptions {
  /** A (peer, protocol) fact is written again at most this often while streams keep opening. Default 10 s. */
  readonly intervalMs?: number
  /** The most peers remembered; past it the oldest are forgotten (and simply written again). Default 4096. */
  readonly maxPeers?: number
}

type Merge = PeerStore['merge']

/**
 * libp2p's `Connection` awaits `peerStore.merge(peer, { protocols: [p] })` for every stream it
 * opens or accepts: a lock, a protobuf decode of the whole peer record, an encode and a datastore
 * write, to record a fact that rarely changes. This wraps the node's peer store `merge` so that
 * a merge of exactly `{ protocols }` already written for that peer within `intervalMs` (and with
 * no `peer:update` of that peer since) resolves at once with the peer as it was then. Every other
 * merge goes through unchanged; the record is still refreshed every `intervalMs` of traffic.
 * Upstream, `Connection` could check the protocol against the peer it already holds in memory.
 */
export function throttleProtocolMerges (libp2p: Libp2p, opts: ProtocolMergeOptions = {}): void {
  const intervalMs = opts.intervalMs ?? 10_000
  const maxPeers = opts.maxPeers ?? 4096
  const store = libp2p.peerStore
  const merge: Merge = store.merge.bind(store)
  // peer -> protocol -> when it was written, and the peer record that write returned
  const written = new Map<string, Map<string, { at: number, peer: Awaited<ReturnType<Merge>> }>>()

  libp2p.addEventListener('peer:update', evt => { written.delete(evt.detail.peer.id.toString()) })
  libp2p.addEventListener('peer:disconnect', evt => { written.delete(evt.detail.toString()) })

  store.merge = async (id: PeerId, data, options) => {
    const protocols = data.protocols
    if (protocols?.length !== 1 || Object.keys(data).length !== 1) return await merge(id, data, options)
    const key = id.toString()
    const protocol = protocols[0]
    const seen = written.get(key)?.get(protocol)
    const now = performance.now()
    if (seen !== undefined && now - seen.at < intervalMs) return seen.peer
    const peer = await merge(id, data, options)
    let forPeer = written.get(key)
    if (forPeer === undefined) {
      if (written.size >= maxPeers) written.delete(written.keys().next().value as string)
      written.set(key, forPeer = new Map())
    }
    forPeer.set(protocol, { at: now, peer })
    return peer
  }
}
