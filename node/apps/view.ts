// What `app list` and `app status` show, computed by any node (or client) from the records it holds and the adverts it has.

import type { PeerView } from '../registry.ts'
import { AppError } from './errors.ts'
import { parseManifest } from './manifest.ts'
import type { AppManifest, ManifestLimits } from './manifest.ts'
import { placeApp } from './placement.ts'
import type { Host } from './placement.ts'
import type { SignedAppRecord } from './record.ts'
import { decodeStatus } from './status.ts'
import type { ReplicaEntry } from './status.ts'

export interface AppVersion {
  readonly app: string
  readonly kind: 'deploy' | 'undeploy'
  readonly version: string
  /** `SignedAppRecord.id`. */
  readonly id: string
  readonly seq: number
  readonly deployedAt: string
  readonly deployer: string
}

export interface ComponentStatus {
  readonly name: string
  readonly type: 'component' | 'capability'
  readonly image: string
  readonly desired: number
  /** Replicas of the current version running, from adverts. */
  readonly running: number
  /** Replicas of older versions still running (a roll-over in progress). */
  readonly previous: number
  /** Peers running it, with their replica counts. */
  readonly hosts: Readonly<Record<string, number>>
  /** Why running < desired, when it is: `no host matches the labels`, or the problems hosts advertise. */
  readonly reasons: readonly string[]
}

export interface AppStatus {
  readonly app: string
  readonly version: AppVersion
  /** `deployed`: every component runs exactly its desired replicas, none of an older version; `reconciling`: not yet (see each component's reasons); `undeployed`. */
  readonly state: 'deployed' | 'reconciling' | 'undeployed'
  readonly components: readonly ComponentStatus[]
}

export function versionOf (r: SignedAppRecord): AppVersion {
  return { app: r.record.app, kind: r.record.kind, version: r.record.version, id: r.id, seq: r.record.seq, deployedAt: new Date(r.record.seq).toISOString(), deployer: r.record.deployer }
}

/** The hosts placement counts: nodes, not short-lived clients. */
export function hostsOf (peers: readonly PeerView[]): Host[] {
  return peers.filter(p => p.client !== true).map(p => ({ peer: p.peer, labels: p.labels }))
}

export function manifestOf (r: SignedAppRecord, limits?: Partial<ManifestLimits>): AppManifest {
  return parseManifest(r.record.manifest ?? '', { baseDir: r.record.baseDir, limits })
}

const problemText: Record<string, string> = {
  starting: 'starting',
  'image-not-found': 'image not found',
  'load-failed': 'component failed to load',
  'start-failed': 'provider failed to start',
  'address-in-use': 'HTTP address in use'
}

/** The status of one app from its newest record and what every peer (this node included, via `local`) advertises. */
export function appStatus (r: SignedAppRecord, peers: readonly PeerView[], local: readonly ReplicaEntry[], limits?: Partial<ManifestLimits>): AppStatus {
  const version = versionOf(r)
  const entries: Array<{ peer: string, e: ReplicaEntry }> = []
  for (const p of peers) {
    for (const e of p.local ? local : decodeStatus(p.apps)) if (e.app === r.record.app) entries.push({ peer: p.peer, e })
  }
  if (r.record.kind === 'undeploy') {
    return { app: r.record.app, version, state: 'undeployed', components: [] }
  }
  let manifest: AppManifest
  try {
    manifest = manifestOf(r, limits)
  } catch (err) {
    throw new AppError('invalid-manifest', `the deployed manifest of ${r.record.app} no longer parses here: ${(err as Error).message}`)
  }
  const placement = placeApp(manifest, hostsOf(peers))
  const components = manifest.components.map((c): ComponentStatus => {
    const p = placement.get(c.name)
    const mine = entries.filter(x => x.e.component === c.name)
    const current = mine.filter(x => x.e.id === r.id)
    const running = current.reduce((n, x) => n + (x.e.problem === undefined ? x.e.running : 0), 0)
    const hosts: Record<string, number> = {}
    for (const x of current) if (x.e.problem === undefined) hosts[x.peer] = x.e.running
    const previous = mine.filter(x => x.e.id !== r.id).reduce((n, x) => n + x.e.running, 0)
    const desired = p?.desired ?? 0
    const reasons: string[] = []
    if (p === undefined) reasons.push('provided by the mesh itself (messaging over gossip)')
    else if (running > desired) reasons.push('handing over: hosts that lost replicas run them until their new owners do')
    else if (running < desired) {
      if (p.unplaced > 0) reasons.push(`no host matches the labels (${p.unplaced} replica${p.unplaced === 1 ? '' : 's'})`)
      for (const x of current) if (x.e.problem !== undefined) reasons.push(`${problemText[x.e.problem]} on ${x.peer}`)
      if (reasons.length === 0) reasons.push('placing: the hosts it was given have not advertised it yet')
    }
    return { name: c.name, type: c.type, image: c.image, desired: p === undefined ? 0 : desired, running: p === undefined ? 0 : running, previous, hosts, reasons }
  })
  // More than asked for is not settled either: a host that lost a replica still runs it until the new owner does.
  const done = components.every(c => c.running === c.desired && c.previous === 0)
  return { app: r.record.app, version, state: done ? 'deployed' : 'reconciling', components }
}
