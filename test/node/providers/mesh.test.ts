import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ensureExamples } from '../../../examples/build.ts'
import type { MeshNode } from '../../../node/index.ts'
import { createProvider } from '../../../node/providers/sdk.ts'
import type { Provider } from '../../../node/providers/sdk.ts'
import { ATOMICS, STORE, createKeyvalueModule } from '../../../node/providers/keyvalue/index.ts'
import { linkOptions, parseLink } from '../../../node/links.ts'
import { bootstrapOf, createMesh, eventually } from '../../support/mesh.ts'
import type { Mesh } from '../../support/mesh.ts'
import { nodeInternals } from '../../../node/node.ts'
import { scratchDir } from '../../support/scratch.ts'
import type { ScratchDir } from '../../support/scratch.ts'

const COUNTER = 'wasmesh:examples/counter'

describe('the key-value provider on the mesh', () => {
  let mesh: Mesh
  let paths: Record<string, string>
  let dir: ScratchDir
  const providers: Provider[] = []

  async function keyvalue (config: Record<string, string>): Promise<Provider> {
    const p = await createProvider(createKeyvalueModule(), { config })
    await p.start()
    providers.push(p)
    return p
  }

  async function openOn (node: MeshNode, bucket: string, opts = {}): Promise<Uint8Array> {
    const [r] = await node.call(STORE, 'open', [bucket], opts) as [{ tag: string, val: Uint8Array }]
    expect(r.tag).toBe('ok')
    return r.val
  }

  beforeAll(async () => {
    paths = await ensureExamples({ names: ['counter'] })
    mesh = await createMesh()
    dir = await scratchDir('kv-mesh')
  }, 120_000)

  afterAll(async () => {
    await mesh?.stop()
    await Promise.all(providers.map(async p => { await p.stop() }))
    await dir?.remove()
  })

  it('counts exactly 1,000 from 1,000 concurrent increments by counter components on 4 nodes', async () => {
    const store = await keyvalue({ path: join(dir.path, 'counter.sqlite') })
    const kvNode = await mesh.add()
    kvNode.serve(store.service)
    const counters = await Promise.all(Array.from({ length: 4 }, async () => await mesh.add({ bootstrap: bootstrapOf(kvNode) })))
    await Promise.all(counters.map(async n => { await n.load({ source: paths.counter }) }))
    for (const n of counters) {
      await eventually('every counter node to know the store', () => n.servers(ATOMICS).length > 0 && n.servers(STORE).length > 0)
    }

    const results = await Promise.all(counters.flatMap(n => Array.from({ length: 250 }, async () => {
      const [v] = await n.call(COUNTER, 'increment', ['hits'])
      return BigInt(v as bigint | number)
    })))

    // every increment saw a value no other saw: 1..1000, each once
    expect(results.length).toBe(1000)
    expect(new Set(results).size).toBe(1000)
    expect(results.reduce((max, v) => v > max ? v : max, 0n)).toBe(1000n)
    const bucket = await openOn(kvNode, 'counter')
    const [got] = await kvNode.call(STORE, '[method]bucket.get', [bucket, 'hits']) as [{ val: Uint8Array }]
    expect(new TextDecoder().decode(got.val)).toBe('1000')
    await kvNode.call(STORE, '[resource-drop]bucket', [bucket])
    // every bucket a counter opened was dropped back on the provider
    await eventually('the drops to arrive', () => store.stats().handles === 0)
    expect(store.stats().calls).toBeGreaterThanOrEqual(2000)
  }, 180_000)

  it('refuses a bucket handle used by a peer it was not given to, and releases what a peer held when it leaves', async () => {
    const store = await keyvalue({ backend: 'memory' })
    const kvNode = await mesh.add()
    kvNode.serve(store.service)
    const owner = await mesh.add({ bootstrap: bootstrapOf(kvNode) })
    const thief = await mesh.add({ bootstrap: bootstrapOf(kvNode) })
    await eventually('both to know the store', () => owner.servers(STORE).length > 0 && thief.servers(STORE).length > 0)

    const handle = await openOn(owner, 'private')
    await owner.call(STORE, '[method]bucket.set', [handle, 'secret', new TextEncoder().encode('mine')])
    await expect(thief.call(STORE, '[method]bucket.get', [handle, 'secret'])).rejects.toMatchObject({ code: 'resource-lost' })
    await expect(thief.call(ATOMICS, 'increment', [handle, 'n', 1n])).rejects.toMatchObject({ code: 'resource-lost' })

    await openOn(owner, 'more')
    await openOn(owner, 'more')
    expect(store.stats().handles).toBe(3)
    await owner.stop()
    await eventually('the owner\'s handles to be released', () => store.stats().handles === 0)
  }, 60_000)

  it('routes by link: labels pick the servers, and failover stays within them', async () => {
    const hub = await mesh.add()
    const cacheA = await mesh.add({ bootstrap: bootstrapOf(hub), labels: { tier: 'cache' } })
    const cacheB = await mesh.add({ bootstrap: bootstrapOf(hub), labels: { tier: 'cache' } })
    const db = await mesh.add({ bootstrap: bootstrapOf(hub), labels: { tier: 'db' } })
    for (const n of [cacheA, cacheB, db]) n.serve((await keyvalue({ backend: 'memory' })).service)
    await eventually('the hub to see three stores', () => hub.servers(STORE).length === 3)

    const links = [parseLink('counter:wasi:keyvalue=tier=cache')]
    const opts = linkOptions(links, 'counter', STORE)
    expect(opts).toEqual({ labels: { tier: 'cache' } })
    const served = new Set<string>()
    for (let i = 0; i < 20; i++) served.add((await nodeInternals(hub).router.call(STORE, 'open', ['b'], opts)).peer)
    expect(served.has(db.peerId)).toBe(false)
    expect([...served].every(p => p === cacheA.peerId || p === cacheB.peerId)).toBe(true)

    // one cache server dies without withdrawing: calls fail over to the other cache, never to db
    await nodeInternals(cacheA).libp2p.stop()
    for (let i = 0; i < 10; i++) {
      const { peer } = await nodeInternals(hub).router.call(STORE, 'open', ['b'], opts)
      expect(peer).toBe(cacheB.peerId)
    }
    // by peer id
    const pinned = linkOptions([parseLink(`counter:wasi:keyvalue/store=${db.peerId}`)], 'counter', STORE)
    expect((await nodeInternals(hub).router.call(STORE, 'open', ['b'], pinned)).peer).toBe(db.peerId)
  }, 60_000)

  it('binds a component\'s imports by its links, and keeps each bucket\'s calls on the store that opened it', async () => {
    const hub = await mesh.add()
    const cache = await mesh.add({ bootstrap: bootstrapOf(hub), labels: { tier: 'kv-cache' } })
    const other = await mesh.add({ bootstrap: bootstrapOf(hub), labels: { tier: 'kv-db' } })
    const cacheStore = await keyvalue({ backend: 'memory' })
    const otherStore = await keyvalue({ backend: 'memory' })
    cache.serve(cacheStore.service)
    other.serve(otherStore.service)
    const linked = await mesh.add({ bootstrap: bootstrapOf(hub) })
    await linked.load({ source: paths.counter, links: [{ target: 'wasi:keyvalue', labels: { tier: 'kv-cache' } }] })
    const free = await mesh.add({ bootstrap: bootstrapOf(hub) })
    await free.load({ source: paths.counter })
    await eventually('both stores known', () => linked.servers(STORE).filter(s => s.labels.tier?.startsWith('kv-')).length === 2 &&
      free.servers(ATOMICS).filter(s => s.labels.tier?.startsWith('kv-')).length === 2)
    expect(linked.links()).toEqual([expect.objectContaining({ target: 'wasi:keyvalue', labels: { tier: 'kv-cache' } })])

    // linked: every increment lands on the cache tier
    for (let i = 1; i <= 5; i++) expect(await linked.call(COUNTER, 'increment', ['linked'])).toEqual([BigInt(i)])
    expect(otherStore.stats().calls).toBe(0)

    // unlinked (each node calls its own counter, local first): open may go to either store, and
    // increment must follow the bucket handle to the store that opened it, never resource-lost
    const before = otherStore.stats().calls
    for (let i = 0; i < 20; i++) await free.call(COUNTER, 'increment', ['free'])
    expect(otherStore.stats().calls).toBeGreaterThan(before)
  }, 60_000)
})
