// Scenario files (YAML or JSON): what a simulation runs, validated with an error per offending key.

import { existsSync, statSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { basename, extname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml'
import { parseManifest } from '../node/apps/index.ts'
import { SimulationError } from './errors.ts'

/** How nodes find each other at start: one seed everyone bootstraps to, several, or a few random earlier nodes each. */
export type Topology =
  | { readonly kind: 'seed' }
  | { readonly kind: 'seeds', readonly count: number }
  | { readonly kind: 'random', readonly degree: number }

export interface Region {
  readonly name: string
}

/** The links between nodes. What is modelled and how is described in simulations/README.md. */
export interface NetworkModel {
  /** Nodes are placed in regions round-robin (node i in region i mod n). */
  readonly regions: readonly Region[]
  /** One-way propagation delay within a region and between two regions. */
  readonly latencyMs: { readonly intra: number, readonly inter: number }
  /** Each chunk is delayed by a further uniform 0..jitterMs (order is kept, as on a TCP stream). */
  readonly jitterMs: number
  /** Probability that one transmission of a chunk is lost; each loss costs a retransmission timeout. */
  readonly lossRate: number
  /** The first retransmission timeout (then doubling, as TCP backs off), at least 2 RTT. */
  readonly minRtoMs: number
  /** Each node's uplink in bytes/s (chunks queue behind each other); 0 = unlimited. */
  readonly bandwidthBytesPerS: number
}

/** What some nodes serve: the built-in no-work provider, or a component file. */
export interface ServiceSpec {
  /** `echo`: native code answering `echo(payload) -> payload` on `wasmesh:sim/<iface>@0.1.0`. */
  readonly provider?: 'echo'
  /** A component file (path relative to the working directory) instead of a provider. */
  readonly component?: string
  /** The provider's interface name (default `echo`). */
  readonly iface: string
  /** `all`, a number of nodes (chosen by the seed), or a list of node indexes. */
  readonly on: 'all' | number | readonly number[]
  readonly capacity: number
}

export interface WorkloadSpec {
  readonly callsPerS: number
  /** `random`: a random live node per call; or these node indexes. */
  readonly from: 'random' | readonly number[]
  /** A full interface id, or a provider's short name (`echo` = `wasmesh:sim/echo@0.1.0`). */
  readonly iface: string
  readonly func: string
  /** The payload of an `echo` call. */
  readonly payloadBytes: number
  /** Parameters as JSON values, for component functions (instead of a payload). */
  readonly args?: readonly unknown[]
  readonly startS: number
  /** Default: the scenario's duration. */
  readonly endS?: number
}

export type NodePick = number | 'random'

export type EventSpec =
  | { readonly kind: 'crash' | 'leave' | 'restart', readonly at: number, readonly node: NodePick, readonly count: number }
  | { readonly kind: 'join', readonly at: number, readonly count: number }
  | { readonly kind: 'churn', readonly fromS: number, readonly toS: number, readonly ratePerS: number, readonly downS: number }
  | { readonly kind: 'partition', readonly at: number, readonly groups: number | readonly (readonly number[])[], readonly healAt?: number }
  | { readonly kind: 'heal', readonly at: number }
  | { readonly kind: 'export' | 'unexport', readonly at: number, readonly node: NodePick, readonly iface: string }

export interface Scenario {
  readonly name: string
  readonly description: string
  readonly seed: number
  readonly durationS: number
  readonly nodes: number
  readonly topology: Topology
  readonly network: NetworkModel
  /** `plaintext` for scale (every node in one process); `noise` as in production. */
  readonly encryption: 'plaintext' | 'noise'
  /** Advert cadence of every node (production defaults when absent). */
  readonly timings: { readonly advertIntervalMs?: number, readonly advertTtlMs?: number, readonly syncsUntilWarm?: number }
  /** Gossipsub overrides (mesh degree, heartbeat). */
  readonly gossipsub: { readonly D?: number, readonly Dlo?: number, readonly Dhi?: number, readonly heartbeatIntervalMs?: number }
  /** Nodes started at once while the mesh comes up. */
  readonly startConcurrency: number
  /** The longest wait for the initial mesh to converge before the timeline starts. */
  readonly settleS: number
  readonly services: readonly ServiceSpec[]
  readonly workload: readonly WorkloadSpec[]
  readonly events: readonly EventSpec[]
  /** Apps (wadm manifests) deployed during the timeline, their replicas counted over time. */
  readonly apps: readonly AppSpec[]
}

/** An app deployed at `at` s of the timeline from node `from`; `manifest` is the wadm manifest as YAML text. */
export interface AppSpec {
  readonly at: number
  readonly from: number
  readonly manifest: string
  /** Its `metadata.name`. */
  readonly name: string
}

export interface ScenarioOverrides {
  readonly seed?: number
  readonly nodes?: number
  readonly durationS?: number
}

export const scenariosDir = fileURLToPath(new URL('./scenarios/', import.meta.url))

/** Names of the shipped scenarios. */
export const shippedScenarios = ['smoke', 'mesh-40', 'mesh-100', 'churn-100', 'partition-60', 'scale-1000', 'apps-100'] as const

/** The interface id a provider's short name stands for. */
export function providerInterface (name: string): string {
  return name.includes(':') ? name : `wasmesh:sim/${name}@0.1.0`
}

type Json = unknown

/** Collects problems, one per key, so that a bad file is fixed in one go. */
class Checker {
  readonly problems: string[] = []

  problem (key: string, text: string): undefined {
    this.problems.push(`${key}: ${text}`)
    return undefined
  }

  object (v: Json, key: string): Record<string, Json> | undefined {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return this.problem(key, `must be a mapping, got ${describe(v)}`)
    return v as Record<string, Json>
  }

  known (o: Record<string, Json>, key: string, allowed: readonly string[]): void {
    for (const k of Object.keys(o)) {
      if (!allowed.includes(k)) this.problem(join2(key, k), `unknown key (known: ${allowed.join(', ')})`)
    }
  }

  number (v: Json, key: string, opts: { min?: number, max?: number, integer?: boolean, def?: number } = {}): number | undefined {
    if (v === undefined && opts.def !== undefined) return opts.def
    if (v === undefined) return this.problem(key, 'is required')
    if (typeof v !== 'number' || !Number.isFinite(v)) return this.problem(key, `must be a number, got ${describe(v)}`)
    if (opts.integer === true && !Number.isInteger(v)) return this.problem(key, `must be a whole number, got ${v}`)
    if (opts.min !== undefined && v < opts.min) return this.problem(key, `must be at least ${opts.min}, got ${v}`)
    if (opts.max !== undefined && v > opts.max) return this.problem(key, `must be at most ${opts.max}, got ${v}`)
    return v
  }

  string (v: Json, key: string, def?: string): string | undefined {
    if (v === undefined && def !== undefined) return def
    if (typeof v !== 'string' || v.length === 0) return this.problem(key, `must be a non-empty string, got ${describe(v)}`)
    return v
  }

  oneOf<T extends string> (v: Json, key: string, options: readonly T[], def?: T): T | undefined {
    if (v === undefined && def !== undefined) return def
    if (typeof v !== 'string' || !(options as readonly string[]).includes(v)) return this.problem(key, `must be one of ${options.join(', ')}, got ${describe(v)}`)
    return v as T
  }

  list (v: Json, key: string, def?: Json[]): Json[] | undefined {
    if (v === undefined && def !== undefined) return def
    if (!Array.isArray(v)) return this.problem(key, `must be a list, got ${describe(v)}`)
    return v
  }
}

function join2 (key: string, k: string): string {
  return key === '' ? k : `${key}.${k}`
}

function describe (v: Json): string {
  if (v === undefined) return 'nothing'
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'a list'
  if (typeof v === 'object') return 'a mapping'
  return JSON.stringify(v)
}

/** Checks a parsed scenario document and fills in defaults; throws `invalid-scenario` listing every problem. */
export function validateScenario (doc: Json, overrides: ScenarioOverrides = {}): Scenario {
  const c = new Checker()
  const root = c.object(doc, '(scenario)')
  if (root === undefined) throw new SimulationError('invalid-scenario', 'the scenario is not valid', c.problems)
  c.known(root, '', ['name', 'description', 'seed', 'durationS', 'nodes', 'topology', 'network', 'encryption', 'timings', 'gossipsub', 'startConcurrency', 'settleS', 'services', 'workload', 'events', 'apps'])

  const name = c.string(root.name, 'name') ?? ''
  const description = typeof root.description === 'string' ? root.description : ''
  const seed = overrides.seed ?? c.number(root.seed, 'seed', { integer: true, min: 0, def: 1 }) ?? 1
  const fileDurationS = c.number(root.durationS, 'durationS', { min: 1, max: 86_400 }) ?? 1
  const durationS = overrides.durationS ?? fileDurationS
  // times in the file are checked against the file's duration; a shorter --duration just leaves later events out
  const limitS = Math.max(durationS, fileDurationS)
  const nodes = overrides.nodes ?? c.number(root.nodes, 'nodes', { integer: true, min: 1, max: 5_000 }) ?? 1
  if (overrides.nodes !== undefined && (!Number.isInteger(nodes) || nodes < 1)) c.problem('--nodes', `must be a whole number of at least 1, got ${nodes}`)
  if (overrides.durationS !== undefined && !(durationS > 0)) c.problem('--duration', `must be a positive number of seconds, got ${durationS}`)

  const topology = parseTopology(c, root.topology, nodes)
  const network = parseNetwork(c, root.network)
  const encryption = c.oneOf(root.encryption, 'encryption', ['plaintext', 'noise'] as const, 'plaintext') ?? 'plaintext'

  const timings: { advertIntervalMs?: number, advertTtlMs?: number, syncsUntilWarm?: number } = {}
  if (root.timings !== undefined) {
    const t = c.object(root.timings, 'timings')
    if (t !== undefined) {
      c.known(t, 'timings', ['advertIntervalMs', 'advertTtlMs', 'syncsUntilWarm'])
      if (t.advertIntervalMs !== undefined) timings.advertIntervalMs = c.number(t.advertIntervalMs, 'timings.advertIntervalMs', { min: 50 })
      if (t.advertTtlMs !== undefined) timings.advertTtlMs = c.number(t.advertTtlMs, 'timings.advertTtlMs', { min: 100 })
      if (t.syncsUntilWarm !== undefined) timings.syncsUntilWarm = c.number(t.syncsUntilWarm, 'timings.syncsUntilWarm', { min: 0, max: 1_000, integer: true })
      if (timings.advertIntervalMs !== undefined && timings.advertTtlMs !== undefined && timings.advertTtlMs <= timings.advertIntervalMs) {
        c.problem('timings.advertTtlMs', `must be longer than advertIntervalMs (${timings.advertIntervalMs}), or every advert expires before the next`)
      }
    }
  }

  const gossipsub: { D?: number, Dlo?: number, Dhi?: number, heartbeatIntervalMs?: number } = {}
  if (root.gossipsub !== undefined) {
    const g = c.object(root.gossipsub, 'gossipsub')
    if (g !== undefined) {
      c.known(g, 'gossipsub', ['D', 'Dlo', 'Dhi', 'heartbeatIntervalMs'])
      for (const k of ['D', 'Dlo', 'Dhi'] as const) if (g[k] !== undefined) gossipsub[k] = c.number(g[k], `gossipsub.${k}`, { integer: true, min: 1, max: 64 })
      if (g.heartbeatIntervalMs !== undefined) gossipsub.heartbeatIntervalMs = c.number(g.heartbeatIntervalMs, 'gossipsub.heartbeatIntervalMs', { min: 50 })
    }
  }

  const startConcurrency = c.number(root.startConcurrency, 'startConcurrency', { integer: true, min: 1, max: 1_000, def: 16 }) ?? 16
  const settleS = c.number(root.settleS, 'settleS', { min: 0, def: 30 }) ?? 30

  const services = (c.list(root.services, 'services') ?? []).map((s, i) => parseService(c, s, `services[${i}]`, nodes))
  if (Array.isArray(root.services) && root.services.length === 0) c.problem('services', 'must list at least one service, or no call can succeed')
  const workload = (c.list(root.workload, 'workload', []) ?? []).map((w, i) => parseWorkload(c, w, `workload[${i}]`, nodes, limitS))
  const events = (c.list(root.events, 'events', []) ?? []).map((e, i) => parseEvent(c, e, `events[${i}]`, nodes, limitS))
  const apps = (c.list(root.apps, 'apps', []) ?? []).map((a, i) => parseApp(c, a, `apps[${i}]`, nodes, durationS))

  if (c.problems.length > 0) throw new SimulationError('invalid-scenario', `scenario ${name === '' ? '' : `${JSON.stringify(name)} `}is not valid`, c.problems)
  return { name, description, seed, durationS, nodes, topology, network, encryption, timings, gossipsub, startConcurrency, settleS, services, workload, events, apps }
}

function parseTopology (c: Checker, v: Json, nodes: number): Topology {
  const o = c.object(v ?? { kind: 'seed' }, 'topology')
  if (o === undefined) return { kind: 'seed' }
  const kind = c.oneOf(o.kind, 'topology.kind', ['seed', 'seeds', 'random'] as const)
  if (kind === 'seeds') {
    c.known(o, 'topology', ['kind', 'count'])
    const count = c.number(o.count, 'topology.count', { integer: true, min: 1 }) ?? 1
    if (count > nodes) c.problem('topology.count', `must not exceed nodes (${nodes}), got ${count}`)
    return { kind, count: Math.min(count, nodes) }
  }
  if (kind === 'random') {
    c.known(o, 'topology', ['kind', 'degree'])
    return { kind, degree: c.number(o.degree, 'topology.degree', { integer: true, min: 1, max: 64 }) ?? 1 }
  }
  c.known(o, 'topology', ['kind'])
  return { kind: 'seed' }
}

function parseNetwork (c: Checker, v: Json): NetworkModel {
  const o = c.object(v ?? {}, 'network') ?? {}
  c.known(o, 'network', ['regions', 'latencyMs', 'jitterMs', 'lossRate', 'minRtoMs', 'bandwidthBytesPerS'])
  const regions = (c.list(o.regions, 'network.regions', [{ name: 'local' }]) ?? []).map((r, i) => {
    if (typeof r === 'string') return { name: r }
    const ro = c.object(r, `network.regions[${i}]`)
    return { name: c.string(ro?.name, `network.regions[${i}].name`) ?? `r${i}` }
  })
  if (regions.length === 0) c.problem('network.regions', 'must name at least one region')
  let intra = 0
  let inter = 0
  if (typeof o.latencyMs === 'number' || o.latencyMs === undefined) {
    intra = inter = c.number(o.latencyMs, 'network.latencyMs', { min: 0, max: 10_000, def: 0 }) ?? 0
  } else {
    const l = c.object(o.latencyMs, 'network.latencyMs')
    if (l !== undefined) {
      c.known(l, 'network.latencyMs', ['intra', 'inter'])
      intra = c.number(l.intra, 'network.latencyMs.intra', { min: 0, max: 10_000 }) ?? 0
      inter = c.number(l.inter, 'network.latencyMs.inter', { min: 0, max: 10_000, def: intra }) ?? 0
    }
  }
  return {
    regions,
    latencyMs: { intra, inter },
    jitterMs: c.number(o.jitterMs, 'network.jitterMs', { min: 0, max: 10_000, def: 0 }) ?? 0,
    lossRate: c.number(o.lossRate, 'network.lossRate', { min: 0, max: 0.5, def: 0 }) ?? 0,
    minRtoMs: c.number(o.minRtoMs, 'network.minRtoMs', { min: 1, max: 60_000, def: 200 }) ?? 200,
    bandwidthBytesPerS: c.number(o.bandwidthBytesPerS, 'network.bandwidthBytesPerS', { min: 0, def: 0 }) ?? 0
  }
}

function parseNodeSet (c: Checker, v: Json, key: string, nodes: number): 'all' | number | number[] {
  if (v === 'all') return 'all'
  if (typeof v === 'number') return c.number(v, key, { integer: true, min: 1, max: nodes }) ?? 1
  if (Array.isArray(v)) return v.map((n, i) => c.number(n, `${key}[${i}]`, { integer: true, min: 0, max: nodes - 1 }) ?? 0)
  c.problem(key, `must be 'all', a number of nodes, or a list of node indexes, got ${describe(v)}`)
  return 'all'
}

function parseService (c: Checker, v: Json, key: string, nodes: number): ServiceSpec {
  const o = c.object(v, key) ?? {}
  c.known(o, key, ['provider', 'component', 'iface', 'on', 'capacity'])
  if ((o.provider === undefined) === (o.component === undefined)) c.problem(key, 'must have exactly one of provider or component')
  const provider = o.provider !== undefined ? c.oneOf(o.provider, `${key}.provider`, ['echo'] as const) : undefined
  const component = o.component !== undefined ? c.string(o.component, `${key}.component`) : undefined
  const iface = c.string(o.iface, `${key}.iface`, 'echo') ?? 'echo'
  if (component === undefined && !/^[a-z][a-z0-9-]*$/.test(iface)) c.problem(`${key}.iface`, `a provider's interface name is lowercase letters, digits and '-', got ${JSON.stringify(iface)}`)
  return {
    ...(provider !== undefined ? { provider } : {}),
    ...(component !== undefined ? { component } : {}),
    iface,
    on: parseNodeSet(c, o.on ?? 'all', `${key}.on`, nodes),
    capacity: c.number(o.capacity, `${key}.capacity`, { integer: true, min: 1, def: 64 }) ?? 64
  }
}

function parseApp (c: Checker, v: Json, key: string, nodes: number, durationS: number): AppSpec {
  const o = c.object(v, key) ?? {}
  c.known(o, key, ['at', 'from', 'manifest'])
  const at = c.number(o.at, `${key}.at`, { min: 0, max: durationS, def: 0 }) ?? 0
  const from = c.number(o.from, `${key}.from`, { integer: true, min: 0, max: nodes - 1, def: 0 }) ?? 0
  const m = c.object(o.manifest, `${key}.manifest`)
  const manifest = m === undefined ? '' : stringifyYaml(m)
  let name = ''
  if (m !== undefined) {
    try {
      name = parseManifest(manifest).name
    } catch (err) {
      c.problem(`${key}.manifest`, (err as Error).message)
    }
  }
  return { at, from, manifest, name }
}

function parseWorkload (c: Checker, v: Json, key: string, nodes: number, durationS: number): WorkloadSpec {
  const o = c.object(v, key) ?? {}
  c.known(o, key, ['callsPerS', 'from', 'iface', 'func', 'payloadBytes', 'args', 'startS', 'endS'])
  let from: 'random' | number[] = 'random'
  if (o.from !== undefined && o.from !== 'random') {
    const set = parseNodeSet(c, o.from, `${key}.from`, nodes)
    if (Array.isArray(set)) from = set
    else c.problem(`${key}.from`, "must be 'random' or a list of node indexes")
  }
  const startS = c.number(o.startS, `${key}.startS`, { min: 0, max: durationS, def: 0 }) ?? 0
  const endS = o.endS !== undefined ? c.number(o.endS, `${key}.endS`, { min: startS, max: durationS }) : undefined
  if (o.args !== undefined && !Array.isArray(o.args)) c.problem(`${key}.args`, `must be a list of parameters, got ${describe(o.args)}`)
  return {
    callsPerS: c.number(o.callsPerS, `${key}.callsPerS`, { min: 0, max: 100_000 }) ?? 0,
    from,
    iface: providerInterface(c.string(o.iface, `${key}.iface`, 'echo') ?? 'echo'),
    func: c.string(o.func, `${key}.func`, 'echo') ?? 'echo',
    payloadBytes: c.number(o.payloadBytes, `${key}.payloadBytes`, { integer: true, min: 0, max: 16 * 1024 * 1024, def: 64 }) ?? 64,
    ...(Array.isArray(o.args) ? { args: o.args } : {}),
    startS,
    ...(endS !== undefined ? { endS } : {})
  }
}

function parsePick (c: Checker, v: Json, key: string, nodes: number): NodePick {
  if (v === undefined || v === 'random') return 'random'
  return c.number(v, key, { integer: true, min: 0, max: nodes - 1 }) ?? 0
}

function parseEvent (c: Checker, v: Json, key: string, nodes: number, durationS: number): EventSpec {
  const o = c.object(v, key) ?? {}
  const kinds = ['crash', 'leave', 'restart', 'join', 'churn', 'partition', 'heal', 'export', 'unexport'] as const
  const kind = c.oneOf(o.kind, `${key}.kind`, kinds) ?? 'heal'
  const at = (): number => c.number(o.at, `${key}.at`, { min: 0, max: durationS }) ?? 0
  switch (kind) {
    case 'crash': case 'leave': case 'restart':
      c.known(o, key, ['kind', 'at', 'node', 'count'])
      return { kind, at: at(), node: parsePick(c, o.node, `${key}.node`, nodes), count: c.number(o.count, `${key}.count`, { integer: true, min: 1, def: 1 }) ?? 1 }
    case 'join':
      c.known(o, key, ['kind', 'at', 'count'])
      return { kind, at: at(), count: c.number(o.count, `${key}.count`, { integer: true, min: 1, max: 5_000, def: 1 }) ?? 1 }
    case 'churn': {
      c.known(o, key, ['kind', 'fromS', 'toS', 'ratePerS', 'downS'])
      const fromS = c.number(o.fromS, `${key}.fromS`, { min: 0, max: durationS, def: 0 }) ?? 0
      return {
        kind,
        fromS,
        toS: c.number(o.toS, `${key}.toS`, { min: fromS, max: durationS, def: durationS }) ?? durationS,
        ratePerS: c.number(o.ratePerS, `${key}.ratePerS`, { min: 0, max: 1_000 }) ?? 0,
        downS: c.number(o.downS, `${key}.downS`, { min: 0, def: 5 }) ?? 5
      }
    }
    case 'partition': {
      c.known(o, key, ['kind', 'at', 'groups', 'healAt'])
      const when = at()
      let groups: number | number[][] = 2
      if (typeof o.groups === 'number' || o.groups === undefined) {
        groups = c.number(o.groups, `${key}.groups`, { integer: true, min: 2, max: nodes, def: 2 }) ?? 2
      } else if (Array.isArray(o.groups)) {
        groups = o.groups.map((g, i) => {
          const set = parseNodeSet(c, g, `${key}.groups[${i}]`, nodes)
          if (!Array.isArray(set)) { c.problem(`${key}.groups[${i}]`, 'must be a list of node indexes'); return [] }
          return set
        })
        if (groups.length < 2) c.problem(`${key}.groups`, 'must have at least two groups')
      } else {
        c.problem(`${key}.groups`, `must be a number of groups or a list of lists of node indexes, got ${describe(o.groups)}`)
      }
      const healAt = o.healAt !== undefined ? c.number(o.healAt, `${key}.healAt`, { min: when, max: durationS }) : undefined
      return { kind, at: when, groups, ...(healAt !== undefined ? { healAt } : {}) }
    }
    case 'heal':
      c.known(o, key, ['kind', 'at'])
      return { kind, at: at() }
    case 'export': case 'unexport':
      c.known(o, key, ['kind', 'at', 'node', 'iface'])
      return { kind, at: at(), node: parsePick(c, o.node, `${key}.node`, nodes), iface: c.string(o.iface, `${key}.iface`) ?? 'echo' }
  }
}

/** Parses YAML (a superset of JSON) and validates it. */
export function parseScenario (text: string, overrides: ScenarioOverrides = {}, source = 'scenario'): Scenario {
  let doc: Json
  try {
    doc = parseYaml(text)
  } catch (err) {
    throw new SimulationError('invalid-scenario', `${source} is not YAML or JSON: ${(err as Error).message}`)
  }
  return validateScenario(doc, overrides)
}

/** A file path, or the name of a shipped scenario (`smoke`, `mesh-100`, ...). */
export function resolveScenarioPath (nameOrPath: string): string {
  if (existsSync(nameOrPath) && statSync(nameOrPath).isFile()) return nameOrPath
  for (const ext of ['.yaml', '.yml', '.json']) {
    const shipped = join(scenariosDir, `${basename(nameOrPath, extname(nameOrPath))}${ext}`)
    if (existsSync(shipped)) return shipped
  }
  throw new SimulationError('scenario-not-found', `no scenario file ${JSON.stringify(nameOrPath)}, and no shipped scenario of that name (shipped: ${shippedScenarios.join(', ')})`)
}

export async function loadScenario (nameOrPath: string, overrides: ScenarioOverrides = {}): Promise<Scenario> {
  const path = resolveScenarioPath(nameOrPath)
  return parseScenario(await readFile(path, 'utf8'), overrides, path)
}
