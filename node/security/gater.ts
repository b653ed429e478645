// The connection gater of the allow-list: a peer not on it is refused at the first point its id is proven (right after noise), before any protocol runs, and never dialled.

import type { ConnectionGater, MultiaddrConnection, PeerId } from '@libp2p/interface'
import type { AllowList } from './allow-list.ts'
import type { Refusals } from './refusals.ts'

/**
 * A libp2p `connectionGater` enforcing `allowList()` (read at each decision, so a reload applies to
 * the next connection at once). `undefined` lets every peer in. Noise has authenticated the remote's
 * peer id when `deny*EncryptedConnection` runs; the muxer, identify, gossipsub and wRPC come after,
 * so a refused peer never opens a stream.
 */
export function allowListGater (allowList: () => AllowList | undefined, refusals: Refusals): ConnectionGater {
  const denied = (peer: PeerId): boolean => {
    const list = allowList()
    return list !== undefined && !list.allows(peer.toString())
  }
  const encrypted = (direction: 'inbound' | 'outbound') => (peer: PeerId, maConn: MultiaddrConnection): boolean => {
    if (!denied(peer)) return false
    const addr = maConn.remoteAddr.toString()
    refusals.refused('not-allowed', peer.toString(), `${direction === 'inbound' ? 'connection from' : 'dialled'} peer ${peer.toString()} at ${addr}: not on the allow-list (--allow-peer, --trust-file)`)
    return true
  }
  return {
    denyDialPeer (peer) {
      if (!denied(peer)) return false
      refusals.refused('dial-not-allowed', peer.toString(), `not dialling peer ${peer.toString()}: not on the allow-list`)
      return true
    },
    denyInboundEncryptedConnection: encrypted('inbound'),
    denyOutboundEncryptedConnection: encrypted('outbound')
  }
}
