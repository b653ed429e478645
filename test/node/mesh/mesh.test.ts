import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ensureExamples } from '../../../examples/build.ts'
import { bootstrapOf, createMesh, demoHost, eventually, keyvalueProvider } from '../../support/mesh.ts'
import type { Mesh } from '../../support/mesh.ts'
import { scratchDir } from '../../support/scratch.ts'

describe('a mesh of nodes in one process (memory transport)', () => {
  let mesh: Mesh
  let paths: Record<string, string>

  beforeAll(async () => {
    paths = await ensureExamples({ names: ['upper', 'shout', 'hello', 'counter'] })
    mesh = await createMesh()
  }, 120_000)

  afterAll(async () => { await mesh?.stop() })

  it('propagates adverts, links imports across peers, and routes calls to the serving peer', async () => {
    const logged: string[] = []
    const a = await mesh.add()
    const b = await mesh.add({ bootstrap: bootstrapOf(a) })
    const c = await mesh.add({ bootstrap: bootstrapOf(a) })
    c.serve(demoHost(logged))
    await c.load({ source: paths.upper })
    await b.load({ source: paths.shout })

    // a serves nothing itself: it learns who does from adverts
    await eventually('a to see upper and shout', () => a.servers('local:demo/upper').length > 0 && a.servers('local:demo/shout').length > 0)
    expect(a.servers('local:demo/upper').map(s => s.peer)).toEqual([c.peerId])

    // a -> b (shout) -> c (upper) -> c (host log, local)
    const [result] = await a.call('local:demo/shout', 'shout', ['hi'])
    expect(result).toBe('HI!')
    expect(logged).toEqual(['hi'])
    expect(b.stats().served).toBe(1)
    expect(c.stats().served).toBe(1)
  }, 60_000)

  it('names the component behind each export in its adverts, says when it is a client, and keeps wasmesh.* labels for that', async () => {
    const [a, , c] = mesh.nodes
    expect(a.peer(c.peerId)?.exports.find(e => e.iface.startsWith('local:demo/upper'))).toMatchObject({ name: 'upper', digest: c.components()[0].digest })
    expect(a.peer(c.peerId)?.client).toBeUndefined()
    const client = await mesh.add({ bootstrap: bootstrapOf(a), role: 'client' })
    const seen = await eventually('a to hold the client\'s advert', () => a.peer(client.peerId))
    expect(seen).toMatchObject({ client: true, labels: {}, exports: [] })
    await expect(mesh.add({ labels: { 'wasmesh.role': 'node' } })).rejects.toMatchObject({ code: 'invalid-config' })
  }, 60_000)

  it('lets a joiner call anything at once, from the sync with its bootstrap peer', async () => {
    const a = mesh.nodes[0]
    const joiner = await mesh.add({ bootstrap: bootstrapOf(a), timings: { advertIntervalMs: 60_000, advertTtlMs: 180_000 } })
    // no heartbeat will come within this test: only the sync can have told it
    await eventually('the joiner to learn upper', () => joiner.servers('local:demo/upper').length > 0, 5_000)
    const [result] = await joiner.call('local:demo/upper', 'to-upper', ['joined'])
    expect(result).toBe('JOINED')
  }, 60_000)

  it('describes a remote function from its component digest', async () => {
    const a = mesh.nodes[0]
    const f = await a.describe('local:demo/upper', 'to-upper')
    expect(f.params.map(p => [p.name, p.type.kind])).toEqual([['msg', 'string']])
  }, 30_000)

  it('passes resource handles across peers: a component on one node uses a bucket another node gives out', async () => {
    const a = mesh.nodes[0]
    const store = await keyvalueProvider()
    try {
      const kv = await mesh.add({ bootstrap: bootstrapOf(a) })
      kv.serve(store.service)
      const counterNode = await mesh.add({ bootstrap: bootstrapOf(a) })
      await counterNode.load({ source: paths.counter })
      await eventually('the counter node to know the store', () => counterNode.servers('wasi:keyvalue/atomics@0.2.0-draft').length > 0)
      const results = []
      for (let i = 0; i < 3; i++) results.push((await counterNode.call('wasmesh:examples/counter', 'increment', ['visits']))[0])
      expect(results).toEqual([1n, 2n, 3n])
      // every bucket the component opened through the mesh was dropped back on the node that gave it out
      await eventually('the drops to arrive', () => store.stats().handles === 0)
      const [opened] = await kv.call('wasi:keyvalue/store@0.2.0-draft', 'open', ['counter']) as [{ val: Uint8Array }]
      const [got] = await kv.call('wasi:keyvalue/store@0.2.0-draft', '[method]bucket.get', [opened.val, 'visits']) as [{ val: Uint8Array }]
      expect(new TextDecoder().decode(got.val)).toBe('3')
    } finally {
      await store.stop()
    }
  }, 60_000)

  it('works the same over TCP on loopback', async () => {
    const tcp = await createMesh({ transport: 'tcp', listen: ['/ip4/127.0.0.1/tcp/0'] })
    try {
      const logged: string[] = []
      const a = await tcp.add()
      const b = await tcp.add({ bootstrap: a.addresses() })
      b.serve(demoHost(logged))
      await b.load({ source: paths.upper })
      await eventually('a to see upper', () => a.servers('local:demo/upper').length > 0)
      expect(a.addresses().every(addr => addr.startsWith('/ip4/127.0.0.1/tcp/'))).toBe(true)
      expect(await a.call('local:demo/upper', 'to-upper', ['over tcp'])).toEqual(['OVER TCP'])
      expect(logged).toEqual(['over tcp'])
    } finally {
      await tcp.stop()
    }
  }, 60_000)

  it('keeps its identity across restarts when given a data directory', async () => {
    const dataDir = await scratchDir('identity')
    try {
      const first = await mesh.add({ dataDir: dataDir.path })
      const id = first.peerId
      await first.stop()
      const second = await mesh.add({ dataDir: dataDir.path })
      expect(second.peerId).toBe(id)
    } finally {
      await dataDir.remove()
    }
  }, 60_000)
})
