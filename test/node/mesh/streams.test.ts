import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { MeshNode } from '../../../node/index.ts'
import { nodeInternals } from '../../../node/node.ts'
import { WRPC_PROTOCOL } from '../../../node/libp2p.ts'
import { streamStorm } from '../libp2p/stream-storm.ts'
import { bootstrapOf, createMesh, demoHost, eventually } from '../../support/mesh.ts'
import type { Mesh } from '../../support/mesh.ts'

// Issue 12, item 1: a node died from one stream whose opening and reset arrived in one chunk.
// Here a client opens and resets streams to a node in every state and order, over TCP, with the
// fast path and the stock libp2p path on either side; the node must neither throw nor stop serving.

let mesh: Mesh
let uncaught: unknown[]
const onUncaught = (err: unknown): void => { uncaught.push(err) }

beforeEach(async () => {
  uncaught = []
  process.on('uncaughtException', onUncaught)
  process.on('unhandledRejection', onUncaught)
  mesh = await createMesh({ transport: 'tcp', listen: ['/ip4/127.0.0.1/tcp/0'], peering: false })
})

afterEach(async () => {
  await mesh?.stop()
  process.off('uncaughtException', onUncaught)
  process.off('unhandledRejection', onUncaught)
})

/** Streams of the wRPC protocol (or not negotiated yet) the node still holds. */
function openStreams (node: MeshNode): number {
  let n = 0
  for (const c of nodeInternals(node).libp2p.getConnections()) for (const s of c.streams) if (s.protocol === WRPC_PROTOCOL || s.protocol === '') n++
  return n
}

describe('a node survives streams opened and reset in every state and order', () => {
  it.each([
    { victimFast: true, clientFast: true },
    { victimFast: true, clientFast: false },
    { victimFast: false, clientFast: true },
    { victimFast: false, clientFast: false }
  ])('node fast path $victimFast, client fast path $clientFast', async ({ victimFast, clientFast }) => {
    const logged: string[] = []
    const victim = await mesh.add({ fastPath: victimFast })
    victim.serve(demoHost(logged))
    const client = await mesh.add({ fastPath: clientFast, bootstrap: bootstrapOf(victim) })
    await eventually('the client to know the node', () => client.servers('local:demo/host').length === 1)
    await client.call('local:demo/host', 'log', ['before'])

    await streamStorm(nodeInternals(client).libp2p, nodeInternals(victim).libp2p.peerId)
    await eventually('the node to let go of every stream of the storm', () => openStreams(victim) === 0, 20_000)

    expect(uncaught).toEqual([])
    await client.call('local:demo/host', 'log', ['after'])
    expect(logged).toContain('after')
    const errors = victim.stats().streamErrors
    if (victimFast) {
      // the storm's same-chunk resets, each dropped before an answer; nothing failed unexpectedly
      expect(errors['reset-before-answer']).toBeGreaterThan(0)
      expect(Object.keys(errors)).toEqual(['reset-before-answer'])
    } else {
      // stock libp2p negotiates every stream itself, and handles their resets itself
      expect(errors).toEqual({})
    }
  }, 60_000)
})
