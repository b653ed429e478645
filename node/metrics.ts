// Prometheus metrics of a node: counts its calls through the node's observer and renders them, with a snapshot of the node, in the text exposition format.

import type { CallEvent, MeshNode, NodeObserver, NodeStats } from './api.ts'

/** Call latency buckets in seconds: 50 µs (a local call) to 30 s (the default call timeout). */
export const defaultLatencyBucketsSeconds: readonly number[] = Object.freeze([
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30
])

export interface MetricsLimits {
  /**
   * Distinct interface/function pairs with series of their own. Callers choose what they call, so without a bound a
   * client asking for random names would grow the scrape without end; calls past the bound count as `other`/`other`.
   */
  readonly maxCallSeries: number
  /** Distinct outcomes (error codes) with series of their own; a remote peer's error frame names the code. */
  readonly maxOutcomes: number
  /** Distinct advert drop reasons, stream protocols and components with series of their own. */
  readonly maxLabelValues: number
}

export const defaultMetricsLimits: MetricsLimits = Object.freeze({
  maxCallSeries: 256,
  maxOutcomes: 64,
  maxLabelValues: 64
})

export interface MetricsInit {
  readonly limits?: Partial<MetricsLimits>
  readonly latencyBucketsSeconds?: readonly number[]
}

export interface Metrics {
  /** Pass as `observer` to `createNode` so that every call the node makes or serves is counted. */
  readonly observer: Required<Pick<NodeObserver, 'call'>>
  /** The exposition text: the calls counted so far, plus the current state of `node` when given. */
  render (node?: MeshNode): string
  /** The calls counted so far, one entry per direction, interface and function (the console's live figures). */
  calls (): CallCounts
}

/** Cumulative call counts, as `calls()` gives them; rates and quantiles come from the difference of two. */
export interface CallCounts {
  /** Upper bounds of the latency buckets in seconds; each series has one more bucket (above the last bound). */
  readonly boundsSeconds: readonly number[]
  readonly series: ReadonlyArray<{
    readonly direction: 'inbound' | 'outbound'
    readonly iface: string
    readonly func: string
    readonly count: number
    /** Calls whose outcome was not `ok`. */
    readonly errors: number
    readonly sumSeconds: number
    /** Calls per bucket (not cumulative). */
    readonly buckets: readonly number[]
  }>
}

/** The label value everything past a cardinality bound collapses to. */
export const OTHER = 'other'

const OUTCOME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/

interface CallSeries {
  readonly direction: 'inbound' | 'outbound'
  readonly iface: string
  readonly func: string
  /** Cumulative counts per bucket are computed at render time; these are per-bucket. */
  readonly buckets: number[]
  sumSeconds: number
  count: number
  retries: number
  readonly outcomes: Map<string, number>
}

