import { generateKeyPair } from '@libp2p/crypto/keys'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { advertTopic, encodeAdvert, encodeSignedAdvert } from '../../../protocol/advert.ts'
import type { Advert } from '../../../protocol/advert.ts'
import { encodeOpening } from '../../../protocol/frame.ts'
import { createMeshLibp2p, WRPC_PROTOCOL } from '../../../node/libp2p.ts'
import type { MeshLibp2p } from '../../../node/libp2p.ts'
import type { MeshNode } from '../../../node/index.ts'
import { bootstrapOf, createMesh, eventually, whoamiService } from '../../support/mesh.ts'
import type { Mesh } from '../../support/mesh.ts'

let mesh: Mesh
let attacker: MeshLibp2p
let victim: MeshNode
let client: MeshNode

beforeEach(async () => {
  mesh = await createMesh({ limits: { maxInboundStreams: 16 } })
  victim = await mesh.add()
  victim.serve(whoamiService('test:host', 'api', '1.0.0', 'victim'))
  client = await mesh.add({ bootstrap: bootstrapOf(victim) })
  await eventually('the client to know the victim', () => client.registry.servers('test:host/api').length === 1)
  attacker = await createMeshLibp2p({ privateKey: await generateKeyPair('Ed25519'), transport: 'memory' })
  await attacker.start()
  await attacker.dial(victim.libp2p.getMultiaddrs()[0])
})

afterEach(async () => {
  await attacker?.stop()
  await mesh?.stop()
})

async function stillServes (): Promise<void> {
  expect(await client.call('test:host/api', 'whoami', [])).toEqual(['victim'])
}

async function signedBy (key: Awaited<ReturnType<typeof generateKeyPair>>, advert: Advert): Promise<Uint8Array> {
  const bytes = encodeAdvert(advert)
  return encodeSignedAdvert({ advert: bytes, signature: await key.sign(bytes) })
}

function advertOf (peer: string, seq: bigint): Advert {
  return {
    peer,
    seq,
    lattice: 'default',
    addresses: [],
    labels: {},
    exports: [{ iface: 'test:evil/api@1.0.0', digest: 'a'.repeat(64), capacity: 1, load: 0 }],
    ttlMs: 60_000,
    withdrawn: false
  }
}

describe('a node under attack keeps serving everyone else', () => {
  it('drops adverts that claim another peer, carry a bad signature, or are garbage', async () => {
    const topic = advertTopic('default')
    attacker.services.pubsub.subscribe(topic)
    await eventually('the attacker to see the victim subscribed', () => attacker.services.pubsub.getSubscribers(topic).some(p => p.equals(victim.libp2p.peerId)))
    const key = await generateKeyPair('Ed25519')
    // claims to be the client: gossipsub says the attacker signed it
    await attacker.services.pubsub.publish(topic, await signedBy(key, advertOf(client.peerId, 1n << 60n)))
    // its own id, signed by some other key
    await attacker.services.pubsub.publish(topic, await signedBy(key, advertOf(attacker.peerId.toString(), 1n)))
    await attacker.services.pubsub.publish(topic, new Uint8Array([1, 2, 3, 4, 5]))
    const dropped = victim.stats().adverts.dropped
    await eventually('three drops', () => (dropped.spoofed ?? 0) >= 1 && (dropped['bad-signature'] ?? 0) >= 1 && Object.values(dropped).reduce((a, b) => a + b, 0) >= 3)
    expect(victim.registry.servers('test:evil/api')).toEqual([])
    expect(victim.registry.peer(client.peerId)?.exports ?? []).toEqual([])
    await stillServes()
  }, 60_000)

  it('answers garbage and oversized frames on a wRPC stream with an error, and serves others', async () => {
    const answer = async (bytes: Uint8Array[]): Promise<string> => {
      const stream = await attacker.dialProtocol(victim.libp2p.peerId, WRPC_PROTOCOL)
      for (const b of bytes) stream.send(b)
      await stream.close()
      const parts: Uint8Array[] = []
      for await (const c of stream) parts.push(c instanceof Uint8Array ? c : c.subarray())
      return new TextDecoder().decode(Buffer.concat(parts))
    }
    // not even the version byte is right
    expect(await answer([Uint8Array.of(7, 1, 2, 3)])).toContain('invalid-version')
    // a frame that declares 2 GiB of data, refused before anything is allocated
    const opening = encodeOpening({ instance: 'test:host/api@1.0.0', name: 'whoami' }, new Uint8Array(0))
    expect(await answer([opening, Uint8Array.of(0x00, 0x80, 0x80, 0x80, 0x80, 0x08)])).toContain('limit-exceeded')
    await stillServes()
  }, 60_000)

  it('caps streams one peer can hold open, and still serves others', async () => {
    const held: Awaited<ReturnType<MeshLibp2p['dialProtocol']>>[] = []
    for (let i = 0; i < 40; i++) {
      try { held.push(await attacker.dialProtocol(victim.libp2p.peerId, WRPC_PROTOCOL)) } catch { break }
    }
    // each stream is open and silent; past maxInboundStreams (16) the victim resets the rest
    await eventually('the excess streams to be reset', () => held.filter(s => s.status === 'reset' || s.status === 'aborted' || s.status === 'closed').length >= held.length - 16)
    await stillServes()
    for (const s of held) s.abort(new Error('done'))
  }, 60_000)
})
