// Describe requests (`/wasmesh/<lattice>/describe/1.0.0`) answer the WIT of any component still loaded, also one a hot swap replaced while its calls drain.

import { readFile } from 'node:fs/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ensureExamples } from '../../examples/build.ts'
import { describeProtocol } from '../../node/index.ts'
import type { MeshNode } from '../../node/index.ts'
import { nodeInternals } from '../../node/node.ts'
import { request } from '../../node/request.ts'
import { createMesh } from '../support/mesh.ts'
import type { Mesh } from '../support/mesh.ts'

let mesh: Mesh
let server: MeshNode
let asker: MeshNode
let built: Record<string, string>

beforeAll(async () => {
  built = await ensureExamples({ names: ['hello', 'hello-quickjs'] })
  mesh = await createMesh()
  server = await mesh.add()
  asker = await mesh.add()
  await nodeInternals(asker).libp2p.dial(nodeInternals(server).libp2p.getMultiaddrs()[0])
}, 300_000)

afterAll(async () => { await mesh?.stop() })

const describeOn = async (digest: string): Promise<string> => {
  const bytes = await request(nodeInternals(asker).libp2p, nodeInternals(server).libp2p.peerId, describeProtocol(server.lattice), new TextEncoder().encode(digest), { maxRequestBytes: 1024, maxResponseBytes: 1 << 20, timeoutMs: 5_000 })
  return new TextDecoder().decode(bytes)
}

describe('describe requests', () => {
  it('answer for a component replaced by a new version until it is unloaded, then answer empty', async () => {
    const v1 = await server.load({ source: await readFile(built.hello), name: 'greeter' })
    const v2 = await server.load({ source: await readFile(built['hello-quickjs']), name: 'greeter' })
    expect(v1.digest).not.toBe(v2.digest)
    // v2 serves now; a peer holding v1's advert still gets v1's WIT while v1 is loaded (a hot swap draining its calls)
    expect(await describeOn(v2.digest)).toContain('hello-world')
    expect(await describeOn(v1.digest)).toContain('hello-world')
    await server.unload(v1.id)
    expect(await describeOn(v1.digest)).toBe('')
    expect(await describeOn('0'.repeat(64))).toBe('')
  })
})
