import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Stream } from '@libp2p/interface'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ensureExamples } from '../../../examples/build.ts'
import { createMetrics, escapeLabelValue, OTHER } from '../../../node/metrics.ts'
import { startOpsServer } from '../../../node/health.ts'
import type { OpsServer } from '../../../node/health.ts'
import type { MeshNode } from '../../../node/index.ts'
import { createMeshLibp2p, WRPC_PROTOCOL } from '../../../node/libp2p.ts'
import type { MeshLibp2p } from '../../../node/libp2p.ts'
import { nodeInternals } from '../../../node/node.ts'
import { PUT_IFACE, bootstrapOf, createMesh, demoHost, eventually, putService } from '../../support/mesh.ts'
import { byteListCallHead } from '../../support/wrpc.ts'
import { concat } from '../../support/bytes.ts'
import type { Mesh } from '../../support/mesh.ts'
import { parseExposition, valueOf } from './exposition.ts'

async function scrape (server: OpsServer): Promise<ReturnType<typeof parseExposition>> {
  const res = await fetch(`${server.url}/metrics`)
  expect(res.status).toBe(200)
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/)
  return parseExposition(await res.text())
}

describe('/metrics of two nodes calling each other', () => {
  let mesh: Mesh
  let a: MeshNode
  let b: MeshNode
  const servers: OpsServer[] = []
  const metricsA = createMetrics()
  const metricsB = createMetrics()

  beforeAll(async () => {
    const paths = await ensureExamples({ names: ['upper'] })
    mesh = await createMesh()
    a = await mesh.add({ observer: metricsA.observer })
    a.serve(demoHost([]))
    await a.load({ source: paths.upper })
    b = await mesh.add({ observer: metricsB.observer, bootstrap: bootstrapOf(a) })
    await eventually('b to see upper', () => b.servers('local:demo/upper').length > 0)
    servers.push(await startOpsServer({ port: 0, node: a, metrics: metricsA }))
    servers.push(await startOpsServer({ port: 0, node: b, metrics: metricsB }))
  })

  afterAll(async () => {
    await Promise.allSettled(servers.map(async s => { await s.close() }))
    await mesh?.stop()
  })

  it('counts calls on both sides, with latency histograms, and every line is valid exposition format', async () => {
    const [opsA, opsB] = servers
    const beforeB = await scrape(opsB)
    const beforeA = await scrape(opsA)
    const outbound = { direction: 'outbound', interface: 'local:demo/upper', function: 'to-upper', outcome: 'ok' }
    const inbound = { direction: 'inbound', function: 'to-upper', outcome: 'ok' }
    const before = {
      out: valueOf(beforeB, 'wasmesh_calls_total', outbound) ?? 0,
      in: valueOf(beforeA, 'wasmesh_calls_total', { direction: 'inbound', function: 'to-upper' }) ?? 0
    }

    for (let i = 0; i < 3; i++) expect(await b.call('local:demo/upper', 'to-upper', [`call ${i}`])).toEqual([`CALL ${i}`])
    await expect(b.call('local:demo/nothing', 'here', [])).rejects.toMatchObject({ code: 'no-server' })

    const afterB = await scrape(opsB)
    const afterA = await scrape(opsA)
    expect(valueOf(afterB, 'wasmesh_calls_total', outbound)).toBe(before.out + 3)
    expect(valueOf(afterB, 'wasmesh_calls_total', { direction: 'outbound', interface: 'local:demo/nothing', outcome: 'no-server' })).toBe(1)
    expect(valueOf(afterB, 'wasmesh_call_duration_seconds_count', { direction: 'outbound', interface: 'local:demo/upper', function: 'to-upper' })).toBe(before.out + 3)
    // The server counts under the exported id it served, whatever version the caller named.
    const servedId = a.components()[0].exports.interfaces.find(i => i.id.startsWith('local:demo/upper'))!.id
    expect(valueOf(afterA, 'wasmesh_calls_total', { ...inbound, interface: servedId })).toBe(before.in + 3)
    expect(valueOf(afterA, 'wasmesh_call_duration_seconds_bucket', { direction: 'inbound', interface: servedId, le: '+Inf' })).toBe(before.in + 3)
  })

  it('reports pools, adverts, peers and connections of the node', async () => {
    const [opsA, opsB] = servers
    const fa = await scrape(opsA)
    const fb = await scrape(opsB)
    expect(valueOf(fa, 'wasmesh_component_instances', { component: a.components()[0].name })).toBeGreaterThanOrEqual(1)
    expect(valueOf(fa, 'wasmesh_component_queue_depth', { component: a.components()[0].name })).toBe(0)
    expect(valueOf(fa, 'wasmesh_adverts_published_total')).toBeGreaterThan(0)
    expect(valueOf(fb, 'wasmesh_adverts_received_total')).toBeGreaterThan(0)
    expect(valueOf(fb, 'wasmesh_peers')).toBe(1)
    expect(valueOf(fb, 'wasmesh_node_info', { peer_id: b.peerId, lattice: 'default' })).toBe(1)
    expect(valueOf(fb, 'wasmesh_libp2p_connections', { direction: 'outbound' })).toBeGreaterThanOrEqual(1)
    expect(valueOf(fa, 'wasmesh_libp2p_connections', { direction: 'inbound' })).toBeGreaterThanOrEqual(1)
    expect(valueOf(fb, 'wasmesh_calls_in_flight', { direction: 'outbound' })).toBe(0)
    expect(valueOf(fa, 'process_resident_memory_bytes')).toBeGreaterThan(0)
  })
})

