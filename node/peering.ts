// Keeps a node connected to enough peers of its lattice that gossip has a mesh to travel on, dialling peers it learned of from adverts.

import { peerIdFromString } from '@libp2p/peer-id'
import type { Libp2p } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import type { Logger } from './logger.ts'
import type { Registry } from './registry.ts'

export interface PeeringOptions {
  /**
   * Connections to keep at least. Nodes otherwise connect only to their bootstrap peers and to
   * the servers they call, and gossipsub's mesh (D 6, at least 4) can be no denser than that: a
   * star through the seeds, which a crashed seed cuts in pieces. 8 leaves room for D plus gossip.
   */
  readonly minPeers: number
  /** How often to check. */
  readonly intervalMs: number
  /** Dials started per check, so that a node that lost everything does not dial the whole lattice at once. */
  readonly maxDialsPerRound: number
}

export const defaultPeeringOptions: PeeringOptions = Object.freeze({
  minPeers: 8,
  intervalMs: 5_000,
  maxDialsPerRound: 4
})

export interface Peering {
  start (): void
  stop (): void
  /** Checks now (also runs on the interval). */
  check (): void
}

export function createPeering (libp2p: Libp2p, registry: Registry, log: Logger, opts: Partial<PeeringOptions> = {}, random: () => number = Math.random): Peering {
  const o: PeeringOptions = { ...defaultPeeringOptions, ...opts }
  let timer: ReturnType<typeof setInterval> | undefined
  let dialling = 0

  const check = (): void => {
    if (timer === undefined) return
    const connected = new Set(libp2p.getConnections().map(c => c.remotePeer.toString()))
    const missing = o.minPeers - connected.size - dialling
    if (missing <= 0) return
    const candidates = registry.peers().filter(p => !p.local && p.healthy && p.addresses.length > 0 && !connected.has(p.peer))
    // A random choice, so that nodes that learned the same adverts do not all dial the same few peers;
    // peers only a relay vouched for after the plausible ones (a sync reply can list any number).
    for (let i = candidates.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1))
      ;[candidates[i], candidates[j]] = [candidates[j], candidates[i]]
    }
    candidates.sort((a, b) => Number(b.plausible) - Number(a.plausible))
    for (const p of candidates.slice(0, Math.min(missing, o.maxDialsPerRound))) {
      dialling++
      const addrs = p.addresses.flatMap(a => { try { return [multiaddr(a)] } catch { return [] } })
      libp2p.dial(addrs.length > 0 ? addrs : peerIdFromString(p.peer))
        .catch(err => { log.debug(`peering with ${p.peer}: ${(err as Error).message}`) })
        .finally(() => { dialling-- })
    }
  }

  return {
    start () {
      if (timer !== undefined) return
      timer = setInterval(check, o.intervalMs)
      check()
    },
    stop () {
      clearInterval(timer)
      timer = undefined
    },
    check
  }
}
