import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ensureExamples } from '../../../examples/build.ts'
import { bootstrapOf, createMesh, demoHost, eventually } from './helpers.ts'
import type { Mesh } from './helpers.ts'

describe('a mesh of nodes in one process (memory transport)', () => {
  let mesh: Mesh
  let paths: Record<string, string>

  beforeAll(async () => {
    paths = await ensureExamples({ names: ['upper', 'shout', 'hello'] })
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
    await eventually('a to see upper and shout', () => a.registry.servers('local:demo/upper').length > 0 && a.registry.servers('local:demo/shout').length > 0)
    expect(a.registry.servers('local:demo/upper').map(s => s.peer)).toEqual([c.peerId])

    // a -> b (shout) -> c (upper) -> c (host log, local)
    const [result] = await a.call('local:demo/shout', 'shout', ['hi'])
    expect(result).toBe('HI!')
    expect(logged).toEqual(['hi'])
    expect(b.stats().served).toBe(1)
    expect(c.stats().served).toBe(1)
  }, 60_000)

  it('lets a joiner call anything at once, from the sync with its bootstrap peer', async () => {
    const a = mesh.nodes[0]
    const joiner = await mesh.add({ bootstrap: bootstrapOf(a), timings: { advertIntervalMs: 60_000, advertTtlMs: 180_000 } })
    // no heartbeat will come within this test: only the sync can have told it
    await eventually('the joiner to learn upper', () => joiner.registry.servers('local:demo/upper').length > 0, 5_000)
    const [result] = await joiner.call('local:demo/upper', 'to-upper', ['joined'])
    expect(result).toBe('JOINED')
  }, 60_000)

  it('describes a remote function from its component digest', async () => {
    const a = mesh.nodes[0]
    const f = await a.describe('local:demo/upper', 'to-upper')
    expect(f.params.map(p => [p.name, p.type.kind])).toEqual([['msg', 'string']])
  }, 30_000)
})