describe('the inbound budget in /metrics', () => {
  const KiB = 1024
  let mesh: Mesh
  let attacker: MeshLibp2p
  const servers: OpsServer[] = []
  const streams: Stream[] = []

  beforeAll(async () => {
    mesh = await createMesh()
    attacker = await createMeshLibp2p({ privateKey: await generateKeyPair('Ed25519'), transport: 'memory' })
    await attacker.start()
  })

  afterAll(async () => {
    for (const s of streams) s.abort(new Error('done'))
    await Promise.allSettled(servers.map(async s => { await s.close() }))
    await attacker?.stop()
    await mesh?.stop()
  })

  /** A node with a per-peer budget of 64 KiB, scraped over HTTP. */
  async function victim (maxInboundPausedMs: number): Promise<{ node: MeshNode, ops: OpsServer }> {
    const node = await mesh.add({ limits: { maxInboundBufferedBytesPerPeer: 64 * KiB, maxInboundPausedMs } })
    node.serve(putService())
    const ops = await startOpsServer({ port: 0, node, metrics: createMetrics() })
    servers.push(ops)
    await attacker.dial(nodeInternals(node).libp2p.getMultiaddrs()[0])
    return { node, ops }
  }

  /** Two calls from the attacker, each declaring 1 MiB and sending 128 KiB of it: the second is past the peer's budget. */
  async function stallTwo (node: MeshNode): Promise<Stream[]> {
    const two: Stream[] = []
    for (let i = 0; i < 2; i++) {
      const stream = await attacker.dialProtocol(nodeInternals(node).libp2p.peerId, WRPC_PROTOCOL)
      streams.push(stream)
      two.push(stream)
      stream.send(concat(byteListCallHead(PUT_IFACE, 'put', 1024 * KiB), new Uint8Array(128 * KiB)))
      // the first holds its bytes before the second starts, so it is the oldest holder, the one that goes on
      if (i === 0) await eventually('the first stream to hold its bytes', () => node.stats().inboundBuffered.holders === 1)
    }
    return two
  }

  it('shows the bytes held and the streams paused while a peer stalls past its budget, and their return', async () => {
    const { node, ops } = await victim(60_000)
    const stalled = await stallTwo(node)
    let f = await scrape(ops)
    await eventually('a paused stream in the scrape', async () => {
      f = await scrape(ops)
      return valueOf(f, 'wasmesh_inbound_streams_paused') === 1
    })
    expect(valueOf(f, 'wasmesh_inbound_buffered_bytes')).toBeGreaterThanOrEqual(128 * KiB)
    expect(valueOf(f, 'wasmesh_inbound_streams_holding')).toBe(2)
    expect(valueOf(f, 'wasmesh_inbound_streams_refused_total')).toBe(0)
    expect(f.get('wasmesh_inbound_buffered_bytes')?.type).toBe('gauge')
    expect(f.get('wasmesh_inbound_streams_paused')?.type).toBe('gauge')
    expect(f.get('wasmesh_inbound_streams_refused_total')?.type).toBe('counter')

    for (const s of stalled) s.abort(new Error('attacker gone'))
    await eventually('the budget back in the scrape', async () => {
      f = await scrape(ops)
      return valueOf(f, 'wasmesh_inbound_buffered_bytes') === 0 && valueOf(f, 'wasmesh_inbound_streams_paused') === 0
    })
    expect(valueOf(f, 'wasmesh_inbound_streams_holding')).toBe(0)
  }, 30_000)

  it('counts the streams refused after maxInboundPausedMs paused', async () => {
    const { node, ops } = await victim(100)
    await stallTwo(node)
    await eventually('a refusal in the scrape', async () => valueOf(await scrape(ops), 'wasmesh_inbound_streams_refused_total') === 1)
    expect(node.stats().inboundBuffered.refused).toBe(1)
  }, 30_000)
})

