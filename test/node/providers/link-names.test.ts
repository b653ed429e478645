// Named links on the mesh: a component that imports wasmcloud:bus/lattice picks, at run time, which of two linked key-value stores its calls reach.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ensureExamples } from '../../../examples/build.ts'
import { createProvider } from '../../../node/providers/sdk.ts'
import type { Provider } from '../../../node/providers/sdk.ts'
import { ATOMICS, STORE, createKeyvalueModule } from '../../../node/providers/keyvalue/index.ts'
import { parseLink, printLink } from '../../../node/links.ts'
import { bootstrapOf, createMesh, eventually } from '../../support/mesh.ts'
import type { Mesh } from '../../support/mesh.ts'

const PROBE = 'wasmesh:examples/host-probe'

describe('link names (wasmcloud:bus/lattice set-link-name)', () => {
  let mesh: Mesh
  let paths: Record<string, string>
  const providers: Provider[] = []

  beforeAll(async () => {
    paths = await ensureExamples({ names: ['host-ifaces'] })
    mesh = await createMesh()
  }, 120_000)

  afterAll(async () => {
    await mesh?.stop()
    await Promise.all(providers.map(async p => { await p.stop() }))
  })

  it('parses and prints a link\'s name; default is no name', () => {
    expect(parseLink('app:wasi:keyvalue#cache=tier=memory')).toEqual({ component: 'app', target: 'wasi:keyvalue', labels: { tier: 'memory' }, name: 'cache' })
    expect(parseLink('app:wasi:keyvalue#default=tier=disk')).toEqual({ component: 'app', target: 'wasi:keyvalue', labels: { tier: 'disk' } })
    expect(printLink(parseLink('app:wasi:keyvalue/store@0.2.0-draft#cache=tier=memory'))).toBe('app:wasi:keyvalue/store@0.2.0-draft#cache=tier=memory')
    for (const bad of ['app:wasi:keyvalue#=tier=x', 'app:wasi:keyvalue#no spaces=tier=x', `app:wasi:keyvalue#${'n'.repeat(65)}=tier=x`, 'app:wasi:keyvalue#a#b=tier=x']) {
      expect(() => parseLink(bad), bad).toThrow(expect.objectContaining({ code: 'invalid-link' }))
    }
  })

  it('routes each call through the link the instance named, and refuses a name no link has', async () => {
    const hub = await mesh.add()
    const disk = await mesh.add({ bootstrap: bootstrapOf(hub), labels: { tier: 'kv-disk' } })
    const memory = await mesh.add({ bootstrap: bootstrapOf(hub), labels: { tier: 'kv-memory' } })
    const diskStore = await createProvider(createKeyvalueModule(), { config: { backend: 'memory' } })
    const memoryStore = await createProvider(createKeyvalueModule(), { config: { backend: 'memory' } })
    for (const p of [diskStore, memoryStore]) { await p.start(); providers.push(p) }
    disk.serve(diskStore.service)
    memory.serve(memoryStore.service)
    const app = await mesh.add({ bootstrap: bootstrapOf(hub) })
    await app.load({
      source: paths['host-ifaces'],
      links: [
        { target: 'wasi:keyvalue', labels: { tier: 'kv-disk' } },
        { target: 'wasi:keyvalue', labels: { tier: 'kv-memory' }, name: 'cache' }
      ]
    })
    await eventually('both stores known', () => app.servers(STORE).length === 2 && app.servers(ATOMICS).length === 2)

    expect(await app.call(PROBE, 'increment-via', ['default', 'k'])).toEqual([1n])
    expect(await app.call(PROBE, 'increment-via', ['default', 'k'])).toEqual([2n])
    expect(memoryStore.stats().calls).toBe(0)
    // the other store has a counter of its own
    expect(await app.call(PROBE, 'increment-via', ['cache', 'k'])).toEqual([1n])
    expect(memoryStore.stats().calls).toBeGreaterThan(0)
    expect(await app.call(PROBE, 'increment-via', ['default', 'k'])).toEqual([3n])

    // a name without a link must not fall back to any store
    const err = await app.call(PROBE, 'increment-via', ['archive', 'k']).then(() => null, (e: unknown) => e as { code: string, message: string })
    expect(err?.code).toBe('unresolved-import')
    expect(err?.message).toContain('link name "archive"')
    expect(await app.call(PROBE, 'increment-via', ['cache', 'k'])).toEqual([2n])
  }, 120_000)
})
