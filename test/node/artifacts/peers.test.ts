import type { Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { ARTIFACT_PROTOCOL, createOciClient, parseOciRef, sha256Hex } from '../../../node/artifacts/index.ts'
import type { MeshNode } from '../../../node/index.ts'
import { nodeInternals } from '../../../node/node.ts'
import { buildArith } from '../runtime/fixtures.ts'
import { bootstrapOf, createMesh, eventually } from '../../support/mesh.ts'
import type { Mesh } from '../../support/mesh.ts'
import { countingProxy, describeRegistry, startRegistry } from '../../support/oci-registry.ts'
import type { CountingProxy, TestRegistry } from '../../support/oci-registry.ts'

const CALC = 'local:test/calc@0.1.0'

let mesh: Mesh | undefined
afterEach(async () => { await mesh?.stop(); mesh = undefined })

async function knowsHolder (node: MeshNode, digest: string, count = 1): Promise<void> {
  await eventually(`${count} peer(s) advertising ${digest.slice(0, 8)}`, () => node.peers().filter(p => !p.local && p.exports.some(e => e.digest === digest)).length >= count)
}

describeRegistry('a mesh pulls an image from the registry once', () => {
  let registry: TestRegistry
  let proxy: CountingProxy
  beforeAll(async () => { registry = await startRegistry(); proxy = await countingProxy(registry.host) }, 30_000)
  afterAll(async () => { await proxy?.stop(); await registry?.stop() })

  it('node A pulls from the registry; B, C (at its start) and D fetch the bytes from peers (the registry serves the blob once)', async () => {
    const bytes = await buildArith()
    const digest = sha256Hex(bytes)
    const ref = `${proxy.host}/test/arith:1.0`
    await createOciClient({ maxComponentBytes: 64 << 20 }).push(parseOciRef(`${registry.host}/test/arith:1.0`), bytes)
    mesh = await createMesh()
    const a = await mesh.add()
    const loaded = await a.load({ source: ref })
    expect(loaded).toMatchObject({ digest, name: 'arith' })
    expect(a.stats().artifacts.fetched).toEqual({ registry: 1 })
    // B loads after joining; C is started with the reference (its start waits for the bootstrap peers' adverts)
    const b = await mesh.add({ bootstrap: bootstrapOf(a) })
    await knowsHolder(b, digest)
    await b.load({ source: ref })
    const c = await mesh.add({ bootstrap: bootstrapOf(a), components: [{ source: ref }] })
    expect(c.components().map(x => x.digest)).toEqual([digest])
    const d = await mesh.add({ bootstrap: bootstrapOf(b) })
    await knowsHolder(d, digest, 3)
    await d.load({ source: `sha256:${digest}`, name: 'arith' })
    expect(b.stats().artifacts.fetched).toEqual({ peer: 1 })
    expect(c.stats().artifacts.fetched).toEqual({ peer: 1 })
    expect(d.stats().artifacts.fetched).toEqual({ peer: 1 })
    const served = [a, b, c].reduce((n, x) => n + x.stats().artifacts.server.served, 0)
    expect(served).toBe(3)
    expect(proxy.blobGets(digest)).toBe(1)
    expect(await d.call(CALC, 'echo', ['from a peer\'s bytes'], { target: d.peerId })).toEqual(['from a peer\'s bytes'])
  })
})

/** Makes `node` answer artifact requests with what `answer` writes instead of its cache. */
async function lie (node: MeshNode, answer: (stream: Stream) => Promise<void>): Promise<void> {
  const { libp2p } = nodeInternals(node)
  await libp2p.unhandle(ARTIFACT_PROTOCOL)
  await libp2p.handle(ARTIFACT_PROTOCOL, async stream => {
    for await (const _ of stream) { /* the request */ }
    try { await answer(stream) } catch { stream.abort(new Error('done')) }
  })
}

function header (status: number, size: bigint): Uint8Array {
  const h = new Uint8Array(9)
  h[0] = status
  new DataView(h.buffer).setBigUint64(1, size)
  return h
}

async function sendAll (stream: Stream, ...parts: Uint8Array[]): Promise<void> {
  for (const p of parts) if (!stream.send(p)) await stream.onDrain()
  await stream.close()
}

describe('peers serving artifacts', () => {
  it('answers an unknown digest with not-found; the asker gets artifact-not-found', async () => {
    mesh = await createMesh()
    const a = await mesh.add()
    const b = await mesh.add({ bootstrap: bootstrapOf(a) })
    await expect(b.load({ source: `sha256:${'7'.repeat(64)}` })).rejects.toMatchObject({ code: 'artifact-not-found' })
  })

  for (const [what, code, answer] of [
    ['wrong bytes', 'digest-mismatch', async (s: Stream, bytes: Uint8Array) => { const w = new Uint8Array(bytes); w[10] ^= 0xff; await sendAll(s, header(0, BigInt(w.byteLength)), w) }],
    ['truncated bytes', 'artifact-protocol', async (s: Stream, bytes: Uint8Array) => { await sendAll(s, header(0, BigInt(bytes.byteLength)), bytes.subarray(0, bytes.byteLength - 10)) }],
    ['more bytes than declared', 'artifact-protocol', async (s: Stream, bytes: Uint8Array) => { await sendAll(s, header(0, BigInt(bytes.byteLength)), bytes, new Uint8Array(5)) }],
    ['a huge size', 'artifact-too-large', async (s: Stream) => { await sendAll(s, header(0, 1n << 60n), new Uint8Array(1000)) }],
    ['a garbage status', 'artifact-protocol', async (s: Stream) => { await sendAll(s, Uint8Array.of(7, 1, 2, 3)) }],
    ['half a header', 'artifact-protocol', async (s: Stream) => { await sendAll(s, Uint8Array.of(0, 0, 0)) }],
    // the header and a little, then silence until the asker gives up and closes
    ['a stall after the header', 'artifact-timeout', async (s: Stream, bytes: Uint8Array) => {
      s.send(header(0, BigInt(bytes.byteLength)))
      s.send(bytes.subarray(0, 100))
      await new Promise<void>(resolve => { s.addEventListener('close', () => { resolve() }) })
    }]
  ] as const) {
    it(`refuses ${what} from a peer (${code}) and takes the bytes from another`, async () => {
      const bytes = await buildArith()
      const digest = sha256Hex(bytes)
      mesh = await createMesh()
      const rogue = await mesh.add()
      await rogue.load({ source: bytes, name: 'arith' })
      await lie(rogue, async s => { await answer(s, bytes) })
      const victim = await mesh.add({ bootstrap: bootstrapOf(rogue), artifactLimits: { artifactIdleTimeoutMs: 300 } })
      await knowsHolder(victim, digest)
      // only the rogue has it: refused, and nothing is loaded or cached
      await expect(victim.load({ source: `sha256:${digest}` })).rejects.toMatchObject({ code: 'artifact-not-found' })
      expect(victim.stats().artifacts.peerFailures).toEqual({ [code]: 1 })
      expect(victim.components()).toEqual([])
      expect(victim.stats().artifacts.cache.entries).toBe(0)
      // an honest peer has it too: the victim gets the bytes, whichever it asks first
      const honest = await mesh.add({ bootstrap: bootstrapOf(rogue) })
      await honest.load({ source: bytes, name: 'arith' })
      await knowsHolder(victim, digest, 2)
      const loaded = await victim.load({ source: `sha256:${digest}` })
      expect(loaded.digest).toBe(digest)
      expect(victim.stats().artifacts.fetched).toEqual({ peer: 1 })
    })
  }

  it('closes on a garbage request, and answers busy past maxArtifactTransfersPerPeer', async () => {
    const bytes = await buildArith()
    mesh = await createMesh()
    const server = await mesh.add({ artifactLimits: { maxArtifactTransfersPerPeer: 1 } })
    await server.load({ source: bytes, name: 'arith' })
    const client = await mesh.add()
    await client.dial(server.addresses()[0])
    const { libp2p } = nodeInternals(client)
    const peer = peerIdFromString(server.peerId)
    const read = async (s: Stream): Promise<number[]> => { const got: number[] = []; try { for await (const c of s) got.push(...(c instanceof Uint8Array ? c : c.subarray())) } catch {} return got }

    const garbage = await libp2p.dialProtocol(peer, ARTIFACT_PROTOCOL)
    await sendAll(garbage, new TextEncoder().encode('GET /etc/passwd please'))
    expect(await read(garbage)).toEqual([])
    const huge = await libp2p.dialProtocol(peer, ARTIFACT_PROTOCOL)
    huge.send(new Uint8Array(10_000))
    expect(await read(huge)).toEqual([])
    await eventually('both counted as malformed', () => server.stats().artifacts.server.malformed === 2)

    // one transfer held open (its request never finished), then a second one: busy
    const held = await libp2p.dialProtocol(peer, ARTIFACT_PROTOCOL)
    held.send(new TextEncoder().encode('sha256:'))
    await eventually('the held transfer to count', async () => {
      const second = await libp2p.dialProtocol(peer, ARTIFACT_PROTOCOL)
      await sendAll(second, new TextEncoder().encode(`sha256:${sha256Hex(bytes)}`))
      return (await read(second))[0] === 2
    })
    expect(server.stats().artifacts.server.busy).toBeGreaterThanOrEqual(1)
    held.abort(new Error('test done'))
  })
})
