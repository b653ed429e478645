import { afterEach, describe, expect, it } from 'vitest'
import { bootstrapOf, createMesh, eventually, whoamiService } from '../../support/mesh.ts'
import type { Mesh } from '../../support/mesh.ts'
import type { MeshNode } from '../../../node/index.ts'
import { nodeInternals } from '../../../node/node.ts'

let mesh: Mesh
afterEach(async () => { await mesh?.stop() })

describe('peering', () => {
  it('connects nodes that only know a seed to each other, so the mesh outlives its seed', async () => {
    mesh = await createMesh({ peering: { minPeers: 4, intervalMs: 100 } })
    const seed = await mesh.add()
    const others: MeshNode[] = []
    for (let i = 0; i < 5; i++) others.push(await mesh.add({ bootstrap: bootstrapOf(seed) }))
    await eventually('every node to reach 4 connections', () => others.every(n => n.connections().length >= 4))

    // the seed crashes: the others still gossip among themselves
    await nodeInternals(seed).libp2p.stop()
    const [a, b] = others
    a.serve(whoamiService('test:peering', 'api', '1.0.0', 'a'))
    await eventually('b to learn a\'s new export without the seed', () => b.servers('test:peering/api').length === 1)
    expect(await b.call('test:peering/api', 'whoami', [])).toEqual(['a'])
  }, 60_000)

  it('dials nothing beyond bootstrap peers when turned off, while a node with peering on dials them', async () => {
    mesh = await createMesh({ peering: { minPeers: 4, intervalMs: 50 } })
    const seed = await mesh.add()
    const a = await mesh.add({ bootstrap: bootstrapOf(seed), peering: false })
    const b = await mesh.add({ bootstrap: bootstrapOf(seed), peering: false })
    // the control: the same settings with peering on, which must dial a and b (known from adverts only)
    const c = await mesh.add({ bootstrap: bootstrapOf(seed) })
    await eventually('c to dial a and b', () => c.connections(a.peerId).length > 0 && c.connections(b.peerId).length > 0)
    await eventually('a and b to know each other', () => a.peer(b.peerId) !== undefined && b.peer(a.peerId) !== undefined)
    // three more of b's heartbeats reaching a (200 ms each, dozens of 50 ms peering rounds): still only the bootstrap connection
    const heard = a.stats().adverts.received
    await eventually('three more adverts at a', () => a.stats().adverts.received >= heard + 3)
    expect(a.connections(b.peerId)).toHaveLength(0)
    expect(a.connections().map(conn => conn.peer).sort()).toEqual([seed.peerId, c.peerId].sort())
  }, 60_000)
})
