// What the console shows of a node at one moment: its peers, what they serve, its connections, its calls counted so far.

import type { MeshNode } from '../api.ts'
import type { CallCounts, Metrics } from '../metrics.ts'

export interface ConsoleState {
  readonly at: number
  readonly node: {
    readonly peer: string
    readonly lattice: string
    readonly version?: string
    readonly uptimeMs: number
    readonly addresses: readonly string[]
    readonly http?: string
  }
  readonly peers: ReadonlyArray<{
    readonly peer: string
    readonly local: boolean
    readonly client: boolean
    readonly connected: boolean
    readonly healthy: boolean
    readonly labels: Readonly<Record<string, string>>
    readonly addresses: readonly string[]
    readonly latencyMs?: number
    readonly inflight: number
    readonly ageMs?: number
    readonly exports: ReadonlyArray<{ readonly iface: string, readonly name?: string, readonly digest: string, readonly capacity: number, readonly load: number }>
  }>
  readonly connections: ReadonlyArray<{ readonly peer: string, readonly direction: 'inbound' | 'outbound', readonly remoteAddr: string, readonly streams: number }>
  readonly components: ReadonlyArray<{ readonly name: string, readonly digest: string, readonly instances: number, readonly busy: number, readonly queued: number }>
  readonly calls?: CallCounts
}

export interface StateLimits {
  /** Peers listed (the local node first, then connected ones); the rest are counted in `omittedPeers`. */
  readonly maxPeers: number
}

/** A snapshot for the page: plain JSON (bigints and labels as strings), bounded by `limits`. */
export function consoleState (node: MeshNode, opts: { metrics?: Metrics, version?: string, startedAt: number, limits: StateLimits }): ConsoleState & { omittedPeers: number } {
  const all = node.peers()
  // the local node first, then connected peers, then the rest: what is cut past maxPeers is the least interesting
  all.sort((a, b) => Number(b.local) - Number(a.local) || Number(b.connected) - Number(a.connected) || a.peer.localeCompare(b.peer))
  const shown = all.slice(0, opts.limits.maxPeers)
  const components = []
  for (const c of node.components()) {
    try {
      const pool = node.componentStats(c.id)
      components.push({ name: c.name, digest: c.digest, instances: pool.instances, busy: pool.busy, queued: pool.queued })
    } catch {
      // unloaded between the two calls
    }
  }
  return {
    at: Date.now(),
    node: {
      peer: node.peerId,
      lattice: node.lattice,
      ...(opts.version !== undefined ? { version: opts.version } : {}),
      uptimeMs: Date.now() - opts.startedAt,
      addresses: node.addresses(),
      ...(node.httpUrl() !== undefined ? { http: node.httpUrl() } : {})
    },
    peers: shown.map(p => ({
      peer: p.peer,
      local: p.local,
      client: p.client === true,
      connected: p.connected,
      healthy: p.healthy,
      labels: p.labels,
      addresses: p.addresses,
      ...(p.latencyMs !== undefined ? { latencyMs: p.latencyMs } : {}),
      inflight: p.inflight,
      ...(p.ageMs !== undefined ? { ageMs: p.ageMs } : {}),
      exports: p.exports.map(e => ({ iface: e.iface, ...(e.name !== undefined ? { name: e.name } : {}), digest: e.digest, capacity: e.capacity, load: e.load }))
    })),
    omittedPeers: all.length - shown.length,
    connections: node.connections().map(c => ({ peer: c.peer, direction: c.direction, remoteAddr: c.remoteAddr, streams: c.streams.length })),
    components,
    ...(opts.metrics !== undefined ? { calls: opts.metrics.calls() } : {})
  }
}
