// A component's wasi:blobstore import goes where its links say: two builtin:blobstore servers, the link picks one; real HTTP through the node's gateway.
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ensureExamples } from '../../../examples/build.ts'
import type { MeshNode } from '../../../node/index.ts'
import { BLOBSTORE, createBlobstoreModule } from '../../../node/providers/blobstore/index.ts'
import { createProvider, type Provider } from '../../../node/providers/sdk.ts'
import { bootstrapOf, createMesh, eventually, type Mesh } from '../../support/mesh.ts'
import { scratchDir, type ScratchDir } from '../../support/scratch.ts'

describe('wasi:blobstore through links', () => {
  let mesh: Mesh
  let dir: ScratchDir
  let client: MeshNode
  const providers: Provider[] = []
  const root = (tier: string): string => join(dir.path, tier)

  beforeAll(async () => {
    const paths = await ensureExamples({ names: ['http-files'] })
    dir = await scratchDir('blobstore-links')
    mesh = await createMesh()
    const stores: MeshNode[] = []
    for (const tier of ['a', 'b']) {
      const p = await createProvider(createBlobstoreModule(), { config: { root: root(tier), fsync: 'false' } })
      await p.start()
      providers.push(p)
      const node = await mesh.add({ labels: { tier }, ...(stores[0] !== undefined ? { bootstrap: bootstrapOf(stores[0]) } : {}) })
      node.serve(p.service)
      stores.push(node)
    }
    client = await mesh.add({ bootstrap: bootstrapOf(stores[0]), http: { listen: '127.0.0.1:0' } })
    await eventually('both stores known', () => client.servers(BLOBSTORE).length === 2)
    // the link names the package the component imports, as a wasmCloud link of wasi:blobstore does
    await client.load({ source: paths['http-files'], name: 'files', isolation: 'inline', links: [{ target: 'wasi:blobstore', labels: { tier: 'b' } }] })
  }, 300_000)

  afterAll(async () => {
    await mesh?.stop()
    for (const p of providers) await p.stop()
    await dir?.remove()
  })

  it('stores every file in the linked store, never the other', async () => {
    const url = client.httpUrl() as string
    await eventually('the component serving', async () => (await fetch(`${url}/files`)).status === 200, { timeoutMs: 30_000, intervalMs: 200 })
    for (let i = 0; i < 6; i++) {
      const r = await fetch(`${url}/files/f${i}`, { method: 'PUT', body: `file ${i}` })
      expect(await r.text()).toBe(`stored f${i}: 6 bytes\n`)
    }
    expect(await (await fetch(`${url}/files`)).text()).toBe('f0\nf1\nf2\nf3\nf4\nf5\n')
    expect(existsSync(join(root('b'), 'files', 'f5'))).toBe(true)
    expect(existsSync(join(root('a'), 'files'))).toBe(false)
  }, 60_000)
})
