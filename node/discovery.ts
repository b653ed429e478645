// Peers found on the LAN by mDNS get dialled (libp2p only records them); what AutoNAT and the relay server know, for stats.

import type { Libp2p, PeerInfo } from '@libp2p/interface'
import type { CircuitRelayService } from '@libp2p/circuit-relay-v2'
import type { AddressManager } from '@libp2p/interface-internal'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Logger } from './logger.ts'
import type { MeshLibp2p } from './libp2p.ts'

export interface LanDiscovery {
  start (): void
  stop (): void
}

/**
 * Dials each peer a discovery module (mDNS) reports that the node is not connected to, at most `maxDialsInFlight`
 * at once: a LAN full of nodes answering one query does not make the node dial all of them together. A peer of
 * another private lattice fails in the handshake (and is counted there); mDNS's tag keeps most of them away.
 */
export function createLanDiscovery (libp2p: Libp2p, log: Logger, maxDialsInFlight = 4): LanDiscovery {
  const dialling = new Set<string>()
  const onDiscovery = (evt: CustomEvent<PeerInfo>): void => {
    const peer = evt.detail.id
    const id = peer.toString()
    if (id === libp2p.peerId.toString() || dialling.has(id) || dialling.size >= maxDialsInFlight) return
    if (libp2p.getConnections(peer).some(c => c.status === 'open')) return
    dialling.add(id)
    libp2p.dial(peer, { signal: AbortSignal.timeout(10_000) })
      .then(() => { log.debug(`connected to ${id}, found on the LAN`) })
      .catch((err: Error) => { log.debug(`${id}, found on the LAN: ${err.message}`) })
      .finally(() => { dialling.delete(id) })
  }
  return {
    start () { libp2p.addEventListener('peer:discovery', onDiscovery) },
    stop () { libp2p.removeEventListener('peer:discovery', onDiscovery) }
  }
}

/**
 * This node's addresses with AutoNAT's verdicts (libp2p's address manager, which its public interface does
 * not expose); without it, every address unverified.
 */
export function addressVerdicts (libp2p: Libp2p): Array<{ multiaddr: Multiaddr, verified: boolean, type?: string }> {
  const manager = (libp2p as unknown as { components?: { addressManager?: AddressManager } }).components?.addressManager
  return manager?.getAddressesWithMetadata() ?? libp2p.getMultiaddrs().map(multiaddr => ({ multiaddr, verified: true }))
}

/** Peers holding a relay slot on this node, when it offers a relay. */
export function relayStats (libp2p: MeshLibp2p): { relayReservations?: number } {
  const relay = libp2p.services.relay as CircuitRelayService | undefined
  return relay === undefined ? {} : { relayReservations: relay.reservations.size }
}