export function createMetrics (init: MetricsInit = {}): Metrics {
  const limits: MetricsLimits = { ...defaultMetricsLimits, ...init.limits }
  const bounds = [...(init.latencyBucketsSeconds ?? defaultLatencyBucketsSeconds)].sort((a, b) => a - b)
  const series = new Map<string, CallSeries>()
  const pairs = new Set<string>()
  const outcomes = new Set<string>()

  function pair (iface: string, func: string): [string, string] {
    const key = `${iface}#${func}`
    if (pairs.has(key)) return [iface, func]
    if (pairs.size >= limits.maxCallSeries) return [OTHER, OTHER]
    pairs.add(key)
    return [iface, func]
  }

  function outcomeOf (outcome: string): string {
    if (!OUTCOME.test(outcome)) return OTHER
    if (outcomes.has(outcome)) return outcome
    if (outcomes.size >= limits.maxOutcomes) return OTHER
    outcomes.add(outcome)
    return outcome
  }

  const call = (event: CallEvent): void => {
    const [iface, func] = pair(event.iface, event.func)
    const direction = event.direction === 'inbound' ? 'inbound' : 'outbound'
    const key = `${direction}\n${iface}\n${func}`
    let s = series.get(key)
    if (s === undefined) {
      s = { direction, iface, func, buckets: new Array<number>(bounds.length + 1).fill(0), sumSeconds: 0, count: 0, retries: 0, outcomes: new Map() }
      series.set(key, s)
    }
    const seconds = Math.max(0, event.durationMs) / 1000
    let i = 0
    while (i < bounds.length && seconds > bounds[i]) i++
    s.buckets[i]++
    s.sumSeconds += seconds
    s.count++
    if (event.attempts !== undefined && event.attempts > 1) s.retries += event.attempts - 1
    const outcome = outcomeOf(event.outcome)
    s.outcomes.set(outcome, (s.outcomes.get(outcome) ?? 0) + 1)
  }

  function renderCalls (out: Exposition): void {
    const all = [...series.values()]
    out.family('wasmesh_calls_total', 'counter', 'Calls this node made (outbound) or served (inbound), by outcome (ok or the error code).')
    for (const s of all) {
      for (const [outcome, n] of s.outcomes) out.sample('wasmesh_calls_total', { direction: s.direction, interface: s.iface, function: s.func, outcome }, n)
    }
    out.family('wasmesh_call_duration_seconds', 'histogram', 'Call latency: outbound from the caller\'s side including retries, inbound as the local export ran.')
    for (const s of all) {
      const labels = { direction: s.direction, interface: s.iface, function: s.func }
      let cumulative = 0
      for (let i = 0; i < bounds.length; i++) {
        cumulative += s.buckets[i]
        out.sample('wasmesh_call_duration_seconds_bucket', { ...labels, le: formatNumber(bounds[i]) }, cumulative)
      }
      out.sample('wasmesh_call_duration_seconds_bucket', { ...labels, le: '+Inf' }, s.count)
      out.sample('wasmesh_call_duration_seconds_sum', labels, s.sumSeconds)
      out.sample('wasmesh_call_duration_seconds_count', labels, s.count)
    }
    out.family('wasmesh_call_retries_total', 'counter', 'Servers tried beyond the first by outbound calls (failover before the first result byte).')
    for (const s of all) {
      if (s.direction === 'outbound') out.sample('wasmesh_call_retries_total', { interface: s.iface, function: s.func }, s.retries)
    }
  }

  function renderNode (out: Exposition, node: MeshNode): void {
    const stats = node.stats()
    out.family('wasmesh_node_info', 'gauge', 'This node: its peer id and lattice.')
    out.sample('wasmesh_node_info', { peer_id: node.peerId, lattice: node.lattice }, 1)

    const peers = node.peers()
    let outbound = 0
    for (const p of peers) if (!p.local) outbound += p.inflight
    out.family('wasmesh_calls_in_flight', 'gauge', 'Calls in flight: inbound from peers, outbound to peers.')
    out.sample('wasmesh_calls_in_flight', { direction: 'inbound' }, stats.inbound)
    out.sample('wasmesh_calls_in_flight', { direction: 'outbound' }, outbound)
    out.gauge('wasmesh_local_calls_in_flight', 'Calls running on this node\'s components and providers now, from peers or local callers.', stats.inflight)

    out.family('wasmesh_component_instances', 'gauge', 'Live instances of each loaded component (idle and busy).')
    const pools: Array<{ labels: Labels, instances: number, busy: number, queued: number }> = []
    for (const c of node.components().slice(0, limits.maxLabelValues)) {
      let pool
      try {
        pool = node.componentStats(c.id)
      } catch {
        continue // unloaded between the two calls
      }
      pools.push({ labels: { component: c.name, digest: c.digest.slice(0, 12) }, ...pool })
    }
    for (const p of pools) out.sample('wasmesh_component_instances', p.labels, p.instances)
    out.family('wasmesh_component_instances_busy', 'gauge', 'Instances of each component running a call now.')
    for (const p of pools) out.sample('wasmesh_component_instances_busy', p.labels, p.busy)
    out.family('wasmesh_component_queue_depth', 'gauge', 'Calls waiting for a free instance of each component.')
    for (const p of pools) out.sample('wasmesh_component_queue_depth', p.labels, p.queued)

    const adverts = stats.adverts
    out.counter('wasmesh_adverts_published_total', 'Adverts this node published (changes, heartbeats, withdrawal).', adverts.published)
    out.counter('wasmesh_adverts_received_total', 'Peers\' adverts of this lattice applied (new, updated or withdrawn), by gossip or sync.', adverts.received)
    out.counter('wasmesh_adverts_synced_total', 'Sync exchanges with newly connected peers.', adverts.synced)
    out.family('wasmesh_adverts_dropped_total', 'counter', 'Peers\' adverts dropped, by reason.')
    let reasons = 0
    let otherDrops = 0
    for (const [reason, n] of Object.entries(adverts.dropped)) {
      if (reasons < limits.maxLabelValues && OUTCOME.test(reason)) {
        reasons++
        out.sample('wasmesh_adverts_dropped_total', { reason }, n)
      } else {
        otherDrops += n
      }
    }
    if (otherDrops > 0) out.sample('wasmesh_adverts_dropped_total', { reason: OTHER }, otherDrops)

    // the reasons are a fixed set (StreamErrorReason), so they need no cap
    out.family('wasmesh_stream_errors_total', 'counter', 'Streams given up on a path a peer can reach, by reason (reset-before-answer: reset or closed before the early answer).')
    for (const [reason, n] of Object.entries(stats.streamErrors)) out.sample('wasmesh_stream_errors_total', { reason }, n)
    // a fixed set too (UntrustedReason): components refused under --require-signed
    out.family('wasmesh_components_refused_total', 'counter', 'Components refused because no trusted key signed exactly them (untrusted-component), by reason.')
    for (const [reason, n] of Object.entries(stats.componentsRefused)) out.sample('wasmesh_components_refused_total', { reason }, n)

    // membership refusals (node/security): the reasons are a fixed set (RefusalReason), so they need no cap
    out.family('wasmesh_connections_refused_total', 'counter', 'Connections refused for membership, by reason (no-lattice-key, lattice-key, handshake, not-allowed, dial-not-allowed).')
    for (const [reason, n] of Object.entries(stats.connectionsRefused ?? {})) out.sample('wasmesh_connections_refused_total', { reason }, n)

    // the policy (node/security/): refusals by interface and rule, bounded by the authorizer (256 pairs, the rest `other`)
    out.family('wasmesh_calls_refused_total', 'counter', 'Peers\' calls the policy refused before they reached a component or provider, by interface and the rule that refused.')
    for (const r of stats.refused.calls) out.sample('wasmesh_calls_refused_total', { interface: r.iface, rule: r.rule }, r.count)
    out.counter('wasmesh_member_certs_verified_total', 'Peers\' member certificates that verified (signed by a trusted admin, for that peer and lattice, not expired).', stats.members.verified)
    out.family('wasmesh_member_certs_rejected_total', 'counter', 'Peers\' member certificates refused, by reason (bad, untrusted, expired, wrong-peer, other-lattice).')
    for (const [reason, n] of Object.entries(stats.members.rejected)) out.sample('wasmesh_member_certs_rejected_total', { reason }, n)

    // the inbound budget (maxInboundBufferedBytesPerPeer/PerNode, maxInboundPausedMs): how close peers' stalled calls bring the node to it
    const budget = stats.inboundBuffered
    out.gauge('wasmesh_inbound_buffered_bytes', 'Bytes of inbound values not complete yet (calls\' parameters still arriving) this node holds now.', budget.bytes)
    out.gauge('wasmesh_inbound_streams_holding', 'Inbound streams holding bytes of an unfinished value now.', budget.holders)
    out.gauge('wasmesh_inbound_streams_paused', 'Inbound streams paused now because their peer\'s or the node\'s inbound budget is spent.', budget.paused)
    out.counter('wasmesh_inbound_streams_refused_total', 'Inbound streams answered overloaded after staying paused for maxInboundPausedMs.', budget.refused)

    out.gauge('wasmesh_peers', 'Live peers this node has adverts from.', stats.peers)
    out.gauge('wasmesh_registry_interfaces', 'Distinct exported interface ids in the registry, this node\'s included.', node.interfaces().size)

    renderLibp2p(out, node, stats)
  }

  /** What libp2p 3 tells about itself cheaply: connections, streams and gossipsub peers. */
  function renderLibp2p (out: Exposition, node: MeshNode, stats: NodeStats): void {
    const byDirection = { inbound: 0, outbound: 0 }
    const streams = new Map<string, number>()
    let otherStreams = 0
    for (const conn of node.connections()) {
      byDirection[conn.direction === 'inbound' ? 'inbound' : 'outbound']++
      for (const p of conn.streams) {
        const protocol = p === '' ? 'unnegotiated' : p
        if (streams.has(protocol) || streams.size < limits.maxLabelValues) streams.set(protocol, (streams.get(protocol) ?? 0) + 1)
        else otherStreams++
      }
    }
    out.family('wasmesh_libp2p_connections', 'gauge', 'Open libp2p connections, by who dialled.')
    out.sample('wasmesh_libp2p_connections', { direction: 'inbound' }, byDirection.inbound)
    out.sample('wasmesh_libp2p_connections', { direction: 'outbound' }, byDirection.outbound)
    out.family('wasmesh_libp2p_streams', 'gauge', 'Open libp2p streams, by protocol.')
    for (const [protocol, n] of streams) out.sample('wasmesh_libp2p_streams', { protocol }, n)
    if (otherStreams > 0) out.sample('wasmesh_libp2p_streams', { protocol: OTHER }, otherStreams)
    out.gauge('wasmesh_gossipsub_peers', 'Peers gossipsub knows.', stats.gossipsub.peers)
    out.gauge('wasmesh_gossipsub_topic_peers', 'Peers subscribed to this lattice\'s advert topic.', stats.gossipsub.topicPeers)
  }

  function renderProcess (out: Exposition): void {
    const cpu = process.cpuUsage()
    const memory = process.memoryUsage()
    out.counter('process_cpu_seconds_total', 'User and system CPU time of this process.', (cpu.user + cpu.system) / 1e6)
    out.gauge('process_resident_memory_bytes', 'Resident memory of this process.', memory.rss)
    out.gauge('process_start_time_seconds', 'When this process started, in seconds since the Unix epoch.', Math.round(Date.now() / 1000 - process.uptime()))
    out.gauge('nodejs_heap_used_bytes', 'V8 heap in use.', memory.heapUsed)
  }

  return {
    observer: { call },
    calls () {
      return {
        boundsSeconds: bounds,
        series: [...series.values()].map(s => ({
          direction: s.direction,
          iface: s.iface,
          func: s.func,
          count: s.count,
          errors: s.count - (s.outcomes.get('ok') ?? 0),
          sumSeconds: s.sumSeconds,
          buckets: [...s.buckets]
        }))
      }
    },
    render (node) {
      const out = new Exposition()
      renderCalls(out)
      if (node !== undefined) renderNode(out, node)
      renderProcess(out)
      return out.text()
    }
  }
}

