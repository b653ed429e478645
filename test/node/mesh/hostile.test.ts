import { randomUUID } from 'node:crypto'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import type { Message } from '@libp2p/gossipsub'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { advertTopic, encodeAdvert, encodeAdvertList, encodeRelayedList, encodeSignedAdvert } from '../../../protocol/advert.ts'
import type { Advert } from '../../../protocol/advert.ts'
import { encodeOpening } from '../../../protocol/frame.ts'
import { parseWit } from '../../../protocol/wit/index.ts'
import { defaultAdvertIntakeLimits } from '../../../node/adverts.ts'
import { createMeshLibp2p, WRPC_PROTOCOL } from '../../../node/libp2p.ts'
import type { MeshLibp2p } from '../../../node/libp2p.ts'
import type { LocalService, MeshNode } from '../../../node/index.ts'
import { bootstrapOf, createMesh, eventually, fast, whoamiService } from '../../support/mesh.ts'
import type { Mesh } from '../../support/mesh.ts'
import { nodeInternals } from '../../../node/node.ts'

let mesh: Mesh
let attacker: MeshLibp2p
let attackerKey: PrivateKey
let victim: MeshNode
let client: MeshNode

beforeEach(async () => {
  mesh = await createMesh({ limits: { maxInboundStreams: 16 } })
  victim = await mesh.add()
  victim.serve(whoamiService('test:host', 'api', '1.0.0', 'victim'))
  client = await mesh.add({ bootstrap: bootstrapOf(victim) })
  await eventually('the client to know the victim', () => client.servers('test:host/api').length === 1)
  attackerKey = await generateKeyPair('Ed25519')
  attacker = await createMeshLibp2p({ privateKey: attackerKey, transport: 'memory' })
  await attacker.start()
  await attacker.dial(nodeInternals(victim).libp2p.getMultiaddrs()[0])
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

function advertOf (peer: string, seq: bigint, over: Partial<Advert> = {}): Advert {
  return {
    peer,
    seq,
    lattice: 'default',
    addresses: [],
    labels: {},
    exports: [{ iface: 'test:evil/api@1.0.0', digest: 'a'.repeat(64), capacity: 1, load: 0 }],
    ttlMs: 60_000,
    withdrawn: false,
    ...over
  }
}

/** `n` adverts of fresh keys serving `iface`, each at a closed memory address, asking to be kept for 2^32-1 ms. */
const sybilKeys = new Map<string, PrivateKey>()

async function sybils (n: number, iface: string): Promise<{ peers: Set<string>, envelopes: Uint8Array[] }> {
  const peers = new Set<string>()
  const envelopes: Uint8Array[] = []
  for (let i = 0; i < n; i++) {
    const key = await generateKeyPair('Ed25519')
    const peer = peerIdFromPrivateKey(key).toString()
    sybilKeys.set(peer, key)
    peers.add(peer)
    envelopes.push(await signedBy(key, advertOf(peer, 1n, {
      addresses: [`/memory/${randomUUID()}/p2p/${peer}`],
      exports: [{ iface, digest: 'b'.repeat(64), capacity: 1000, load: 0 }],
      ttlMs: 0xffff_ffff
    })))
  }
  return { peers, envelopes }
}

/** The attacker answers sync requests (1.0.0: no ages) with `reply`. */
async function answerSyncWith (reply: Uint8Array, protocol = '/wasmesh/default/sync/1.0.0'): Promise<void> {
  await attacker.handle(protocol, async (stream) => {
    for await (const _ of stream) { /* the request is empty */ }
    stream.send(reply)
    await stream.close()
  })
}

async function subscribedToVictim (): Promise<string> {
  const topic = advertTopic('default')
  attacker.services.pubsub.subscribe(topic)
  await eventually('the attacker to see the victim subscribed', () => attacker.services.pubsub.getSubscribers(topic).some(p => p.equals(nodeInternals(victim).libp2p.peerId)))
  return topic
}

describe('a node under attack keeps serving everyone else', () => {
  it('drops adverts that claim another peer, carry a bad signature, or are garbage', async () => {
    const topic = advertTopic('default')
    attacker.services.pubsub.subscribe(topic)
    await eventually('the attacker to see the victim subscribed', () => attacker.services.pubsub.getSubscribers(topic).some(p => p.equals(nodeInternals(victim).libp2p.peerId)))
    const key = await generateKeyPair('Ed25519')
    // claims to be the client: gossipsub says the attacker signed it
    await attacker.services.pubsub.publish(topic, await signedBy(key, advertOf(client.peerId, 1n << 60n)))
    // its own id, signed by some other key
    await attacker.services.pubsub.publish(topic, await signedBy(key, advertOf(attacker.peerId.toString(), 1n)))
    await attacker.services.pubsub.publish(topic, new Uint8Array([1, 2, 3, 4, 5]))
    const dropped = victim.stats().adverts.dropped
    await eventually('three drops', () => (dropped.spoofed ?? 0) >= 1 && (dropped['bad-signature'] ?? 0) >= 1 && Object.values(dropped).reduce((a, b) => a + b, 0) >= 3)
    expect(victim.servers('test:evil/api')).toEqual([])
    expect(victim.peer(client.peerId)?.exports ?? []).toEqual([])
    await stillServes()
  }, 60_000)

  it('answers garbage and oversized frames on a wRPC stream with an error, and serves others', async () => {
    const answer = async (bytes: Uint8Array[]): Promise<string> => {
      const stream = await attacker.dialProtocol(nodeInternals(victim).libp2p.peerId, WRPC_PROTOCOL)
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
      try { held.push(await attacker.dialProtocol(nodeInternals(victim).libp2p.peerId, WRPC_PROTOCOL)) } catch { break }
    }
    // each stream is open and silent; past maxInboundStreams (16) the victim resets the rest
    await eventually('the excess streams to be reset', () => held.filter(s => s.status === 'reset' || s.status === 'aborted' || s.status === 'closed').length >= held.length - 16)
    await stillServes()
    for (const s of held) s.abort(new Error('done'))
  }, 60_000)

  it('keeps serving calls after one sync reply hands a joiner 300 adverts of fresh keys at closed ports', async () => {
    const { peers, envelopes } = await sybils(300, 'test:host/api@1.0.0')
    await answerSyncWith(encodeAdvertList(envelopes))
    const joiner = await mesh.add({ bootstrap: [...bootstrapOf(victim), ...attacker.getMultiaddrs().map(a => a.toString())] })
    await eventually('both syncs', () => joiner.stats().adverts.synced >= 2 && joiner.servers('test:host/api').some(s => s.peer === victim.peerId))
    const held = joiner.peers().filter(p => peers.has(p.peer))
    // one reply adds at most maxNewPeersPerSync peers, each kept no longer than 3 x advertTtlMs, none of them passed on
    expect(held.length).toBeLessThanOrEqual(defaultAdvertIntakeLimits.maxNewPeersPerSync)
    expect(joiner.stats().adverts.dropped['sync-new-peers']).toBe(300 - held.length)
    expect(Math.max(...held.map(p => p.expiresInMs ?? 0))).toBeLessThanOrEqual(3 * fast.advertTtlMs)
    expect(held.every(p => !p.plausible && p.relayedBy === attacker.peerId.toString())).toBe(true)

    const outcomes: Record<string, number> = {}
    for (let i = 0; i < 20; i++) {
      let outcome = 'ok'
      try {
        expect(await joiner.call('test:host/api', 'whoami', [])).toEqual(['victim'])
      } catch (err) {
        outcome = String((err as { code?: string }).code)
      }
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1
    }
    expect(outcomes).toEqual({ ok: 20 })
    expect((await joiner.describe('test:host/api', 'whoami')).results).toEqual([{ kind: 'string' }])
  }, 120_000)

  it('honours the age a relay gives a record: its TTL runs from when the relay received it', async () => {
    const key = await generateKeyPair('Ed25519')
    const peer = peerIdFromPrivateKey(key).toString()
    const ttlMs = 10_000
    const envelope = await signedBy(key, advertOf(peer, 1n, { ttlMs }))
    await answerSyncWith(encodeRelayedList([{ ageMs: 9_500, envelope }]), '/wasmesh/default/sync/1.1.0')
    const joiner = await mesh.add({ timings: { ...fast, advertTtlMs: ttlMs }, bootstrap: attacker.getMultiaddrs().map(a => a.toString()) })
    const view = await eventually('the relayed record', () => joiner.peer(peer))
    expect(view.expiresInMs).toBeLessThanOrEqual(500)
    expect(view.relayedBy).toBe(attacker.peerId.toString())
  }, 60_000)

  it('takes at most maxAdvertsPerPeerPerMinute new adverts a minute from one peer, and counts the rest', async () => {
    const perMinute = 20
    const limited = await mesh.add({ advertLimits: { maxAdvertsPerPeerPerMinute: perMinute } })
    await attacker.dial(nodeInternals(limited).libp2p.getMultiaddrs()[0])
    const topic = advertTopic('default')
    attacker.services.pubsub.subscribe(topic)
    await eventually('the attacker to see the node subscribed', () => attacker.services.pubsub.getSubscribers(topic).some(p => p.equals(nodeInternals(limited).libp2p.peerId)))
    const self = attacker.peerId.toString()
    const sent = 60
    for (let seq = 1; seq <= sent; seq++) await attacker.services.pubsub.publish(topic, await signedBy(attackerKey, advertOf(self, BigInt(seq))))
    const dropped = limited.stats().adverts.dropped
    // the bucket holds 20 and refills at one every 3 s: most of a burst of 60 cannot get in
    await eventually('the excess dropped', () => (dropped['rate-limited'] ?? 0) >= sent - perMinute - 10, 30_000)
    expect(limited.peer(self)).toBeDefined()
  }, 60_000)

  it('takes at most maxNewPeersPerForwarderPerMinute unknown peers a minute by gossip through one forwarder, whatever keys signed them', async () => {
    const limited = await mesh.add({ advertLimits: { maxNewPeersPerForwarderPerMinute: 20 } })
    // what gossipsub hands the validator once each message's signature held: every sybil signs with its own key
    const validate = nodeInternals(limited).libp2p.services.pubsub.topicValidators.get(advertTopic('default'))!
    const arrive = async (forwarder: string, envelope: Uint8Array, from: string): Promise<string> =>
      await validate(peerIdFromString(forwarder), { type: 'signed', from: peerIdFromString(from), topic: advertTopic('default'), data: envelope } as unknown as Message)
    const { peers, envelopes } = await sybils(50, 'test:sybil/api@1.0.0')
    const authors = [...peers]
    const results: string[] = []
    for (let i = 0; i < envelopes.length; i++) results.push(await arrive(attacker.peerId.toString(), envelopes[i], authors[i]))
    expect(results.filter(r => r === TopicValidatorResult.Accept)).toHaveLength(20)
    expect(limited.stats().adverts.dropped['forwarder-new-peers']).toBe(30)
    expect(authors.filter(p => limited.peer(p) !== undefined)).toHaveLength(20)
    // a peer already known is not new: its next advert through the same forwarder is taken
    const known = authors.find(p => limited.peer(p) !== undefined)!
    const knownKey = sybilKeys.get(known)!
    expect(await arrive(attacker.peerId.toString(), await signedBy(knownKey, advertOf(known, 2n)), known)).toBe(TopicValidatorResult.Accept)
    // another forwarder has a budget of its own
    const other = await sybils(1, 'test:sybil/api@1.0.0')
    expect(await arrive(client.peerId, other.envelopes[0], [...other.peers][0])).toBe(TopicValidatorResult.Accept)
  })

  it('does not count another lattice\'s adverts as received: they are dropped as other-lattice', async () => {
    const topic = await subscribedToVictim()
    const self = attacker.peerId.toString()
    await attacker.services.pubsub.publish(topic, await signedBy(attackerKey, advertOf(self, 1n, { lattice: 'elsewhere' })))
    await eventually('the drop', () => (victim.stats().adverts.dropped['other-lattice'] ?? 0) >= 1)
    expect(victim.peer(self)).toBeUndefined()
  }, 60_000)

  it('still applies a peer\'s adverts after it sent a 2 MiB gossip message, and counts that message', async () => {
    const topic = await subscribedToVictim()
    const self = attacker.peerId.toString()
    await attacker.services.pubsub.publish(topic, new Uint8Array(2 * 1024 * 1024))
    await eventually('the unreadable RPC counted', () => (victim.stats().adverts.dropped['gossip-unreadable'] ?? 0) >= 1)
    // its later adverts, heartbeat after heartbeat, are applied again
    let seq = 0n
    await eventually('a later valid advert applied', async () => {
      await attacker.services.pubsub.publish(topic, await signedBy(attackerKey, advertOf(self, ++seq))).catch(() => {})
      return victim.peer(self) !== undefined
    })
    expect(victim.servers('test:evil/api').map(s => s.peer)).toEqual([self])
    await stillServes()
  }, 60_000)
})

describe('describe answers', () => {
  it('a rogue that advertises an honest server\'s digest with other WIT does not change how calls to the honest server are typed', async () => {
    const honest = await mesh.add({ bootstrap: bootstrapOf(victim) })
    const real = whoamiService('test:desc', 'api', '1.0.0', 'honest')
    honest.serve(real)
    const roguesWit = 'package test:desc@1.0.0;\n\ninterface api {\n  whoami: func() -> u32;\n}\n'
    const rogue = await mesh.add({ bootstrap: bootstrapOf(victim) })
    const forged: LocalService = {
      digest: real.digest,
      name: 'rogue',
      interfaces: [parseWit({ 'r.wit': roguesWit }).findInterface('test:desc/api@1.0.0')!],
      wit: roguesWit,
      capacity: 8,
      call: async () => [7]
    }
    rogue.serve(forged)
    await eventually('both servers known', () => client.servers('test:desc/api').length === 2)
    // the rogue answers first, with its own WIT
    expect(await client.call('test:desc/api', 'whoami', [], { target: rogue.peerId })).toEqual([7])
    for (let i = 0; i < 3; i++) expect(await client.call('test:desc/api', 'whoami', [], { target: honest.peerId })).toEqual(['honest'])
  }, 60_000)
})
