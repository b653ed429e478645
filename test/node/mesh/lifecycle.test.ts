import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ensureExamples } from '../../../examples/build.ts'
import { createNode } from '../../../node/index.ts'
import type { MeshNode, NodeInit } from '../../../node/index.ts'
import { nodeInternals } from '../../../node/node.ts'
import { silentLogger } from '../../../node/logger.ts'
import { demoHost, eventually, fast } from '../../support/mesh.ts'
import { scratchDir } from '../../support/scratch.ts'
import type { ScratchDir } from '../../support/scratch.ts'

/** The protocols this node's own code handles (libp2p's identify and ping are libp2p's). */
function ours (node: MeshNode): string[] {
  return nodeInternals(node).libp2p.getProtocols().filter(p => p.startsWith('/wasmesh/') || p.startsWith('/wrpc/')).sort()
}

const events = ['peer:update', 'peer:disconnect', 'peer:identify', 'connection:open'] as const

function listeners (node: MeshNode): number[] {
  const libp2p = nodeInternals(node).libp2p
  return events.map(e => libp2p.listenerCount(e))
}

describe('a node\'s start and stop', () => {
  let paths: Record<string, string>
  let cache: ScratchDir
  const nodes: MeshNode[] = []
  const make = async (init: NodeInit = {}): Promise<MeshNode> => {
    const node = await createNode({ transport: 'memory', timings: fast, cacheDir: cache.path, logger: silentLogger, ...init })
    nodes.push(node)
    return node
  }

  beforeAll(async () => {
    paths = await ensureExamples({ names: ['upper'] })
    cache = await scratchDir('lifecycle-test')
  }, 120_000)

  afterAll(async () => {
    await Promise.allSettled(nodes.map(async n => { await n.stop() }))
    await cache?.remove()
  })

  it('leaves no handler or listener of its own behind, and starts again: serving, advertising, its components loaded again', async () => {
    const logged: string[] = []
    const server = await make({ components: [{ source: paths.upper }] })
    server.serve(demoHost(logged))
    const before = listeners(server)
    await server.start()
    const served = ours(server)
    expect(served).toEqual(['/wasmesh/artifact/1.0.0', '/wasmesh/default/apps-push/1.0.0', '/wasmesh/default/apps-sync/1.0.0', '/wasmesh/default/describe/1.0.0', '/wasmesh/default/sync/1.0.0', '/wasmesh/default/sync/1.1.0', '/wrpc/0.0.1'])

    await server.stop()
    expect(ours(server)).toEqual([])
    expect(listeners(server)).toEqual(before)
    expect(server.components()).toEqual([])

    await server.start()
    expect(ours(server)).toEqual(served)
    expect(server.components().map(c => c.name)).toEqual(['upper'])
    const client = await make({ bootstrap: server.addresses() })
    await client.start()
    await eventually('the client to learn upper', () => client.servers('local:demo/upper').length === 1)
    expect(await client.call('local:demo/upper', 'to-upper', ['again'])).toEqual(['AGAIN'])
    expect(logged).toEqual(['again'])

    await server.stop()
    expect(ours(server)).toEqual([])
    expect(listeners(server)).toEqual(before)
  }, 60_000)

  it('undoes a start that fails: no handler left, and stop is a no-op', async () => {
    const taken = createServer()
    await new Promise<void>(resolve => taken.listen(0, '127.0.0.1', resolve))
    try {
      const port = (taken.address() as AddressInfo).port
      const node = await make({ transport: 'tcp', listen: [`/ip4/127.0.0.1/tcp/${port}`] })
      const before = listeners(node)
      await expect(node.start()).rejects.toThrow()
      expect(ours(node)).toEqual([])
      expect(listeners(node)).toEqual(before)
      await node.stop()
    } finally {
      await new Promise<void>(resolve => taken.close(() => { resolve() }))
    }
  })
})
