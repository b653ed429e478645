import { afterEach, describe, expect, it } from 'vitest'
import { bootstrapOf, createMesh, eventually, whoamiService } from './helpers.ts'
import type { Mesh } from './helpers.ts'
import type { MeshNode } from '../../../node/index.ts'

let mesh: Mesh
afterEach(async () => { await mesh?.stop() })

describe('peering', () => {
  it('connects nodes that only know a seed to each other, so the mesh outlives its seed', async () => {
    mesh = await createMesh({ peering: { minPeers: 4, intervalMs: 100 } })
    const seed = await mesh.add()
    const others: MeshNode[] = []
    for (let i = 0; i < 5; i++) others.push(await mesh.add({ bootstrap: bootstrapOf(seed) }))
    await eventually('every node to reach 4 connections', () => others.every(n => n.libp2p.getConnections().length >= 4))

    // the seed crashes: the others still gossip among themselves
    await seed.libp2p.stop()
    const [a, b] = others
    a.serve(whoamiService('test:peering', 'api', '1.0.0', 'a'))
    await eventually('b to learn a\'s new export without the seed', () => b.registry.servers('test:peering/api').length === 1)
    expect(await b.call('test:peering/api', 'whoami', [])).toEqual(['a'])
  }, 60_000)

  it('dials nothing beyond bootstrap peers when turned off', async () => {
    mesh = await createMesh({ peering: false })
    const seed = await mesh.add()
    const a = await mesh.add({ bootstrap: bootstrapOf(seed) })
    const b = await mesh.add({ bootstrap: bootstrapOf(seed) })
    await eventually('a and b to know each other', () => a.registry.peer(b.peerId) !== undefined && b.registry.peer(a.peerId) !== undefined)
    await new Promise(resolve => setTimeout(resolve, 300))
    expect(a.libp2p.getConnections(b.libp2p.peerId)).toHaveLength(0)
  }, 60_000)
})
