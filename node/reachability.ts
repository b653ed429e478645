// Which of a node's addresses others can dial: public or private, relayed, verified by AutoNAT, and what adverts carry.

import { networkInterfaces } from 'node:os'
import type { NetworkInterfaceInfo } from 'node:os'
import { createHash } from 'node:crypto'
import { isPrivateIp } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import type { Multiaddr } from '@multiformats/multiaddr'

/** How other peers can reach this node, as far as it knows. */
export type Reachability =
  /** An address AutoNAT confirmed (peers dialled it back), or a public address with no verdict yet. */
  | 'public'
  /** Only through a relay: a relayed address is held, no direct address is confirmed. */
  | 'relayed'
  /** Private or loopback addresses only: peers on the same network (or machine) can dial it, no one else. */
  | 'private'

function ipOf (addr: Multiaddr): { ip: string, family: 4 | 6 } | undefined {
  for (const c of addr.getComponents()) {
    if (c.name === 'ip4' && c.value !== undefined) return { ip: c.value, family: 4 }
    if (c.name === 'ip6' && c.value !== undefined) return { ip: c.value, family: 6 }
  }
  return undefined
}

export function isRelayed (addr: string | Multiaddr): boolean {
  return (typeof addr === 'string' ? addr : addr.toString()).includes('/p2p-circuit')
}

/** The relays a node's own addresses go through: the peer id before each `/p2p-circuit`, each once. */
export function relaysHeld (addrs: readonly Multiaddr[]): string[] {
  const relays = new Set<string>()
  for (const addr of addrs) {
    let last: string | undefined
    for (const c of addr.getComponents()) {
      if (c.name === 'p2p') last = c.value
      else if (c.name === 'p2p-circuit' && last !== undefined) relays.add(last)
    }
  }
  return [...relays]
}

export function isLoopback (addr: Multiaddr): boolean {
  const ip = ipOf(addr)?.ip
  return ip !== undefined && (ip.startsWith('127.') || ip === '::1')
}

/** A direct address on a public IP (libp2p's list of private ranges, which includes the documentation ranges). */
export function isPublicAddress (addr: Multiaddr): boolean {
  if (isRelayed(addr)) return false
  const ip = ipOf(addr)
  if (ip === undefined) return addr.getComponents().some(c => c.name === 'dns4' || c.name === 'dns6' || c.name === 'dnsaddr')
  return isPrivateIp(ip.ip) === false
}

/**
 * Whether a node listening on `listen` has a public address: an unspecified listen address (`0.0.0.0`, `::`)
 * stands for every interface of this machine. Decides, before libp2p starts, whether the node takes a relay slot.
 */
export function listensPublicly (listen: readonly string[], interfaces: NodeJS.Dict<NetworkInterfaceInfo[]> = networkInterfaces()): boolean {
  const local = Object.values(interfaces).flatMap(list => list ?? [])
  for (const text of listen) {
    if (isRelayed(text)) continue
    let addr: Multiaddr
    try {
      addr = multiaddr(text)
    } catch {
      continue
    }
    const ip = ipOf(addr)
    if (ip === undefined) continue
    const unspecified = ip.ip === '0.0.0.0' || ip.ip === '::'
    const candidates = unspecified ? local.filter(i => (i.family === 'IPv4' ? 4 : 6) === ip.family).map(i => i.address) : [ip.ip]
    if (candidates.some(c => isPrivateIp(c) === false)) return true
  }
  return false
}

/** Whether every listen address is loopback (a node other machines cannot reach, which needs no relay). */
export function loopbackOnly (listen: readonly string[]): boolean {
  return listen.length > 0 && listen.every(t => /^\/ip4\/127\.|^\/ip6\/::1\//.test(t))
}

/**
 * The addresses an advert carries: loopback ones only when the node has nothing else (they name the
 * advertiser's machine to whoever reads them, and every remote peer would dial its own).
 */
export function advertisedAddresses (addrs: readonly Multiaddr[]): string[] {
  const others = addrs.filter(a => !isLoopback(a))
  return (others.length > 0 ? others : addrs).map(a => a.toString())
}

/**
 * The addresses a node gives out (`node.addresses()`, adverts), each ending in `/p2p/<peer>`. libp2p 3 shares a
 * public address only once AutoNAT verified it, so a lone node on a public IP (the first bootstrap node of a
 * lattice) would give out none: here every address the node listens on or announces counts, verified or not
 * (a peer that cannot dial one tries the next), and an address peers only observed counts once verified.
 */
export function dialableAddresses (addrs: ReadonlyArray<{ readonly multiaddr: Multiaddr, readonly verified: boolean, readonly type?: string }>, peer: string): Multiaddr[] {
  const seen = new Set<string>()
  const out: Multiaddr[] = []
  for (const a of addrs) {
    if (a.type === 'observed' && !a.verified) continue
    const last = a.multiaddr.getComponents().findLast(c => c.name === 'p2p')?.value
    const full = last === peer ? a.multiaddr : a.multiaddr.encapsulate(`/p2p/${peer}`)
    const key = full.toString()
    if (seen.has(key)) continue
    seen.add(key)
    out.push(full)
  }
  return out
}

/** The node's reachability from its addresses and AutoNAT's verdicts on them. */
export function reachabilityOf (addrs: ReadonlyArray<{ readonly multiaddr: Multiaddr, readonly verified: boolean }>): Reachability {
  if (addrs.some(a => a.verified && isPublicAddress(a.multiaddr))) return 'public'
  if (addrs.some(a => isRelayed(a.multiaddr))) return 'relayed'
  if (addrs.some(a => isPublicAddress(a.multiaddr))) return 'public'
  return 'private'
}

/**
 * The mDNS service tag of a lattice: peers of other lattices on the LAN do not even find each other. With a
 * lattice key the tag is derived from the key too (one-way: the tag reveals nothing of it), so nodes of two
 * private lattices of the same name stay apart, and an outsider learns nothing it could not see by scanning.
 */
export function mdnsServiceTag (lattice: string, latticeKey?: Uint8Array): string {
  const h = createHash('sha256').update('wasmesh mdns\n').update(lattice)
  if (latticeKey !== undefined) h.update('\n').update(latticeKey)
  return `_wasmesh-${h.digest('hex').slice(0, 16)}._udp.local`
}
