// Keeps a gossipsub peer after one RPC it sent could not be read (over maxInboundDataLength, a broken length prefix), so its later messages still arrive.

import type { Connection, Libp2p, PeerId, Stream } from '@libp2p/interface'
import type { GossipSub } from '@libp2p/gossipsub'

/**
 * What @libp2p/gossipsub 17 does when a peer's inbound stream fails to decode (its `private`
 * members, by name). It ends the read pipe and calls `handlePeerReadStreamError`, which removes the
 * peer from gossipsub altogether while the libp2p connection stays open: the peer is never added
 * back until it reconnects, and it keeps writing on a stream nobody reads. One 2 MiB message (over
 * the 1 MiB `maxInboundDataLength`) silenced every later advert of that peer on that connection.
 */
interface GossipInternals {
  streamsInbound: Map<string, { rawStream: Stream }>
  handlePeerReadStreamError (err: unknown, peerId: PeerId): void
  onPeerConnected (peerId: PeerId, connection: Connection): void
}

/**
 * After gossipsub drops a peer for an unreadable RPC, resets the peer's inbound stream (so the
 * peer's side of it closes and it opens a fresh one) and adds the peer back over its open
 * connection, as a new connection would. `onError` is told first, for counting. Returns the undo.
 */
export function recoverUnreadableRpcs (libp2p: Libp2p, pubsub: GossipSub, onError: (peer: PeerId, err: unknown) => void): () => void {
  const internals = pubsub as unknown as GossipInternals
  const original = internals.handlePeerReadStreamError
  internals.handlePeerReadStreamError = function (err: unknown, peerId: PeerId): void {
    try { onError(peerId, err) } catch {}
    const inbound = internals.streamsInbound.get(peerId.toString())
    // close() would leave the peer's writable side open and its messages unread; a reset tells it
    inbound?.rawStream.abort(err instanceof Error ? err : new Error(String(err)))
    original.call(this, err, peerId)
    const connection = libp2p.getConnections(peerId).find(c => c.status === 'open')
    if (connection !== undefined) internals.onPeerConnected(peerId, connection)
  }
  return () => { internals.handlePeerReadStreamError = original }
}
