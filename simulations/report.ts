// Turns a run's measurements into the report: report.json (every figure), report.md (the one-minute summary) and the SVG charts.

import { readFileSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { arch, cpus, platform, release, totalmem } from 'node:os'
import { join } from 'node:path'
import { cdf, distribution } from './stats.ts'
import type { Distribution } from './stats.ts'
import { lineChart } from './svg.ts'
import type { Marker } from './svg.ts'
import type { AppRecord, ConvergenceRecord, EventRecord, Measurements } from './records.ts'
import type { Scenario } from './scenario.ts'
import type { PlannedEvent } from './timeline.ts'

export interface Report {
  readonly scenario: Scenario
  readonly seed: number
  readonly interrupted: boolean
  readonly versions: Record<string, string>
  readonly machine: { readonly platform: string, readonly release: string, readonly arch: string, readonly cpu: string, readonly cpus: number, readonly memoryBytes: number }
  /** What the network model does, in words (the same text as the README). */
  readonly network: { readonly transport: string, readonly encryption: string, readonly muxer: string, readonly modelled: readonly string[] }
  /**
   * `wallMs`: the whole run, from creating the first node until the last one stopped; `setupMs` of it before the
   * timeline began (starting the nodes, `startMs`, then letting the mesh settle), `simulatedMs` the timeline, the
   * rest stopping.
   */
  readonly time: {
    /** `virtual`: the nodes ran on simulated clocks, and every time below except the wall times is simulated. */
    readonly mode: 'virtual' | 'real'
    readonly startMs: number
    readonly setupMs: number
    /** The setup on the nodes' clock (equal to `setupMs` in real time, up to rounding). */
    readonly setupSimulatedMs: number
    readonly simulatedMs: number
    /** Wall time the timeline took. */
    readonly timelineWallMs: number
    readonly wallMs: number
    /** Wall ms per simulated second of the timeline (1000 in real time, when the host keeps up). */
    readonly wallPerSimulatedS: number | null
    /** Virtual time only: timers fired, event-loop turns, turns spent waiting for real I/O. */
    readonly virtual?: { readonly timersFired: number, readonly turns: number, readonly ioWaits: number }
  }
  /** Lateness of the simulator's timers during the run (a saturated host inflates every latency). */
  readonly simulator: { readonly eventLoopDelayMs: { readonly p50: number, readonly p99: number, readonly max: number } }
  readonly nodes: { readonly initial: number, readonly slots: number, readonly upAtEnd: number }
  readonly plannedEvents: readonly PlannedEvent[]
  readonly events: readonly EventRecord[]
  readonly convergence: {
    /** From the first node starting until every node knew every other node's advert. */
    readonly initialMeshMs: number | null
    readonly initialKnowingAll: number
    /** Export changes (export, unexport, a node's exports appearing at join/restart, withdrawn at leave): time until every live node's registry reflects it. */
    readonly exportChange: Distribution & { readonly unconverged: number }
    /** A joining or restarted node: time from its start until it holds every running node's advert. */
    readonly learnMesh: Distribution & { readonly unconverged: number }
    /** After a crash: time until every live node forgot the crashed node (bounded by the advert TTL). */
    readonly crashForgotten: Distribution & { readonly unconverged: number }
    /** After a partition heals: time until every node holds an advert received after the heal from every node of the other side(s). */
    readonly heal: Distribution & { readonly unconverged: number }
    readonly items: readonly ConvergenceRecord[]
  }
  readonly calls: {
    readonly planned: number
    readonly made: number
    /** Planned from a node that was not up (yet) at that moment. */
    readonly skipped: number
    /** In flight when the run ended, or when the calling node itself stopped; not counted. */
    readonly cut: number
    readonly ok: number
    readonly failed: number
    readonly successRatio: number | null
    /** Only calls that, when they ended, had some server up and reachable from the caller. */
    readonly withLiveServer: { readonly made: number, readonly ok: number, readonly successRatio: number | null }
    readonly latencyMs: Distribution
    /** The latency CDF of successful calls: [ms, fraction of calls at or below], at most 200 points. */
    readonly latencyCdf: readonly (readonly [number, number])[]
    /** Calls that needed more than one server (a retry, and so a failover to another server). */
    readonly retried: number
    readonly attempts: Record<string, number>
    readonly errors: Record<string, number>
    /** After each crash of a node serving a called interface: how long calls kept failing. */
    readonly crashRecovery: readonly { readonly atMs: number, readonly slot: number, readonly failures: number, readonly recoveredMs: number }[]
    readonly crashRecoveryMs: Distribution
    /** Per second of the run: calls started, and how many succeeded. */
    readonly series: readonly { readonly t: number, readonly made: number, readonly ok: number }[]
  }
  readonly partitions: readonly {
    readonly fromMs: number
    readonly toMs: number | null
    readonly groups: readonly number[]
    readonly sides: readonly { readonly group: number, readonly made: number, readonly ok: number, readonly successRatio: number | null }[]
    readonly reconvergedMs: number | null
  }[]
  /** Apps deployed (scenarios with `apps`), and their running replicas per second. */
  readonly apps: readonly AppRecord[]
  readonly appReplicas: readonly (readonly [number, number])[]
  readonly cost: {
    readonly gossip: {
      readonly messagesSentPerNodePerS: number
      readonly rpcsSentPerNodePerS: number
      readonly bytesSentPerNodePerS: number
      readonly published: number
      readonly firstDeliveries: number
      readonly duplicates: number
      /** Duplicate receptions per first delivery of a message to a node. */
      readonly duplicatesPerDelivery: number | null
    }
    /** Everything on the links (gossip, sync, wRPC, identify, ping, muxer), counted by the network model. */
    readonly transport: { readonly bytesSentPerNodePerS: number, readonly chunksSentPerNodePerS: number, readonly retransmittedChunks: number, readonly refusedDials: number }
    readonly connectionsPerNode: Distribution
    readonly memory: { readonly heapPerNodeBytes: number, readonly rssPerNodeBytes: number, readonly heapUsedBytes: number, readonly rssBytes: number, readonly baselineRssBytes: number }
    readonly cpu: { readonly setupMs: number, readonly runMs: number, readonly runPerNodePerSMs: number, readonly runUtilisation: number }
    readonly series: readonly { readonly t: number, readonly nodesUp: number, readonly messagesPerNodePerS: number, readonly bytesPerNodePerS: number, readonly connectionsPerNode: number }[]
  }
}

const modelled = [
  'Transport: @libp2p/memory (one process), wrapped: each end of a connection holds what it sends until its modelled arrival time, then hands it to the memory connection; arrivals on a connection are kept in order, as on TCP.',
  'Latency: one-way delay per link from the regions of its two nodes (intra or inter), plus uniform jitter 0..jitterMs per chunk; a dial first waits one round trip (the TCP handshake).',
  'Loss: the transport is a reliable stream, so a lost chunk is not dropped but retransmitted: each loss (probability lossRate per transmission) adds a retransmission timeout, max(minRtoMs, RTT + 4 x jitter), doubling per further loss, and holds up everything behind it on that connection (head-of-line blocking).',
  'Bandwidth: each node has one uplink of bandwidthBytesPerS; chunks queue behind each other on it (serialisation delay). Downlinks and shared bottlenecks are not modelled.',
  'Crash: every link of the node is cut at once and dials to or from it are refused; the node is then stopped without its withdrawal reaching anyone.',
  'Partition: connections between groups are closed and new dials across are refused until healed. Not modelled: a silent black hole that keeps connections open.'
]

function versionOf (pkg: string): string {
  try {
    const url = pkg === 'wasmesh' ? new URL('../package.json', import.meta.url) : new URL(`../node_modules/${pkg}/package.json`, import.meta.url)
    return (JSON.parse(readFileSync(url, 'utf8')) as { version?: string }).version ?? 'unknown'
  } catch {
    return 'unknown'
  }
}

function ratio (ok: number, made: number): number | null {
  return made === 0 ? null : Math.round((ok / made) * 1_000_000) / 1_000_000
}

function withUnconverged (all: readonly ConvergenceRecord[]): Distribution & { unconverged: number } {
  const items = all.filter(i => i.superseded !== true)
  return {
    ...distribution(items.flatMap(i => (i.convergedMs === null ? [] : [i.convergedMs]))),
    unconverged: items.filter(i => i.convergedMs === null).length
  }
}

const round2 = (v: number): number => Math.round(v * 100) / 100

export function buildReport (m: Measurements): Report {
  const s = m.scenario
  const durS = Math.max(0.001, m.simulatedMs / 1000)
  const calls = m.calls
  const ok = calls.filter(c => c.ok).length
  const live = calls.filter(c => c.ok || c.liveServer)
  const errors: Record<string, number> = {}
  for (const c of calls) if (!c.ok) errors[c.code] = (errors[c.code] ?? 0) + 1
  const attempts: Record<string, number> = {}
  for (const a of m.attempts) attempts[String(a)] = (attempts[String(a)] ?? 0) + 1

  // crash recovery: failures of calls that started after a server's crash and before the next disruption
  const served = new Set(calls.map(c => c.iface))
  // the window after a crash ends at the next change of membership or of the network (at most 30 s)
  const disruptions = m.events.filter(e => e.kind !== 'skipped' && e.kind !== 'export' && e.kind !== 'unexport').map(e => e.atMs).sort((a, b) => a - b)
  const crashRecovery = m.events
    .filter(e => e.kind === 'crash' && e.slot !== undefined && m.plan.slots[e.slot].services.some(i => served.has(serviceIface(s, i))))
    .map(e => {
      const next = Math.min(e.atMs + 30_000, disruptions.find(t => t > e.atMs) ?? Number.POSITIVE_INFINITY)
      const failed = calls.filter(c => !c.ok && c.t >= e.atMs && c.t < next)
      const recoveredMs = failed.length === 0 ? 0 : Math.max(...failed.map(c => c.t + c.latencyMs)) - e.atMs
      return { atMs: e.atMs, slot: e.slot!, failures: failed.length, recoveredMs: round2(recoveredMs) }
    })

  const buckets = new Map<number, { made: number, ok: number }>()
  for (let t = 0; t < Math.ceil(durS); t++) buckets.set(t, { made: 0, ok: 0 })
  for (const c of calls) {
    const b = buckets.get(Math.floor(c.t / 1000)) ?? { made: 0, ok: 0 }
    b.made++
    if (c.ok) b.ok++
    buckets.set(Math.floor(c.t / 1000), b)
  }

  const partitions = m.partitions.map(p => {
    const during = calls.filter(c => c.t >= p.fromMs && (p.toMs === null || c.t < p.toMs) && c.group !== undefined)
    const sides = p.groups.map((_, g) => {
      const mine = during.filter(c => c.group === g)
      const okd = mine.filter(c => c.ok).length
      return { group: g, made: mine.length, ok: okd, successRatio: ratio(okd, mine.length) }
    })
    const heal = m.convergence.find(i => i.kind === 'heal' && p.toMs !== null && Math.abs(i.atMs - p.toMs) < 1_000)
    return { fromMs: round2(p.fromMs), toMs: p.toMs === null ? null : round2(p.toMs), groups: p.groups.map(g => g.length), sides, reconvergedMs: heal?.convergedMs ?? null }
  })

  const g = m.gossip
  const nodeSeconds = m.samples.reduce((sum, x, i) => (i === 0 ? 0 : sum + x.nodesUp * ((x.t - m.samples[i - 1].t) / 1000)), 0)
  const perNodeS = (v: number): number => round2(nodeSeconds > 0 ? v / nodeSeconds : 0)
  const first = m.samples[0]
  const last = m.samples[m.samples.length - 1]
  const series = m.samples.slice(1).map((x, i) => {
    const prev = m.samples[i]
    const dt = Math.max(0.001, (x.t - prev.t) / 1000)
    const up = Math.max(1, x.nodesUp)
    return {
      t: round2(x.t / 1000),
      nodesUp: x.nodesUp,
      messagesPerNodePerS: round2((x.gossip.messagesSent - prev.gossip.messagesSent) / dt / up),
      bytesPerNodePerS: round2((x.sentBytes - prev.sentBytes) / dt / up),
      connectionsPerNode: round2(x.connections / up)
    }
  })
  const during = (k: 'messagesSent' | 'rpcSent' | 'rpcSentBytes'): number => (last !== undefined && first !== undefined ? last.gossip[k] - first.gossip[k] : 0)
  const cpuMs = (u: NodeJS.CpuUsage): number => Math.round((u.user + u.system) / 1000)
  const n = Math.max(1, m.memory.nodes)
  const kinds = (...k: ConvergenceRecord['kind'][]): ConvergenceRecord[] => m.convergence.filter(i => k.includes(i.kind))
  const upAtEnd = last?.nodesUp ?? 0

  return {
    scenario: s,
    seed: s.seed,
    interrupted: m.interrupted,
    versions: {
      wasmesh: versionOf('wasmesh'),
      node: process.version,
      libp2p: versionOf('libp2p'),
      '@libp2p/gossipsub': versionOf('@libp2p/gossipsub'),
      '@libp2p/memory': versionOf('@libp2p/memory'),
      '@libp2p/yamux': versionOf('@libp2p/yamux'),
      [s.encryption === 'noise' ? '@libp2p/noise' : '@libp2p/plaintext']: versionOf(s.encryption === 'noise' ? '@libp2p/noise' : '@libp2p/plaintext')
    },
    machine: { platform: platform(), release: release(), arch: arch(), cpu: cpus()[0]?.model ?? 'unknown', cpus: cpus().length, memoryBytes: totalmem() },
    network: { transport: '@libp2p/memory, shaped by simulations/network.ts', encryption: s.encryption, muxer: 'yamux', modelled },
    time: {
      mode: m.mode,
      startMs: m.setup.startMs,
      setupMs: m.setup.timelineAtMs,
      setupSimulatedMs: m.setup.simulatedSetupMs,
      simulatedMs: m.simulatedMs,
      timelineWallMs: m.timelineWallMs,
      wallMs: m.wallMs,
      wallPerSimulatedS: m.simulatedMs > 0 ? Math.round(m.timelineWallMs / m.simulatedMs * 1000) : null,
      ...(m.virtual !== undefined ? { virtual: m.virtual } : {})
    },
    simulator: { eventLoopDelayMs: m.eventLoopDelayMs },
    nodes: { initial: s.nodes, slots: m.plan.slots.length, upAtEnd },
    plannedEvents: m.plan.events,
    events: m.events,
    convergence: {
      initialMeshMs: m.setup.meshConvergedMs,
      initialKnowingAll: m.setup.knowingAll,
      exportChange: withUnconverged(kinds('export', 'unexport', 'join', 'restart', 'leave')),
      learnMesh: withUnconverged(kinds('learn-mesh')),
      crashForgotten: withUnconverged(kinds('crash-forgotten')),
      heal: withUnconverged(kinds('heal')),
      items: m.convergence
    },
    calls: {
      planned: m.plan.calls.length,
      made: calls.length,
      skipped: m.callsSkipped,
      cut: m.callsCut,
      ok,
      failed: calls.length - ok,
      successRatio: ratio(ok, calls.length),
      withLiveServer: { made: live.length, ok, successRatio: ratio(ok, live.length) },
      latencyMs: distribution(calls.filter(c => c.ok).map(c => c.latencyMs)),
      latencyCdf: cdf(calls.filter(c => c.ok).map(c => c.latencyMs)),
      retried: m.attempts.filter(a => a > 1).length,
      attempts,
      errors,
      crashRecovery,
      crashRecoveryMs: distribution(crashRecovery.map(c => c.recoveredMs)),
      series: [...buckets.entries()].sort((a, b) => a[0] - b[0]).map(([t, b]) => ({ t, ...b }))
    },
    partitions,
    apps: m.apps ?? [],
    appReplicas: m.samples.filter(x => x.appReplicas !== undefined).map(x => [round2(x.t / 1000), x.appReplicas as number] as const),
    cost: {
      gossip: {
        messagesSentPerNodePerS: perNodeS(during('messagesSent')),
        rpcsSentPerNodePerS: perNodeS(during('rpcSent')),
        bytesSentPerNodePerS: perNodeS(during('rpcSentBytes')),
        published: g.published,
        firstDeliveries: g.firstDeliveries,
        duplicates: g.duplicates,
        duplicatesPerDelivery: g.firstDeliveries === 0 ? null : round2(g.duplicates / g.firstDeliveries)
      },
      transport: {
        bytesSentPerNodePerS: perNodeS(last !== undefined && first !== undefined ? last.sentBytes - first.sentBytes : 0),
        chunksSentPerNodePerS: round2(m.traffic.sentChunks / Math.max(1, m.plan.slots.length) / durS),
        retransmittedChunks: m.traffic.retransmitted,
        refusedDials: m.traffic.refusedDials
      },
      connectionsPerNode: distribution(m.connections),
      memory: {
        heapPerNodeBytes: Math.round((m.memory.afterStart.heapUsed - m.memory.baseline.heapUsed) / n),
        rssPerNodeBytes: Math.round((m.memory.afterStart.rss - m.memory.baseline.rss) / n),
        heapUsedBytes: m.memory.atEnd.heapUsed,
        rssBytes: m.memory.atEnd.rss,
        baselineRssBytes: m.memory.baseline.rss
      },
      cpu: {
        setupMs: cpuMs(m.cpu.setup),
        runMs: cpuMs(m.cpu.run),
        runPerNodePerSMs: round2(nodeSeconds > 0 ? cpuMs(m.cpu.run) / nodeSeconds : 0),
        runUtilisation: round2(cpuMs(m.cpu.run) / Math.max(1, m.simulatedMs))
      },
      series
    }
  }
}

function serviceIface (s: Scenario, index: number): string {
  const spec = s.services[index]
  return spec.iface.includes(':') ? spec.iface : `wasmesh:sim/${spec.iface}@0.1.0`
}

const secs = (v: number): string => `${(v / 1000).toFixed(1)} s`
const ms = (v: number | null): string => (v === null ? 'n/a' : v >= 10_000 ? `${(v / 1000).toFixed(1)} s` : `${Math.round(v)} ms`)
const pct = (v: number | null): string => (v === null ? 'n/a' : `${(v * 100).toFixed(v === 1 ? 0 : 3)} %`)
const bytes = (v: number): string => (v >= 1024 * 1024 ? `${(v / 1024 / 1024).toFixed(1)} MiB` : v >= 1024 ? `${(v / 1024).toFixed(1)} KiB` : `${Math.round(v)} B`)
const dist = (d: Distribution & { unconverged?: number }): string =>
  d.count === 0 ? 'nothing measured' : `p50 ${ms(d.p50)}, p95 ${ms(d.p95)}, p99 ${ms(d.p99)}, max ${ms(d.max)} (${d.count}${d.unconverged !== undefined && d.unconverged > 0 ? `, ${d.unconverged} never converged` : ''})`

/** The summary a person reads in a minute. */
/**
 * The report without the figures that measure the host (wall times, CPU, memory, event-loop delay, the machine,
 * the virtual loop's turns): what the same scenario and seed must reproduce in virtual time.
 */
export function meshFigures (r: Report): unknown {
  const { machine: _machine, versions: _versions, simulator: _simulator, time, cost, ...rest } = r
  const { memory: _memory, cpu: _cpu, ...meshCost } = cost
  return {
    ...rest,
    time: { mode: time.mode, startMs: time.startMs, setupSimulatedMs: time.setupSimulatedMs, simulatedMs: time.simulatedMs, timersFired: time.virtual?.timersFired },
    cost: meshCost
  }
}

export function reportMarkdown (r: Report): string {
  const s = r.scenario
  const c = r.calls
  const lines = [
    `# Simulation: ${s.name}${r.interrupted ? ' (interrupted)' : ''}`,
    '',
    s.description,
    '',
    `${r.nodes.initial} nodes (${r.nodes.slots} node slots, numbered 0-${r.nodes.slots - 1}, ${r.nodes.upAtEnd} up at the end), ${(r.time.simulatedMs / 1000).toFixed(1)} s simulated` +
      `${r.interrupted ? ` of ${s.durationS} s (interrupted)` : ''}, seed ${r.seed}, in ${r.time.mode} time; the run took ${secs(r.time.wallMs)} of wall time: ${secs(r.time.setupMs)} starting the nodes and settling` +
      `${r.time.mode === 'virtual' ? ` (${secs(r.time.setupSimulatedMs)} simulated)` : ''}, ${secs(r.time.timelineWallMs)} for the ${secs(r.time.simulatedMs)} of timeline` +
      `${r.time.wallPerSimulatedS !== null ? ` (${ms(r.time.wallPerSimulatedS)} of wall time per simulated second)` : ''}, ${secs(Math.max(0, r.time.wallMs - r.time.setupMs - r.time.timelineWallMs))} stopping. ` +
      `${r.time.mode === 'virtual' ? 'Every time in the table is simulated: a node\'s CPU work takes no simulated time. ' : ''}` +
      `Links: ${s.network.latencyMs.intra} ms within a region, ${s.network.latencyMs.inter} ms between ${s.network.regions.length} region(s), jitter ${s.network.jitterMs} ms, loss ${s.network.lossRate}, ` +
      `uplink ${s.network.bandwidthBytesPerS > 0 ? `${bytes(s.network.bandwidthBytesPerS)}/s` : 'unlimited'}; ${r.network.encryption}, yamux, ${s.topology.kind} topology.`,
    '',
    '| measure | result |',
    '|---|---|',
    `| initial mesh: every node knows every node | ${ms(r.convergence.initialMeshMs)} (${r.convergence.initialKnowingAll}/${r.nodes.initial} nodes) |`,
    `| advert convergence per export change | ${dist(r.convergence.exportChange)} |`,
    `| new node learns the whole mesh | ${dist(r.convergence.learnMesh)} |`,
    `| crashed node forgotten everywhere | ${dist(r.convergence.crashForgotten)} |`,
    `| reconvergence after a partition heals | ${dist(r.convergence.heal)} |`,
    `| calls | ${c.made} made, ${pct(c.successRatio)} succeeded; with a live server to go to: ${pct(c.withLiveServer.successRatio)} |`,
    `| call latency | ${dist(c.latencyMs)} |`,
    `| retries / failovers | ${c.retried} calls needed another server (attempts: ${Object.entries(c.attempts).map(([k, v]) => `${k}x${v}`).join(', ') || 'none'}) |`,
    `| errors | ${Object.entries(c.errors).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'} |`,
    `| calls failing after a server crash | ${dist(c.crashRecoveryMs)} |`
  ]
  for (const a of r.apps) {
    const recovered = a.recoveries.filter(x => x.ms !== null).map(x => x.ms as number)
    lines.push(a.error !== undefined
      ? `| app ${a.app} deployed at ${ms(a.atMs)} | failed: ${a.error} |`
      : `| app ${a.app} deployed at ${ms(a.atMs)} | ${a.desired ?? '?'} replicas; all running after ${ms(a.fullMs)}; then ${a.recoveries.length} drop${a.recoveries.length === 1 ? '' : 's'} under churn (fewest ${a.minAfterFull ?? 'n/a'}), ${ms(a.belowFullMs)} below full in all, back to full after ${recovered.length > 0 ? `p50 ${ms(recovered.sort((x, y) => x - y)[Math.floor(recovered.length / 2)])}, max ${ms(Math.max(...recovered))}` : 'n/a'} |`)
  }
  for (const p of r.partitions) {
    lines.push(`| partition ${ms(p.fromMs)}-${ms(p.toMs)} into ${p.groups.join(' + ')} | ${p.sides.map(x => `side ${x.group}: ${x.made} calls, ${pct(x.successRatio)}`).join('; ')}; reconverged ${ms(p.reconvergedMs)} after healing |`)
  }
  const g = r.cost.gossip
  lines.push(
    `| gossip per node | ${g.messagesSentPerNodePerS} messages/s, ${g.rpcsSentPerNodePerS} RPCs/s, ${bytes(g.bytesSentPerNodePerS)}/s |`,
    `| duplicates per delivered advert | ${g.duplicatesPerDelivery ?? 'n/a'} (${g.duplicates} duplicates, ${g.firstDeliveries} first deliveries) |`,
    `| all traffic per node | ${bytes(r.cost.transport.bytesSentPerNodePerS)}/s sent; ${r.cost.transport.retransmittedChunks} chunks retransmitted, ${r.cost.transport.refusedDials} dials refused |`,
    `| connections per node at the end | ${r.cost.connectionsPerNode.count === 0 ? 'n/a' : `mean ${r.cost.connectionsPerNode.mean}, p50 ${r.cost.connectionsPerNode.p50}, max ${r.cost.connectionsPerNode.max}`} |`,
    `| memory per node | heap ${bytes(r.cost.memory.heapPerNodeBytes)}, RSS ${bytes(r.cost.memory.rssPerNodeBytes)} (process RSS at the end ${bytes(r.cost.memory.rssBytes)}) |`,
    `| simulator event-loop delay | p50 ${r.simulator.eventLoopDelayMs.p50} ms, p99 ${r.simulator.eventLoopDelayMs.p99} ms, max ${r.simulator.eventLoopDelayMs.max} ms (added to every measured time) |`,
    `| CPU | setup ${ms(r.cost.cpu.setupMs)}, run ${ms(r.cost.cpu.runMs)} (${(r.cost.cpu.runUtilisation * 100).toFixed(0)} % of one core; ${r.cost.cpu.runPerNodePerSMs} ms per node per s) |`,
    '',
    `Events: ${r.events.length} (${Object.entries(countBy(r.events.map(e => e.kind))).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}). ${nodeNumbers(r)}`,
    '',
    'Charts: [latency CDF](latency-cdf.svg), [convergence per event](convergence.svg), [success ratio over time](success.svg), [gossip messages per node per second](messages.svg), [connections per node](connections.svg).',
    '',
    `Node ${r.versions.node}, libp2p ${r.versions.libp2p}, gossipsub ${r.versions['@libp2p/gossipsub']}; ${r.machine.cpus} x ${r.machine.cpu}, ${bytes(r.machine.memoryBytes)}.`,
    ''
  )
  return lines.join('\n')
}

function countBy (items: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {}
  for (const i of items) out[i] = (out[i] ?? 0) + 1
  return out
}

/** What "node N" in events and charts is. */
function nodeNumbers (r: Report): string {
  const joiners = r.nodes.slots - r.nodes.initial
  const later = joiners === 0 ? '' : `: 0-${r.nodes.initial - 1} start the run, ${joiners === 1 ? `${r.nodes.initial} joins` : `${r.nodes.initial}-${r.nodes.slots - 1} join`} later`
  return `node N: the simulated node numbered N, of 0-${r.nodes.slots - 1}${later} (its label slot=N).`
}

/** How convergence records are grouped into the convergence chart's series. */
const convergenceSeries: Record<ConvergenceRecord['kind'], string> = {
  export: 'export added',
  join: 'export added',
  restart: 'export added',
  unexport: 'export withdrawn',
  leave: 'export withdrawn',
  'learn-mesh': 'new node learned the mesh',
  'crash-forgotten': 'crashed node forgotten',
  heal: 'partition healed'
}

/** An event's marker label: its kind and the node it happened to. */
function markerLabel (e: EventRecord): string {
  return `${e.kind}${e.slot !== undefined ? ` node ${e.slot}` : ''}`
}

/** The five charts, by file name. */
export function reportCharts (r: Report): Record<string, string> {
  const markers: Marker[] = r.events.filter(e => e.kind !== 'skipped').map(e => ({ x: e.atMs / 1000, label: markerLabel(e) }))
  // hundreds of churn events would hide the lines: keep at most 40 markers
  const shown = markers.length > 40 ? markers.filter((_, i) => i % Math.ceil(markers.length / 40) === 0) : markers
  const notes = [
    ...(shown.length < markers.length ? [`${shown.length} of ${markers.length} events marked (every ${Math.ceil(markers.length / 40)}th); report.json lists them all.`] : []),
    ...(markers.some(m => m.label.includes(' node ')) ? [nodeNumbers(r)] : [])
  ]
  const lat = r.calls.latencyMs
  const conv = r.convergence.items.filter(i => i.convergedMs !== null)
  const byKind = new Map<string, [number, number][]>()
  for (const i of conv) {
    const k = convergenceSeries[i.kind] ?? i.kind
    const list = byKind.get(k) ?? []
    list.push([i.atMs / 1000, i.convergedMs!])
    byKind.set(k, list)
  }
  const duration = r.scenario.durationS
  const simulatedS = r.time.simulatedMs / 1000
  // an interrupted run's charts keep the planned time axis, with where it stopped marked
  const cut = r.interrupted ? { x: simulatedS, label: `interrupted at ${simulatedS.toFixed(1)} s` } : undefined
  const title = (t: string): string => r.interrupted ? `${t} (interrupted)` : t
  const timeline = { markers: shown, cut, notes, xMin: 0, xMax: duration }
  return {
    'latency-cdf.svg': lineChart({
      title: title(`Call latency CDF (${r.calls.ok} successful calls; p50 ${lat.p50 ?? 'n/a'} ms, p99 ${lat.p99 ?? 'n/a'} ms)`),
      xLabel: 'latency (ms)',
      yLabel: 'fraction of calls',
      series: [{ name: 'successful calls', points: r.calls.latencyCdf }],
      yMax: 1
    }),
    'convergence.svg': lineChart({
      title: title('Convergence time per event, events marked'),
      xLabel: 'event time (s)',
      yLabel: 'time until every live node reflects it (ms)',
      series: [...byKind.entries()].map(([name, points]) => ({ name, points, style: 'dots' as const })),
      ...timeline
    }),
    'success.svg': lineChart({
      title: title('Call success ratio per second, events marked'),
      xLabel: 'time (s)',
      yLabel: 'successful / started',
      series: [{ name: 'success ratio', points: r.calls.series.filter(b => b.made > 0).map(b => [b.t, b.ok / b.made] as [number, number]) }],
      yMax: 1,
      ...timeline
    }),
    'messages.svg': lineChart({
      title: title('Gossip messages sent per node per second'),
      xLabel: 'time (s)',
      yLabel: 'messages / node / s',
      series: [{ name: 'gossip messages', points: r.cost.series.map(x => [x.t, x.messagesPerNodePerS] as [number, number]) }],
      ...timeline
    }),
    ...(r.appReplicas.length > 0
      ? {
          'apps.svg': lineChart({
            title: title(`App replicas running (${r.apps.map(a => `${a.app}: ${a.desired ?? '?'} desired`).join(', ')})`),
            xLabel: 'time (s)',
            yLabel: 'replicas running',
            series: [{ name: 'replicas', points: r.appReplicas.map(([t, n]) => [t, n] as [number, number]) }],
            ...timeline
          })
        }
      : {}),
    'connections.svg': lineChart({
      title: title('Open connections per node'),
      xLabel: 'time (s)',
      yLabel: 'connections / node',
      series: [{ name: 'connections / node', points: r.cost.series.map(x => [x.t, x.connectionsPerNode] as [number, number]) }],
      ...timeline
    })
  }
}

/** Writes report.json, report.md and the charts into `dir`; returns the files written. */
export async function writeReport (r: Report, dir: string): Promise<string[]> {
  await mkdir(dir, { recursive: true })
  const files: Record<string, string> = {
    'report.json': JSON.stringify(r, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2) + '\n',
    'report.md': reportMarkdown(r),
    ...reportCharts(r)
  }
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text)
  return Object.keys(files).map(f => join(dir, f))
}