type Labels = Readonly<Record<string, string>>

/** The content type of the text exposition format. */
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'

/** Writes the text exposition format: a family's HELP and TYPE once, then its samples. */
export class Exposition {
  readonly #lines: string[] = []

  family (name: string, type: 'counter' | 'gauge' | 'histogram', help: string): void {
    this.#lines.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`)
  }

  sample (name: string, labels: Labels, value: number): void {
    const pairs = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabelValue(v)}"`)
    this.#lines.push(`${name}${pairs.length > 0 ? `{${pairs.join(',')}}` : ''} ${formatNumber(value)}`)
  }

  gauge (name: string, help: string, value: number): void {
    this.family(name, 'gauge', help)
    this.sample(name, {}, value)
  }

  counter (name: string, help: string, value: number): void {
    this.family(name, 'counter', help)
    this.sample(name, {}, value)
  }

  text (): string {
    return this.#lines.join('\n') + '\n'
  }
}

/** Label values escape backslash, double quote and line feed; nothing else. */
export function escapeLabelValue (value: string): string {
  return value.replace(/[\\"\n]/g, c => c === '\n' ? '\\n' : `\\${c}`)
}

function escapeHelp (text: string): string {
  return text.replace(/[\\\n]/g, c => c === '\n' ? '\\n' : '\\\\')
}

function formatNumber (n: number): string {
  if (Number.isNaN(n)) return 'NaN'
  if (n === Infinity) return '+Inf'
  if (n === -Infinity) return '-Inf'
  return String(n)
}