describe('the call collector', () => {
  it('keeps at most maxCallSeries interface/function pairs; the rest count as other', () => {
    const metrics = createMetrics({ limits: { maxCallSeries: 2 } })
    for (let i = 0; i < 10; i++) metrics.observer.call({ direction: 'outbound', iface: `a:b/c${i}`, func: 'f', outcome: 'ok', durationMs: 1 })
    const f = parseExposition(metrics.render())
    const series = f.get('wasmesh_calls_total')!.samples
    expect(series.map(s => s.labels.interface).sort()).toEqual(['a:b/c0', 'a:b/c1', OTHER])
    expect(valueOf(f, 'wasmesh_calls_total', { interface: OTHER, function: OTHER })).toBe(8)
  })

  it('never lets an outcome a peer chose become an unbounded or malformed label', () => {
    const metrics = createMetrics({ limits: { maxOutcomes: 3 } })
    const outcomes = ['ok', 'trap', 'x'.repeat(200), 'with space', 'timeout', 'overloaded', 'refused']
    for (const outcome of outcomes) metrics.observer.call({ direction: 'outbound', iface: 'a:b/c', func: 'f', outcome, durationMs: 2 })
    const f = parseExposition(metrics.render())
    expect(f.get('wasmesh_calls_total')!.samples.map(s => s.labels.outcome).sort()).toEqual(['ok', OTHER, 'timeout', 'trap'])
    expect(valueOf(f, 'wasmesh_calls_total', { outcome: OTHER })).toBe(4)
  })

  it('escapes label values so that any interface name reads back unchanged', () => {
    const metrics = createMetrics()
    const iface = 'we"ird\\name\nwith } and ,x="y"'
    metrics.observer.call({ direction: 'inbound', iface, func: 'f', outcome: 'ok', durationMs: 0.01 })
    const text = metrics.render()
    expect(text).toContain(escapeLabelValue(iface))
    expect(valueOf(parseExposition(text), 'wasmesh_calls_total', { interface: iface })).toBe(1)
  })

  it('puts each latency in the first bucket that holds it, from microseconds to seconds', () => {
    const metrics = createMetrics()
    for (const durationMs of [0.03, 0.7, 40, 2_000, 60_000]) metrics.observer.call({ direction: 'outbound', iface: 'a:b/c', func: 'f', outcome: 'ok', durationMs, attempts: 2 })
    const f = parseExposition(metrics.render())
    const bucket = (le: string): number | undefined => valueOf(f, 'wasmesh_call_duration_seconds_bucket', { le })
    expect(bucket('0.00005')).toBe(1)
    expect(bucket('0.001')).toBe(2)
    expect(bucket('0.05')).toBe(3)
    expect(bucket('2.5')).toBe(4)
    expect(bucket('30')).toBe(4)
    expect(bucket('+Inf')).toBe(5)
    expect(valueOf(f, 'wasmesh_call_duration_seconds_sum')).toBeCloseTo(62.04073, 6)
    expect(valueOf(f, 'wasmesh_call_retries_total')).toBe(5)
  })
})
