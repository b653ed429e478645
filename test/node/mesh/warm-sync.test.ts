// syncsUntilWarm: a node that knows the lattice stops asking every new connection for a sync, and a (re)joining node is still heard of at once.

import { afterEach, describe, expect, it } from 'vitest'
import { bootstrapOf, createMesh, eventually } from '../../support/mesh.ts'
import type { Mesh } from '../../support/mesh.ts'
import type { MeshNode } from '../../../node/index.ts'

let mesh: Mesh | undefined
afterEach(async () => { await mesh?.stop(); mesh = undefined })

const knowsAll = (nodes: MeshNode[]): boolean => nodes.every(n => nodes.every(o => o === n || n.peer(o.peerId) !== undefined))

describe('a warm node', () => {
  it('asks one sync, and a joiner that nobody syncs with is known everywhere through its first advert', async () => {
    // heartbeats a minute apart: within the test only syncs and first adverts carry anything
    mesh = await createMesh({ peering: false, timings: { advertIntervalMs: 60_000, advertTtlMs: 180_000, advertDebounceMs: 10, syncTimeoutMs: 2_000, syncsUntilWarm: 1 } })
    const a = await mesh.add()
    const b = await mesh.add({ bootstrap: bootstrapOf(a) })
    await eventually('a and b to know each other', () => knowsAll([a, b]))
    const c = await mesh.add({ bootstrap: bootstrapOf(a) })
    // d connects to all three; all three are warm and do not sync with it, nor it with more than one
    const d = await mesh.add({ bootstrap: [...bootstrapOf(a), ...bootstrapOf(b), ...bootstrapOf(c)] })
    const all = [a, b, c, d]
    await eventually('every node to know every node', () => knowsAll(all) && d.connections().length === 3)
    expect(d.stats().adverts.synced).toBe(1)
    // a answered every sync but asked only b (its first connection): with every connection syncing it asks three
    for (const n of all) expect(n.stats().adverts.synced).toBeLessThanOrEqual(1)
  }, 60_000)
})
