// Leaderless placement: from the same manifest and the same hosts every node computes the same replicas per host (rendezvous hashing with label filters and weights).

import { createHash } from 'node:crypto'
import type { AppComponent, AppManifest, Scaler, Spread } from './manifest.ts'

export interface Host {
  readonly peer: string
  readonly labels: Readonly<Record<string, string>>
}

export interface ComponentPlacement {
  /** Replicas asked for: spread instances, or daemon instances x qualifying hosts. */
  readonly desired: number
  /** Replicas per peer (only peers with at least one). */
  readonly hosts: ReadonlyMap<string, number>
  /** Replicas no host could take, with why (`no-host-matches`: no host carries the spread's labels). */
  readonly unplaced: number
}

/** Placement per component name. */
export type AppPlacement = ReadonlyMap<string, ComponentPlacement>

function matches (host: Host, spread: Spread): boolean {
  return Object.entries(spread.requirements).every(([k, v]) => Object.hasOwn(host.labels, k) && host.labels[k] === v)
}

/** The rendezvous score of a host for one replica: the first 8 bytes of a sha256, the same on every node. */
function score (key: string, peer: string): bigint {
  return createHash('sha256').update(key).update('\0').update(peer).digest().readBigUInt64BE(0)
}

/**
 * Replicas per spread by weight, largest remainder first (ties by spread order), so the shares always add up
 * to `instances` and every node rounds the same way.
 */
export function spreadShares (instances: number, spreads: readonly Spread[]): number[] {
  const total = spreads.reduce((n, s) => n + s.weight, 0)
  const exact = spreads.map(s => instances * s.weight / total)
  const shares = exact.map(Math.floor)
  let left = instances - shares.reduce((n, s) => n + s, 0)
  const order = exact.map((e, i) => ({ i, r: e - Math.floor(e) })).sort((a, b) => b.r - a.r || a.i - b.i)
  for (const { i } of order) {
    if (left === 0) break
    shares[i]++
    left--
  }
  return shares
}

function add (hosts: Map<string, number>, peer: string, n: number): void {
  hosts.set(peer, (hosts.get(peer) ?? 0) + n)
}

/** Places one component's scaler over `hosts` (sorted input not needed: scores decide). */
export function placeComponent (app: string, component: string, scaler: Scaler, hosts: readonly Host[]): ComponentPlacement {
  const out = new Map<string, number>()
  const spreads: readonly Spread[] = scaler.spreads.length > 0 ? scaler.spreads : [{ name: '', requirements: {}, weight: 100 }]
  if (scaler.kind === 'daemon') {
    let desired = 0
    let unplaced = 0
    for (const s of spreads) {
      const eligible = hosts.filter(h => matches(h, s))
      if (eligible.length === 0) unplaced += scaler.instances
      for (const h of eligible) add(out, h.peer, scaler.instances)
      desired += scaler.instances * Math.max(1, eligible.length)
    }
    return { desired, hosts: out, unplaced }
  }
  const shares = spreadShares(scaler.instances, spreads)
  let unplaced = 0
  spreads.forEach((s, si) => {
    const eligible = hosts.filter(h => matches(h, s))
    if (eligible.length === 0) { unplaced += shares[si]; return }
    // Each replica goes to the host with the highest score for it: a host that leaves moves only its own
    // replicas, and one that joins takes only the replicas it now scores highest for.
    for (let r = 0; r < shares[si]; r++) {
      const key = `${app}/${component}/${s.name}/${r}`
      let best = eligible[0]
      let bestScore = score(key, best.peer)
      for (let i = 1; i < eligible.length; i++) {
        const sc = score(key, eligible[i].peer)
        if (sc > bestScore || (sc === bestScore && eligible[i].peer > best.peer)) { best = eligible[i]; bestScore = sc }
      }
      add(out, best.peer, 1)
    }
  })
  return { desired: scaler.instances, hosts: out, unplaced }
}

/** Placement of every component and capability of an app that runs somewhere (the mesh's own messaging runs nowhere). */
export function placeApp (manifest: AppManifest, hosts: readonly Host[]): AppPlacement {
  const out = new Map<string, ComponentPlacement>()
  for (const c of manifest.components) {
    if (!placed(c)) continue
    out.set(c.name, placeComponent(manifest.name, c.name, c.scaler, hosts))
  }
  return out
}

/** Whether a component is placed on hosts at all: messaging is the mesh's own (gossip) and runs on every node already. */
export function placed (c: AppComponent): boolean {
  return c.capability?.kind !== 'messaging'
}
